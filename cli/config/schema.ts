import { DURATION_HINT, parseDuration } from "../../shared/duration";
import { parseOnOff } from "../../shared/on-off";
/**
 * The configuration file's shape (upstream's ochami-config(5), plus our cluster keys for stored
 * client credentials and TLS), and the keys `ochami config set|cluster set` accept with the type
 * of their value. Pure: no file access.
 */
export const SERVICES = ["smd", "bss", "cloud-init"] as const;
export type Service = (typeof SERVICES)[number];
/** Upstream services we do not serve; their keys are accepted and kept so a shared file stays valid. */
const OTHER_SERVICES = ["pcs", "boot-service", "metadata-service", "rcs"] as const;

export const DEFAULT_BASE_PATHS: Record<Service, string> = { smd: "/hsm/v2", bss: "/boot/v1", "cloud-init": "/cloud-init" };

export const DATA_FORMATS = ["json", "json-pretty", "yaml"] as const;
export const OUTPUT_FORMATS = [...DATA_FORMATS, "table"] as const;
export type InputFormat = (typeof DATA_FORMATS)[number];
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export interface ServiceConfig {
  uri?: string;
  "api-version"?: string;
}

export interface ClusterConfig {
  uri?: string;
  "enable-auth"?: boolean;
  smd?: ServiceConfig;
  bss?: ServiceConfig;
  "cloud-init"?: ServiceConfig;
  // ---- ours
  /** OAuth client id whose secret (in client-secret-file) obtains tokens automatically. */
  "client-id"?: string;
  /** File holding the client secret (one line, mode 0600). */
  "client-secret-file"?: string;
  /** The client secret itself (prefer client-secret-file: config files are often world-readable). */
  "client-secret"?: string;
  /** Token endpoint; default `<uri>/token`. */
  "token-uri"?: string;
  /** Scopes to ask for; default the client's registered scopes. */
  scope?: string;
  /** CA bundle (PEM) for the cluster's HTTPS endpoints. */
  cacert?: string;
  /** Skip TLS verification for this cluster. */
  insecure?: boolean;
  [other: string]: unknown;
}

export interface ClusterEntry {
  name: string;
  cluster: ClusterConfig;
}

export interface Config {
  log?: { format?: string; level?: string; color?: string };
  "default-cluster"?: string;
  timeout?: string;
  "default-input-format"?: InputFormat;
  "default-output-format"?: OutputFormat;
  clusters?: ClusterEntry[];
  [other: string]: unknown;
}

type ValueType =
  | { kind: "string" }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] }
  | { kind: "duration" }
  | { kind: "uri" };

const STR = { kind: "string" } as const;
const BOOL = { kind: "bool" } as const;
const enumOf = (values: readonly string[]) => ({ kind: "enum", values }) as const;

/** Top-level keys `ochami config set` accepts. */
export const GLOBAL_KEYS: Record<string, ValueType> = {
  "default-cluster": STR,
  timeout: { kind: "duration" },
  "default-input-format": enumOf(DATA_FORMATS),
  "default-output-format": enumOf(OUTPUT_FORMATS),
  "log.format": enumOf(["basic", "json", "rfc3339"]),
  "log.level": enumOf(["debug", "info", "warning", "error"]),
  "log.color": enumOf(["auto", "on", "off"]),
};

/** Keys of one cluster entry `ochami config cluster set` accepts (relative to the entry). */
export const CLUSTER_KEYS: Record<string, ValueType> = {
  name: STR,
  "cluster.uri": { kind: "uri" },
  "cluster.enable-auth": BOOL,
  "cluster.client-id": STR,
  "cluster.client-secret-file": STR,
  "cluster.client-secret": STR,
  "cluster.token-uri": { kind: "uri" },
  "cluster.scope": STR,
  "cluster.cacert": STR,
  "cluster.insecure": BOOL,
  ...Object.fromEntries(
    [...SERVICES, ...OTHER_SERVICES].flatMap((s) => [
      [`cluster.${s}.uri`, STR],
      [`cluster.${s}.api-version`, STR],
    ]),
  ),
};

