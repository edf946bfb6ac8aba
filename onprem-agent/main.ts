/**
 * `npm run agent -- --config FILE`: runs the on-prem agent alone (DHCP and, once wired in, TFTP and
 * image serving) against an API that runs elsewhere (or under `npm start`).
 */
import { parseArgs } from "node:util";
import { startAgent } from "./agent";
import { ConfigError, loadAgentConfig, parseAgentConfig } from "./config";

async function main() {
  const { values } = parseArgs({ options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log("usage: npm run agent -- --config agent.yaml   (see onprem-agent/agent.example.yaml)");
    return;
  }
  const config = values.config ? loadAgentConfig(values.config) : parseAgentConfig({}, "defaults");
  const agent = await startAgent(config);
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    agent.log.info({ signal }, "stopping");
    await agent.stop();
    agent.log.flush();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err instanceof Error ? err.stack : err);
  process.exit(1);
});
