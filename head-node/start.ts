/**
 * `npm start`: the whole head-node system on this machine. Serves the API (SMD, BSS, cloud-init,
 * auth) under workerd on a persisted local D1, applying pending migrations first, and runs the
 * on-prem agent beside it in this process (DHCP, TFTP, images, node proxy; see plan.ts for what
 * is on by default and why).
 *
 * Environment: PORT (8081), HOST (127.0.0.1), OCHAMI_STATE_DIR (./.state), OCHAMI_API_PROCESSES
 * (plan.ts), OCHAMI_AUTH (on|off),
 * OCHAMI_AGENT (on|off), OCHAMI_AGENT_CONFIG (agent YAML) and its overrides (README), OCHAMI_TLS_*
 * (the API over HTTPS on 8443, tls/settings.ts), and any other OCHAMI_* variable, passed to the
 * worker as configuration.
 * The first start creates the token issuer's signing key, an admin client and the agent's client
 * in <state>/auth, and the CA of the HTTPS certificates in <state>/tls.
 *
 * It runs until a signal: a workerd process that dies is restarted (api-runner/supervisor.ts)
 * while the agent keeps serving; only a bad setting found at start-up (a port in use included)
 * ends it early, with exit code 1. SIGINT/SIGTERM close every listener at once and let what is in
 * flight finish: the agent stops (after posting its last boot events), then the API, then the
 * database.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { type Agent, startAgent } from "../onprem-agent/agent";
import { localUrl, recordApiUrl, stateDirOf } from "../shared/head-node-state";
import { ensureAgentClient } from "./agent-client";
import { type ApiServer, startApiServer } from "./api-runner";
import { sweepRuntimeDirs } from "./api-runner/runtime-dir";
import { type AuthState, authVars, ensureAuthState } from "./auth-state";
import { checkListeners, describeListener, type Listener, listenFailure, plannedListeners } from "./listeners";
import { AGENT_VARIABLES, API_PROCESSES, apiProcesses, type HeadNodePlan, planHeadNode } from "./plan";
import { type HttpsService, prepareHttps, TLS_VARIABLES } from "./tls";
import type { TlsFront } from "./tls/front";

/** How long a stop waits for the agent's last boot events before the API stops accepting them. */
const FINAL_FLUSH_MS = 500;

/**
 * The database process's memory ceiling, in MB. It settles at 100–250 MB under a boot storm with
 * an admin reading the history now and then, but large reads leave it a little bigger each time,
 * for good (docs/head-node.md): over the ceiling it is restarted, finishing its requests first.
 */
const DATABASE_MAX_MB = { name: "OCHAMI_DATABASE_MAX_MB", fallback: 1024 };

/** Variables of `npm start` itself: neither the agent's nor the worker's. */
const RUNNER_VARIABLES = new Set([DATABASE_MAX_MB.name, API_PROCESSES.name, ...TLS_VARIABLES]);

function workerVars(env: NodeJS.ProcessEnv): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env))
    if (k.startsWith("OCHAMI_") && !AGENT_VARIABLES.has(k) && !RUNNER_VARIABLES.has(k) && v !== undefined) vars[k] = v;
  return vars;
}

function databaseMaxMb(env: NodeJS.ProcessEnv): number {
  const raw = env[DATABASE_MAX_MB.name];
  if (raw === undefined || raw === "") return DATABASE_MAX_MB.fallback;
  const mb = Number(raw);
  if (!Number.isInteger(mb) || mb < 0 || (mb > 0 && mb < 128))
    throw new Error(`${DATABASE_MAX_MB.name} must be a number of MB, at least 128 (0: no ceiling), got '${raw}'`);
  return mb;
}

