import { z } from "zod";
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
