/**
 * How `npm start` configures the agent it runs beside the API, and the API variables that must
 * agree with it. Layers, later wins: defaults worked out here < the agent YAML
 * (OCHAMI_AGENT_CONFIG) < environment overrides. Pure apart from reading the YAML file and the
 * boot interface's address, so tests can check every rule.
 *
 * What a first start does, and why:
 *  - DHCP stays off until an interface is named: on a laptop `npm start` must not answer DHCP.
 *  - The image server is on (port 8080, files from <state>/images): it is unprivileged, and bound
 *    to HOST (loopback by default) until there is a boot network, so it exposes nothing new.
 *  - With DHCP on, the agent serves the boot network's address: images there, TFTP there (port 69
 *    needs root, which DHCP needs anyway, and PXE firmware needs TFTP), and — when the API does not
 *    listen on that address — the node proxy there (port 8082), which forwards only bootscripts
 *    and cloud-init, so nodes never see the admin API. The API then trusts the proxy's
 *    X-Forwarded-For (OCHAMI_TRUSTED_PROXIES gets the proxy's own source address, loopback, and
 *    OCHAMI_PROXY_SECRET the secret the proxy proves itself with: every local user shares that
 *    address) and hands nodes the proxy's URL (OCHAMI_NODE_BASE_URL), and DHCP points iPXE at it.
 *  - The API is also served over HTTPS (port 8443, tls/), whose front forwards to it the same way
 *    (X-Forwarded-For with the secret), so the API trusts it likewise.
 */
import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { type AgentConfig, ConfigError, parseAgentConfig } from "../onprem-agent/config";
import { interfaceAddress } from "../onprem-agent/dhcp/config";
import { ON_OFF_HINT, parseOnOff } from "../shared/on-off";
import { planTls, type TlsPlan } from "./tls/settings";

type Raw = Record<string, unknown>;

/**
 * How many API workerd processes accept on the API's socket (OCHAMI_API_PROCESSES). workerd runs
 * one thread per process, so a process serves from one core; the default is one per core but one,
 * which is left to the database process (SQLite, above all the boot history's writes) and the agent
 * (DHCP, TFTP, images): at least 1, at most API_PROCESSES_DEFAULT_MAX. The cap: every process
 * holds its own boot snapshot (memory) and rebuilds it from the one database process after each
 * boot-data write, and past a few API processes that single database process, not the API, is what
 * a storm waits on (docs/boot-path.md has the figures). A larger number can be set.
 */
export const API_PROCESSES = { name: "OCHAMI_API_PROCESSES", max: 64 };
export const API_PROCESSES_DEFAULT_MAX = 4;

export function defaultApiProcesses(cores = availableParallelism()): number {
  return Math.max(1, Math.min(API_PROCESSES_DEFAULT_MAX, cores - 1));
}

/** OCHAMI_API_PROCESSES, checked: a whole number from 1 to API_PROCESSES.max, else the default for this machine. */
export function apiProcesses(env: NodeJS.ProcessEnv, cores = availableParallelism()): number {
  const raw = env[API_PROCESSES.name]?.trim();
  if (raw === undefined || raw === "") return defaultApiProcesses(cores);
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > API_PROCESSES.max)
    throw new ConfigError(`${API_PROCESSES.name} must be a whole number from 1 to ${API_PROCESSES.max}, got '${raw}'`);
  return n;
}

export interface HeadNodePlan {
  /** False when OCHAMI_AGENT=off: the API alone. */
  agentEnabled: boolean;
  agent: AgentConfig;
  /** OCHAMI_* variables for the worker that follow from the agent's setup. */
  workerVars: Record<string, string>;
  /** The address nodes reach this head node at (DHCP's server address), when DHCP is on. */
  bootAddress?: string;
  /** Where the images directory is, to create it before the agent starts. */
  imagesDir?: string;
  /** The API over HTTPS (tls/settings.ts). */
  tls: TlsPlan;
}

