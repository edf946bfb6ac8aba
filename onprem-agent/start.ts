/**
 * `npm start`: the whole head-node system on this machine. Serves the API (SMD, BSS, cloud-init,
 * auth) under workerd on a persisted local D1, applying pending migrations first.
 *
 * Environment: PORT (8081), HOST (127.0.0.1), OCHAMI_STATE_DIR (./.state), OCHAMI_AUTH (on|off),
 * and any other OCHAMI_* variable, passed to the worker as configuration (see README).
 * The first start creates the token issuer's signing key and an admin client in <state>/auth.
 */
import path from "node:path";
import { startApiServer } from "./api-runner";
import { repoRoot } from "./api-runner/wrangler-config";
import { recordApiUrl } from "./auth/api-client";
import { authVars, ensureAuthState, type AuthState } from "./auth/state";

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

  const auth = await ensureAuthState(stateDir);
  // OCHAMI_* from the environment win over the state directory's key material.
  const vars = { ...authVars(auth), ...workerVars(process.env) };
  const outbound = vars.OCHAMI_AUTH_EXTERNAL_JWKS_URL ? "private" : "public";
  const api = await startApiServer({ host, port, stateDir, vars, outbound });
  recordApiUrl(stateDir, api.url);
  console.log(`OpenCHAMI API ready at ${api.url}  (state: ${stateDir})`);
  console.log(`  try: curl ${api.url}/hsm/v2/service/ready`);
  if (!(await reportAuth(api.url, auth))) {
    await api.stop();
    process.exit(1);
  }

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

/**
 * Asks the running worker whether auth works (a protected route without a token must be a 401)
 * and says how to get a token. False when auth is on but broken: better to stop than to serve a
 * cluster whose every admin call fails.
 */
async function reportAuth(url: string, auth: AuthState): Promise<boolean> {
  if (auth.created.length) {
    console.log(`auth: created ${auth.created.join(" and ")} in ${auth.dir} (owner-only files)`);
  }
  const probe = await fetch(`${url}/auth/clients`);
  const body = await probe.text();
  if (probe.status === 401) {
    console.log(`auth: on. Get a token:  export DEMO_ACCESS_TOKEN=$(npm run --silent token)`);
    console.log(`  then: curl -H "Authorization: Bearer $DEMO_ACCESS_TOKEN" ${url}/hsm/v2/Inventory/RedfishEndpoints`);
    console.log(`  clients for scripts and services: npm run clients -- create <name> --scope "smd:read bss:read"`);
    return true;
  }
  if (probe.status === 200) {
    console.warn("auth: OFF (OCHAMI_AUTH=off): every route is open to anyone who can reach this port; for local development only");
    return true;
  }
  let detail = body;
  try {
    detail = JSON.parse(body).detail ?? body;
  } catch {
    /* not JSON */
  }
  console.error(`auth: on but not working (${probe.status}): ${detail}`);
  return false;
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
