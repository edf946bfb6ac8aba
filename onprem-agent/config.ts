/**
 * The agent's one configuration file (YAML), validated with zod. Each module owns its section's
 * schema (dhcp/config.ts, tftp/config.ts, images/config.ts, node-proxy/config.ts, inventory/, boot-events.ts,
 * metrics.ts, log.ts, api-client.ts); this file
 * only composes them, so adding a module means adding one line here. See agent.example.yaml.
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { apiConfigSchema } from "./api-client";
import { bootEventsConfigSchema } from "./boot-events";
import { dhcpConfigSchema } from "./dhcp/config";
import { imagesConfigSchema } from "./images/config";
import { inventoryConfigSchema } from "./inventory";
import { nodeProxyConfigSchema } from "./node-proxy/config";
import { tftpConfigSchema } from "./tftp/config";
import { logConfigSchema } from "./log";
import { metricsConfigSchema } from "./metrics";

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