/** Environment overrides: variable → path in the agent config, and how its text is read. */
const ENV_OVERRIDES: Array<[name: string, path: string[], parse: (v: string) => unknown]> = [
  ["OCHAMI_DHCP_INTERFACE", ["dhcp", "interface"], (v) => v],
  ["OCHAMI_IMAGES_DIR", ["images", "root"], (v) => v],
  ["OCHAMI_IMAGES_PORT", ["images", "port"], (v) => portNumber("OCHAMI_IMAGES_PORT", v)],
  ["OCHAMI_IMAGES", ["images", "enabled"], (v) => onOff("OCHAMI_IMAGES", v)],
  ["OCHAMI_TFTP", ["tftp", "enabled"], (v) => onOff("OCHAMI_TFTP", v)],
  ["OCHAMI_NODE_PROXY", ["nodeProxy", "enabled"], (v) => onOff("OCHAMI_NODE_PROXY", v)],
  ["OCHAMI_AGENT_METRICS_PORT", ["metrics", "port"], (v) => portNumber("OCHAMI_AGENT_METRICS_PORT", v)],
  ["OCHAMI_NODE_PROXY_PORT", ["nodeProxy", "port"], (v) => portNumber("OCHAMI_NODE_PROXY_PORT", v)],
  ["OCHAMI_TFTP_PORT", ["tftp", "port"], (v) => portNumber("OCHAMI_TFTP_PORT", v)],
  ["OCHAMI_DHCP_PORT", ["dhcp", "serverPort"], (v) => portNumber("OCHAMI_DHCP_PORT", v)],
  ["OCHAMI_DHCP_PROXY_PORT", ["dhcp", "proxyPort"], (v) => portNumber("OCHAMI_DHCP_PROXY_PORT", v)],
  ["OCHAMI_AGENT_LOG_LEVEL", ["log", "level"], (v) => v],
];

/** Variables that configure the agent under `npm start`, not the worker. */
export const AGENT_VARIABLES = new Set(["OCHAMI_AGENT", "OCHAMI_AGENT_CONFIG", ...ENV_OVERRIDES.map(([name]) => name)]);

function onOff(name: string, v: string): boolean {
  const on = parseOnOff(v);
  if (on === undefined) throw new ConfigError(`${name} must be ${ON_OFF_HINT}, got '${v}'`);
  return on;
}

function portNumber(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name} must be a port number, got '${v}'`);
  return n;
}

const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

/** `over` on top of `base`, object by object; arrays and scalars replace. */
export function deepMerge(base: Raw, over: Raw): Raw {
  const out: Raw = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k], v) : v;
  return out;
}

function setPath(obj: Raw, keys: string[], value: unknown) {
  let at = obj;
  for (const k of keys.slice(0, -1)) at = at[k] = isObject(at[k]) ? at[k] : {};
  at[keys.at(-1)!] = value;
}

const get = (obj: Raw, keys: string[]): unknown => keys.reduce<unknown>((at, k) => (isObject(at) ? at[k] : undefined), obj);

function readYaml(file: string): Raw {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`OCHAMI_AGENT_CONFIG: cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw new ConfigError(`${file}: expected a mapping of sections (api, dhcp, images, ...)`);
  return raw;
}

function readSecretFile(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new ConfigError(`nodeProxy.secretFile: cannot read ${file}: ${(err as Error).message}`);
  }
}

const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.");
const isWildcard = (host: string) => host === "0.0.0.0" || host === "::";
const urlHost = (host: string) => (host.includes(":") ? `[${host}]` : host);

export interface PlanInput {
  env: NodeJS.ProcessEnv;
  /** The API's listen address and port (HOST, PORT). */
  host: string;
  port: number;
  stateDir: string;
  /** Looks up an interface's address (tests pass their own). */
  addressOf?: (iface: string) => string | undefined;
  /** The state directory's node proxy secret (auth-state.ts), used unless the admin set one. */
  proxySecret?: string;
}

