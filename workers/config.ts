import { z } from "zod";
import { parseCidrList, type CidrList } from "../shared/ip";
import type { Env } from "./env";

/**
 * The worker's configuration, parsed once per env object from its string variables
 * (wrangler.toml [vars], `wrangler secret`, or OCHAMI_* under `npm start`). The one place that
 * knows every variable's meaning and default; the README's configuration table mirrors it.
 */
const onOff = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.enum(["on", "off", "true", "false", "1", "0"]))
  .transform((v) => v === "on" || v === "true" || v === "1");

const ConfigSchema = z.object({
  /** OCHAMI_AUTH: token checks on protected routes. `off` is for local development only. */
  auth: onOff.default(true),
  /** OCHAMI_HISTORY_MAX: boot events kept in the history log (the latest per node and step are always kept). */
  historyMax: z.coerce.number().int().min(100).default(100_000),
  /**
   * OCHAMI_NODE_BASE_URL: the URL booting nodes use to reach this API (iPXE chain URLs, the
   * kernel's `ds=nocloud;s=<url>/cloud-init/`, cloud-init include URLs). Default: the origin the
   * request arrived at.
   */
  nodeBaseUrl: z
    .url({ protocol: /^https?$/ })
    .transform((u) => u.replace(/\/+$/, ""))
    .optional(),
  /**
   * OCHAMI_TRUSTED_PROXIES: comma-separated IPs and CIDR networks of reverse proxies (a gateway,
   * the on-prem agent) whose X-Forwarded-For header names the real client. Only requests whose
   * TCP peer is in this list have the header read (workers/http/client-ip.ts). Default: none.
   */
  trustedProxies: z
    .string()
    .default("")
    .transform((raw, ctx): CidrList => {
      try {
        return parseCidrList(raw);
      } catch (err) {
        ctx.addIssue({ code: "custom", message: (err as Error).message });
        return z.NEVER;
      }
    }),
});

export type Config = z.infer<typeof ConfigSchema>;

const cache = new WeakMap<object, Config>();

export function configOf(env: Env): Config {
  let config = cache.get(env);
  if (!config) {
    const parsed = ConfigSchema.safeParse({
      auth: env.OCHAMI_AUTH,
      historyMax: env.OCHAMI_HISTORY_MAX,
      nodeBaseUrl: env.OCHAMI_NODE_BASE_URL || undefined,
      trustedProxies: env.OCHAMI_TRUSTED_PROXIES,
    });
    if (!parsed.success) {
      throw new Error(`invalid worker configuration: ${z.prettifyError(parsed.error)}`);
    }
    config = parsed.data;
    cache.set(env, config);
  }
  return config;
}

/** The base URL nodes should use, from configuration or else the request's own origin. */
export function nodeBaseUrl(env: Env, requestUrl: string): string {
  return configOf(env).nodeBaseUrl ?? new URL(requestUrl).origin;
}
