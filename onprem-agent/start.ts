/**
 * `npm start`: the whole head-node system on this machine. Serves the API (SMD, BSS, cloud-init,
 * auth) under workerd on a persisted local D1, applying pending migrations first.
 *
 * Environment: PORT (8081), HOST (127.0.0.1), OCHAMI_STATE_DIR (./.state), OCHAMI_AUTH (on|off),
 * and any other OCHAMI_* variable, passed to the worker as configuration (see README).
 */
import path from "node:path";
import { startApiServer } from "./api-runner";
import { repoRoot } from "./api-runner/wrangler-config";

function workerVars(env: NodeJS.ProcessEnv): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith("OCHAMI_") && v !== undefined) vars[k] = v;
  return vars;
}

async function main() {
  const port = Number(process.env.PORT ?? 8081);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`PORT must be a TCP port, got '${process.env.PORT}'`);
  const host = process.env.HOST ?? "127.0.0.1";
  const stateDir = path.resolve(process.env.OCHAMI_STATE_DIR ?? path.join(repoRoot, ".state"));

  const api = await startApiServer({ host, port, stateDir, vars: workerVars(process.env) });
  console.log(`OpenCHAMI API ready at ${api.url}  (state: ${stateDir})`);
  console.log(`  try: curl ${api.url}/hsm/v2/service/ready`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await api.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  api.process.on("exit", (code) => {
    if (stopping) return;
    console.error(`workerd exited unexpectedly (code ${code})`);
    process.exit(1);
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