export function planHeadNode(input: PlanInput): HeadNodePlan {
  const { env, host, port, stateDir } = input;
  const addressOf = input.addressOf ?? ((iface: string) => interfaceAddress(iface)?.address);
  const agentEnabled = env.OCHAMI_AGENT === undefined || env.OCHAMI_AGENT === "" ? true : onOff("OCHAMI_AGENT", env.OCHAMI_AGENT);

  // What the admin said: the YAML file, then the environment.
  let user: Raw = env.OCHAMI_AGENT_CONFIG ? readYaml(path.resolve(env.OCHAMI_AGENT_CONFIG)) : {};
  const fromEnv: Raw = {};
  for (const [name, keys, parse] of ENV_OVERRIDES) {
    const v = env[name];
    if (v !== undefined && v !== "") setPath(fromEnv, keys, parse(v));
  }
  user = deepMerge(user, fromEnv);
  const said = (...keys: string[]) => get(user, keys) !== undefined;

  // The agent reaches the API on this machine.
  const localHost = isWildcard(host) ? (host === "::" ? "::1" : "127.0.0.1") : host;
  const apiUrl = `http://${urlHost(localHost)}:${port}`;
  const iface = get(user, ["dhcp", "interface"]) as string | undefined;
  const bootAddress = iface ? ((get(user, ["dhcp", "serverAddress"]) as string | undefined) ?? addressOf(iface)) : undefined;
  const apiOnBootNet = bootAddress !== undefined && (isWildcard(host) || host === bootAddress);

  const defaults: Raw = {
    api: { url: apiUrl },
    images: { enabled: true, root: path.join(stateDir, "images"), address: bootAddress ?? host },
  };
  if (bootAddress) {
    defaults.tftp = { enabled: true, address: bootAddress };
    defaults.nodeProxy = { enabled: !apiOnBootNet, address: bootAddress };
  }
  const merged = deepMerge(defaults, user);
  const imagesPort = (get(merged, ["images", "port"]) as number | undefined) ?? 8080;
  const proxyOn = get(merged, ["nodeProxy", "enabled"]) === true;
  const proxyPort = (get(merged, ["nodeProxy", "port"]) as number | undefined) ?? 8082;
  const proxyAddress = (get(merged, ["nodeProxy", "address"]) as string | undefined) ?? bootAddress;

  // Where nodes reach the API: through the proxy, else directly on the boot network.
  let nodeUrl: string | undefined;
  if (proxyOn && proxyAddress && !isWildcard(proxyAddress)) nodeUrl = `http://${urlHost(proxyAddress)}:${proxyPort}`;
  else if (bootAddress) nodeUrl = `http://${urlHost(bootAddress)}:${proxyOn ? proxyPort : port}`;
  if (nodeUrl && !said("api", "bootUrl")) setPath(merged, ["api", "bootUrl"], nodeUrl);
  if (bootAddress && !said("dhcp", "boot", "httpBase")) setPath(merged, ["dhcp", "boot", "httpBase"], `http://{server}:${imagesPort}`);

  const agent = parseAgentConfig(
    merged,
    env.OCHAMI_AGENT_CONFIG ? `${env.OCHAMI_AGENT_CONFIG} (with environment overrides)` : "agent settings",
  );

  const workerVars: Record<string, string> = {};
  if (agentEnabled && agent.dhcp.interface && agent.api.bootUrl && !env.OCHAMI_NODE_BASE_URL)
    workerVars.OCHAMI_NODE_BASE_URL = agent.api.bootUrl;
  const tls = planTls({ env, host, bootAddress: agentEnabled ? bootAddress : undefined });
  const proxyTarget = agent.nodeProxy.apiUrl ?? agent.api.url;
  const proxyFronts = agentEnabled && agent.nodeProxy.enabled && new URL(proxyTarget).origin === new URL(apiUrl).origin;
  // The node proxy and the HTTPS front (tls/front.ts) both stand before the API on this machine
  // and name their client in X-Forwarded-For.
  if (proxyFronts || tls.enabled) {
    // They connect from the address they connect to (this machine): that peer is trusted.
    const peer = isLoopback(localHost) ? (localHost === "::1" ? "::1" : "127.0.0.1") : localHost;
    const listed = (env.OCHAMI_TRUSTED_PROXIES ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    if (!listed.includes(peer)) workerVars.OCHAMI_TRUSTED_PROXIES = [...listed, peer].join(",");
    // The proxy and the API must hold the same secret: the agent YAML's, else the environment's, else the state directory's.
    const proxy = agent.nodeProxy;
    const fromYaml = proxyFronts ? (proxy.secret ?? (proxy.secretFile ? readSecretFile(proxy.secretFile) : undefined)) : undefined;
    const fromEnv = env.OCHAMI_PROXY_SECRET || undefined;
    if (fromYaml && fromEnv && fromYaml !== fromEnv)
      throw new ConfigError("nodeProxy.secret differs from OCHAMI_PROXY_SECRET: the API would not believe the node proxy");
    const secret = fromYaml ?? fromEnv ?? input.proxySecret;
    if (secret) {
      workerVars.OCHAMI_PROXY_SECRET = secret;
      if (!fromYaml && proxyFronts) proxy.secret = secret;
    }
  }
  return { agentEnabled, agent, workerVars, bootAddress, imagesDir: agent.images.enabled ? agent.images.root : undefined, tls };
}