/** Parses a command-line value for `key`; a string is the reason it is not acceptable. */
export function parseValue(type: ValueType, key: string, raw: string): { value: unknown } | string {
  switch (type.kind) {
    case "string":
      return raw === "" ? `${key} may not be empty` : { value: raw };
    case "bool": {
      const on = parseOnOff(raw);
      return on === undefined ? `${key} must be true or false, not '${raw}'` : { value: on };
    }
    case "enum":
      return type.values.includes(raw) ? { value: raw } : `${key} must be one of ${type.values.join(", ")}, not '${raw}'`;
    case "duration":
      return parseDuration(raw) === undefined ? `${key} must be ${DURATION_HINT}, not '${raw}'` : { value: raw };
    case "uri":
      try {
        const u = new URL(raw);
        if (u.protocol !== "http:" && u.protocol !== "https:") return `${key} must be an http or https URI, not '${raw}'`;
        return { value: raw.replace(/\/+$/, "") };
      } catch {
        return `${key} must be an absolute URI such as https://demo.openchami.cluster:8443, not '${raw}'`;
      }
  }
}

/**
 * Problems in a loaded file (types of the keys we read). Unknown keys are not errors: a file
 * shared with upstream's ochami may carry keys for services we do not have.
 */
export function validateConfig(cfg: unknown, where: string): string[] {
  const problems: string[] = [];
  if (cfg === null || cfg === undefined) return problems;
  if (typeof cfg !== "object" || Array.isArray(cfg)) return [`${where}: the file must hold a YAML mapping`];
  const c = cfg as Config;
  for (const [key, type] of Object.entries(GLOBAL_KEYS)) {
    const v = getPath(c, key);
    if (v === undefined) continue;
    const r = parseValue(type, key, String(v));
    if (typeof r === "string" || typeof v === "object") problems.push(`${where}: ${typeof r === "string" ? r : `${key} must be a scalar`}`);
  }
  if (c.clusters !== undefined) {
    if (!Array.isArray(c.clusters)) problems.push(`${where}: clusters must be a list of {name, cluster}`);
    else
      c.clusters.forEach((entry, i) => {
        if (!entry || typeof entry !== "object" || typeof entry.name !== "string" || !entry.name)
          problems.push(`${where}: clusters[${i}] needs a name`);
        else if (entry.cluster !== undefined && (typeof entry.cluster !== "object" || Array.isArray(entry.cluster)))
          problems.push(`${where}: clusters[${i}] (${entry.name}): cluster must be a mapping`);
        else
          for (const key of ["cluster.enable-auth", "cluster.insecure"]) {
            const v = getPath(entry, key);
            if (v !== undefined && typeof v !== "boolean")
              problems.push(`${where}: clusters[${i}] (${entry.name}): ${key} must be true or false`);
          }
      });
  }
  return problems;
}

export function getPath(obj: unknown, dotted: string): unknown {
  let cur: unknown = obj;
  for (const part of dotted.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * Upstream's merge: `over` wins key by key, maps merge recursively, and lists of entries with a
 * `name` merge by name (so a user file can override one field of a cluster the system file defines).
 */
export function mergeConfigs(base: Config, over: Config): Config {
  return mergeValue(structuredClone(base), over) as Config;
}

function mergeValue(dst: unknown, src: unknown): unknown {
  if (isMap(dst) && isMap(src)) {
    for (const [k, v] of Object.entries(src)) dst[k] = k in dst ? mergeValue(dst[k], v) : structuredClone(v);
    return dst;
  }
  if (Array.isArray(dst) && Array.isArray(src)) {
    const out = [...dst];
    for (const item of src) {
      const i = isMap(item) && typeof item.name === "string" ? out.findIndex((d) => isMap(d) && d.name === item.name) : -1;
      if (i >= 0) out[i] = mergeValue(out[i], item);
      else out.push(structuredClone(item));
    }
    return out;
  }
  return structuredClone(src);
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `<NAME>_ACCESS_TOKEN`: upper-case, `-` and spaces as `_` (upstream's rule). */
export function tokenEnvName(cluster: string): string {
  return `${cluster.toUpperCase().replace(/[-\s.]/g, "_")}_ACCESS_TOKEN`;
}
