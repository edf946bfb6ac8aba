import { isIP } from "node:net";
import { z } from "zod";

/**
 * What nodes fetch from the API, and nothing else: the bootscript (both of BSS's prefixes) and
 * the NoCloud documents (meta-data, user-data, vendor-data, network-config and the group files
 * vendor-data includes). The cloud-init admin subtree and every other API route stay unreachable.
 */
export const NODE_PATHS = [
  "/boot/v1/bootscript",
  "/apis/bss/boot/v1/bootscript",
  "/cloud-init/meta-data",
  "/cloud-init/user-data",
  "/cloud-init/vendor-data",
  "/cloud-init/network-config",
  "/cloud-init/*.yaml",
];

/** Printable ASCII without spaces: it travels in an HTTP header. */
const headerToken = /^[\x21-\x7e]+$/;

/**
 * The `nodeProxy` section: an HTTP port on the boot network that forwards what nodes fetch from
 * the API (iPXE boot scripts, cloud-init data) for sites where nodes cannot reach workerd.
 */
export const nodeProxyConfigSchema = z
  .object({
    /** Off unless set; `npm start` turns it on when nodes could not reach the API otherwise. */
    enabled: z.boolean().default(false),
    address: z
      .string()
      .refine((a) => isIP(a) !== 0, "must be an IP address")
      .default("0.0.0.0"),
    /** 8082 by default: the API itself defaults to 8081 on the same host. */
    port: z.number().int().min(0).max(65535).default(8082),
    /** Where the API is (workerd on the head node, or a deployed worker): http(s)://host[:port][/base]. Default in the agent: api.url. */
    apiUrl: z
      .string()
      .url()
      .refine((u) => /^https?:$/.test(new URL(u).protocol), "must be an http or https URL")
      .optional(),
    /**
     * The API's OCHAMI_PROXY_SECRET, sent in X-Ochami-Proxy-Secret with every forwarded request:
     * without it the API does not believe the X-Forwarded-For naming the node. `npm start` sets it.
     */
    secret: z.string().min(32).regex(headerToken, "must be printable ASCII without spaces").optional(),
    /** Read the secret from a file instead (keeps it out of the config). */
    secretFile: z.string().min(1).optional(),
    /**
     * The allow-list of paths forwarded (GET and HEAD only); everything else gets 404, so the boot
     * network cannot reach the admin APIs through this port. Exact paths; `*` stands for any
     * characters within one path segment.
     */
    paths: z
      .array(z.string().regex(/^\/[^?#]*$/, "must be a path starting with / (no query)"))
      .min(1)
      .default(NODE_PATHS),
    /**
     * Largest request body forwarded, counted as it streams however it is framed (nodes send
     * none); beyond it the request is refused with 413.
     */
    maxBodyBytes: z
      .number()
      .int()
      .min(0)
      .default(64 * 1024),
    /** Until the API's response headers arrive; then 504. */
    responseTimeoutMs: z.number().int().min(100).default(30_000),
    /** Longest silence on either connection while a body streams; then both are closed. */
    idleTimeoutMs: z.number().int().min(100).default(60_000),
  })
  .strict()
  .refine((c) => c.secret === undefined || c.secretFile === undefined, {
    message: "set at most one of secret and secretFile",
    path: ["secret"],
  });

export type NodeProxyConfig = z.infer<typeof nodeProxyConfigSchema>;
