/**
 * `npm start`: the whole head-node system on this machine. Serves the API (SMD, BSS, cloud-init,
 * auth) under workerd on a persisted local D1, applying pending migrations first, and runs the
 * on-prem agent beside it in this process (DHCP, TFTP, images, node proxy; see plan.ts for what
 * is on by default and why).
 *
 * Environment: PORT (8081), HOST (127.0.0.1), OCHAMI_STATE_DIR (./.state), OCHAMI_AUTH (on|off),
 * OCHAMI_AGENT (on|off), OCHAMI_AGENT_CONFIG (agent YAML) and its overrides (README), and any
 * other OCHAMI_* variable, passed to the worker as configuration.
 * The first start creates the token issuer's signing key, an admin client and the agent's client
 * in <state>/auth. SIGINT/SIGTERM stop the agent, then workerd, then this process.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { type Agent, startAgent } from "../onprem-agent/agent";
import { ConfigError } from "../onprem-agent/config";
import { localUrl, recordApiUrl, stateDirOf } from "../shared/head-node-state";
import { ensureAgentClient } from "./agent-client";
import { startApiServer } from "./api-runner";
import { type AuthState, authVars, ensureAuthState } from "./auth-state";
import { AGENT_VARIABLES, type HeadNodePlan, planHeadNode } from "./plan";

function workerVars(env: NodeJS.ProcessEnv): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (k.startsWith("OCHAMI_") && !AGENT_VARIABLES.has(k) && v !== undefined) vars[k] = v;
  return vars;
}

async function main() {
  const port = Number(process.env.PORT ?? 8081);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`PORT must be a TCP port, got '${process.env.PORT}'`);
  const host = process.env.HOST ?? "127.0.0.1";
  const stateDir = stateDirOf();

  // The agent's settings first: the API's node-facing variables follow from them (and the node
  // proxy's secret from the state directory).
  const auth = await ensureAuthState(stateDir);
  const plan = planHeadNode({ env: process.env, host, port, stateDir, proxySecret: auth.proxySecret });
  // OCHAMI_* from the environment win over the state directory's key material and the plan.
  const vars = { ...authVars(auth), ...plan.workerVars, ...workerVars(process.env) };
  const outbound = vars.OCHAMI_AUTH_EXTERNAL_JWKS_URL ? "private" : "public";
  const api = await startApiServer({ host, port, stateDir, vars, outbound });
  recordApiUrl(stateDir, api.url);
  console.log(`OpenCHAMI API ready at ${api.url}  (state: ${stateDir})`);
  console.log(`  try: curl ${api.url}/hsm/v2/service/ready`);
  const authMode = await reportAuth(api.url, auth);
  if (authMode === "broken") {
    await api.stop();
    process.exit(1);
  }

  let agent: Agent | undefined;
  let stopping = false;
  const shutdown = async (why: string, code: number) => {
    if (stopping) return;
    stopping = true;
    console.log(`${why}: stopping`);
    await agent?.stop().catch((err) => console.error(`agent: ${(err as Error).message}`));
    agent?.log.flush();
    await api.stop();
    process.exit(code);
  };
  process.on("SIGINT", () => void shutdown("SIGINT", 0));
  process.on("SIGTERM", () => void shutdown("SIGTERM", 0));
  for (const [which, child] of [
    ["API", api.process],
    ["database", api.databaseProcess],
  ] as const)
    child.on("exit", (code) => {
      if (stopping) return;
      console.error(`the ${which} workerd exited unexpectedly (code ${code})`);
      void shutdown("workerd exited", 1);
    });

  if (!plan.agentEnabled) {
    console.log("agent: off (OCHAMI_AGENT=off)");
    return;
  }
  try {
    agent = await runAgent(plan, stateDir, localUrl(api.url), authMode === "on");
  } catch (err) {
    console.error(`agent: ${(err as Error).message}`);
    await shutdown("agent failed to start", 1);
    return;
  }
  describeAgent(agent, plan);
}

async function runAgent(plan: HeadNodePlan, stateDir: string, apiUrl: string, authOn: boolean): Promise<Agent> {
  const config = plan.agent;
  if (authOn && !config.api.auth) {
    const { credential, created } = await ensureAgentClient(stateDir, apiUrl);
    if (created)
      console.log(
        `auth: created the agent's client ${credential.client_id} (scopes ${credential.scope}) in ${path.join(stateDir, "auth")}`,
      );
    config.api.auth = { clientId: credential.client_id, clientSecret: credential.client_secret, scope: credential.scope };
  }
  if (plan.imagesDir) mkdirSync(plan.imagesDir, { recursive: true });
  return startAgent(config);
}

function describeAgent(agent: Agent, plan: HeadNodePlan) {
  const parts: string[] = [];
  parts.push(
    agent.dhcp
      ? `DHCP on ${agent.dhcp.settings.interface} (${agent.dhcp.settings.serverId})`
      : "DHCP off (no interface: set dhcp.interface or OCHAMI_DHCP_INTERFACE)",
  );
  if (agent.images) parts.push(`images ${agent.images.url} from ${plan.agent.images.root}`);
  if (agent.tftp) parts.push(`TFTP ${agent.tftp.address}:${agent.tftp.port}`);
  if (agent.nodeProxy) parts.push(`node proxy ${agent.nodeProxy.url}`);
  console.log(`agent: ${parts.join("; ")}`);
  if (plan.agent.api.bootUrl) console.log(`  nodes reach the API at ${plan.agent.api.bootUrl}`);
  console.log(`  watch nodes boot: npx ochami bss history --follow`);
}

/**
 * Asks the running worker whether auth works (a protected route without a token must be a 401)
 * and says how to get a token. "broken" when auth is on but does not work: better to stop than to
 * serve a cluster whose every admin call fails.
 */
async function reportAuth(url: string, auth: AuthState): Promise<"on" | "off" | "broken"> {
  if (auth.created.length) {
    console.log(`auth: created ${auth.created.join(" and ")} in ${auth.dir} (owner-only files)`);
  }
  const probe = await fetch(`${url}/auth/clients`);
  const body = await probe.text();
  if (probe.status === 401) {
    console.log(`auth: on. Get a token:  export DEMO_ACCESS_TOKEN=$(npm run --silent token)`);
    console.log(`  then: curl -H "Authorization: Bearer $DEMO_ACCESS_TOKEN" ${url}/hsm/v2/Inventory/RedfishEndpoints`);
    console.log(`  clients for scripts and services: npx ochami auth client create <name> --scope "smd:read bss:read"`);
    return "on";
  }
  if (probe.status === 200) {
    console.warn("auth: OFF (OCHAMI_AUTH=off): every route is open to anyone who can reach this port; for local development only");
    return "off";
  }
  let detail = body;
  try {
    detail = JSON.parse(body).detail ?? body;
  } catch {
    /* not JSON */
  }
  console.error(`auth: on but not working (${probe.status}): ${detail}`);
  return "broken";
}

main().catch((err) => {
  console.error(err instanceof ConfigError ? err.message : err instanceof Error ? err.message : err);
  process.exit(1);
});
