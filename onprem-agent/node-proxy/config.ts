import { isIP } from "node:net";
import { z } from "zod";

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
     * Path prefixes forwarded; everything else gets 404, so the boot network cannot reach the
     * admin APIs through this port. An entry ending in "/" matches below it; one without matches
     * itself and below it.
     */
    paths: z.array(z.string().startsWith("/")).min(1).default(["/boot/v1/bootscript", "/apis/bss/boot/v1/bootscript", "/cloud-init/"]),
    /** Until the API's response headers arrive; then 504. */
    responseTimeoutMs: z.number().int().min(100).default(30_000),
    /** Longest silence on either connection while a body streams; then both are closed. */
    idleTimeoutMs: z.number().int().min(100).default(60_000),
  })
  .strict();

export type NodeProxyConfig = z.infer<typeof nodeProxyConfigSchema>;
