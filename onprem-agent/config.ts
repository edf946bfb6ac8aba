/**
 * The agent's one configuration file (YAML), validated with zod. Each module owns its section's
 * schema (dhcp/config.ts, tftp/config.ts, images/config.ts, node-proxy/config.ts, inventory/,
 * boot-events.ts, metrics.ts, log.ts); this file composes them, so adding a module means adding
 * one line here, and holds the `api` section (the API client itself is shared/api-client/). See
 * agent.example.yaml.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { bootEventsConfigSchema } from "./boot-events";
import { httpUrl, seconds } from "./config-types";
import { dhcpConfigSchema } from "./dhcp/config";
import { imagesConfigSchema } from "./images/config";
import { inventoryConfigSchema } from "./inventory";
import { logConfigSchema } from "./log";
import { metricsConfigSchema } from "./metrics";
import { nodeProxyConfigSchema } from "./node-proxy/config";
import { tftpConfigSchema } from "./tftp/config";

export const apiConfigSchema = z
  .strictObject({
    /** How the agent reaches the API. */
    url: httpUrl.default("http://127.0.0.1:8081"),
    /** How nodes reach the API (bootscript URLs in DHCP replies). Default: url. */
    bootUrl: httpUrl.optional(),
    timeout: seconds.default(10),
    /** OAuth2 client credentials: tokens from POST <tokenUrl> with HTTP Basic. */
    auth: z
      .strictObject({
        clientId: z.string().min(1),
        clientSecret: z.string().min(1).optional(),
        /** Read the secret from a file instead (keeps it out of the config). */
        clientSecretFile: z.string().min(1).optional(),
        /** Default: <url>/token. */
        tokenUrl: httpUrl.optional(),
        scope: z.string().min(1).optional(),
      })
      .refine((a) => (a.clientSecret === undefined) !== (a.clientSecretFile === undefined), {
        message: "set exactly one of clientSecret and clientSecretFile",
      })
      .optional(),
  })
  .prefault({});

export type ApiConfig = z.infer<typeof apiConfigSchema>;

export const agentConfigSchema = z.strictObject({
  api: apiConfigSchema,
  inventory: inventoryConfigSchema,
  dhcp: dhcpConfigSchema.prefault({}),
  bootEvents: bootEventsConfigSchema,
  tftp: tftpConfigSchema.prefault({}),
  images: imagesConfigSchema.prefault({}),
  nodeProxy: nodeProxyConfigSchema.prefault({}),
  metrics: metricsConfigSchema,
  log: logConfigSchema,
});

export type AgentConfig = z.infer<typeof agentConfigSchema>;
export type AgentConfigInput = z.input<typeof agentConfigSchema>;

export class ConfigError extends Error {}

/** Validates parsed YAML/JSON; the error lists every problem with its path. */
export function parseAgentConfig(raw: unknown, source = "config"): AgentConfig {
  const r = agentConfigSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join(".") || "(top)"}: ${i.message}`);
  throw new ConfigError(`${source} is invalid:\n${lines.join("\n")}`);
}

export function loadAgentConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  return parseAgentConfig(raw, file);
}