async function main() {
  const port = Number(process.env.PORT ?? 8081);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`PORT must be a TCP port, got '${process.env.PORT}'`);
  const host = process.env.HOST ?? "127.0.0.1";
  const stateDir = stateDirOf();
  const databaseMemoryLimit = { mb: databaseMaxMb(process.env), setting: DATABASE_MAX_MB.name };
  const processes = apiProcesses(process.env);

  // The agent's settings first: the API's node-facing variables follow from them (and the node
  // proxy's secret from the state directory).
  const auth = await ensureAuthState(stateDir);
  const plan = planHeadNode({ env: process.env, host, port, stateDir, proxySecret: auth.proxySecret });

  // What an earlier start killed outright left behind may hold the ports checked next.
  const swept = await sweepRuntimeDirs();
  if (swept.removed.length)
    console.log(
      `cleaned up after ${swept.removed.length} earlier start(s) that did not stop: removed ${swept.removed.join(", ")}` +
        (swept.killed.length ? `; stopped their workerd processes ${swept.killed.join(", ")}` : ""),
    );
  const listeners = plannedListeners(plan, host, port);
  const problems = await checkListeners(listeners);
  if (problems.length) throw new Error(problems.join("\n"));

  // The CA and the first certificate before the API: the worker publishes the CA (/ca.pem, nodes).
  const tls = plan.tls.enabled ? await prepareHttps(plan.tls, stateDir, (line) => console.log(line)) : undefined;

  let api: ApiServer | undefined;
  let agent: Agent | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    // Every listener refuses new connections at once; what is in flight finishes.
    const tlsStopped = tls?.stop();
    agent?.metricsServer?.close();
    const agentStopped = agent?.stop().catch((err) => console.error(`agent: ${(err as Error).message}`));
    // The agent's last boot events go to the API before it stops accepting them; a moment, no more.
    await Promise.race([agentStopped, new Promise((r) => setTimeout(r, FINAL_FLUSH_MS))]);
    const apiStopped = api?.stop();
    await agentStopped;
    agent?.log.flush();
    await Promise.all([apiStopped, tlsStopped]);
    process.exit(code);
  };
  // Until the API is up there is nothing to stop in order: startApiServer cleans up after itself.
  let starting = true;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    if (!starting) void stop(0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  // OCHAMI_* from the environment win over the state directory's key material and the plan.
  const vars = { ...authVars(auth), ...plan.workerVars, ...caVars(tls), ...workerVars(process.env) };
  // SCN subscribers (a power-control service on this head node, others on the cluster network) and a
  // site IdP's JWKS live on private addresses; Unix sockets and link-local stay out of reach.
  api = await startApiServer({ host, port, stateDir, vars, outbound: "private", databaseMemoryLimit, processes });
  starting = false;
  if (stopping) return stop(0);
  recordApiUrl(stateDir, api.url);
  console.log(
    `OpenCHAMI API ready at ${api.url}  (state: ${stateDir}; ${processes} API process${processes === 1 ? "" : "es"}, ${API_PROCESSES.name})`,
  );
  console.log(`  try: curl ${api.url}/hsm/v2/service/ready`);
  const authMode = await reportAuth(api.url, auth);
  if (authMode === "broken") return stop(1);
  let front: TlsFront | undefined;
  if (tls) {
    try {
      front = await startHttps(tls, plan, localUrl(api.url), vars.OCHAMI_PROXY_SECRET, host);
    } catch (err) {
      console.error(listenFailure(err, listeners) ?? `HTTPS: ${(err as Error).message}`);
      return stop(1);
    }
  }

  if (!plan.agentEnabled) {
    console.log("agent: off (OCHAMI_AGENT=off)");
    describeListeners(listeners, api, undefined, front);
    return;
  }
  try {
    agent = await runAgent(plan, stateDir, localUrl(api.url), authMode === "on");
  } catch (err) {
    console.error(listenFailure(err, listeners) ?? `agent: ${(err as Error).message}`);
    return stop(1);
  }
  if (stopping) return stop(0);
  describeAgent(agent, plan);
  describeListeners(listeners, api, agent, front);
}

/** The worker's copy of the CA certificate, for /ca.pem and the nodes' cloud-init. */
function caVars(tls: HttpsService | undefined): Record<string, string> {
  return tls?.caPem ? { OCHAMI_CLUSTER_CA: tls.caPem } : {};
}

/** Opens the HTTPS port in front of the plain API and says where it is and whom to trust. */
async function startHttps(tls: HttpsService, plan: HeadNodePlan, upstream: string, proxySecret: string, host: string): Promise<TlsFront> {
  // HSTS only while the plain API is loopback-only: other machines can reach this one by name over HTTPS alone.
  const loopbackOnly = host === "localhost" || host === "::1" || host.startsWith("127.");
  const front = await tls.listen(upstream, proxySecret, loopbackOnly);
  const at = `https://${front.address.includes(":") ? `[${front.address}]` : front.address}:${front.port}`;
  const c = tls.current;
  console.log(`HTTPS ready at ${at} for ${plan.tls.names.join(", ")} (TLS 1.2+)`);
  console.log(`  certificate: serial ${c.serial}, valid until ${c.notAfter.toISOString()}; from ${tls.origin}`);
  if (!tls.caPem) return front;
  if (tls.caCreated) console.log(`https: created the cluster CA in ${tls.caDir} (ca.key owner-only; only ca.pem is public)`);
  console.log(`  CA certificate at ${at}/ca.pem, SHA-256 fingerprint ${tls.caFingerprint}`);
  console.log(`  pin it in the CLI: npx ochami config cluster trust-ca <cluster> --fingerprint ${tls.caFingerprint}`);
  return front;
}

/** One line per socket this start listens on, with the setting that moves it and what it is for. */
function describeListeners(planned: Listener[], api: ApiServer, agent?: Agent, front?: TlsFront) {
  const bound = (name: string): { address: string; port: number } | undefined => {
    if (name === "HTTPS") return front;
    if (name === "images") return agent?.images;
    if (name === "node proxy") return agent?.nodeProxy;
    if (name === "TFTP") return agent?.tftp;
    const m = name === "metrics" ? agent?.metricsServer?.address() : undefined;
    return m && typeof m === "object" ? m : undefined;
  };
  console.log("listening (each port is a setting; two stacks on one machine need different ones):");
  for (const l of planned) console.log(describeListener({ ...l, ...bound(l.name) }));
  console.log(`  ${"database".padEnd(11)} ${`unix:${api.databaseSocket}`} (private to this start) the API's D1 database process`);
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
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
