import { HttpProblem } from "../../shared/problem";
import { parseXname } from "../../shared/xname";
import { objectBody, optInt, optString, optStringArray } from "../http/decode";
import { getKey, isPlainObject } from "../http/json-keys";

/**
 * The admin data of the cloud-init server, in upstream's JSON shapes (pkg/cistore models):
 * ClusterDefaults, GroupData and OpenCHAMIInstanceInfo. Keys are matched case-insensitively, as
 * Go's encoding/json does; unknown keys are ignored.
 */

// ----------------------------------------------------------------------------- cluster defaults

export interface ClusterDefaults {
  cloudProvider: string;
  region: string;
  availabilityZone: string;
  clusterName: string;
  publicKeys: string[];
  /** The include base for vendor-data, without a trailing slash. */
  baseUrl: string;
  bootSubnet: string;
  wgSubnet: string;
  shortName: string;
  /** Digits of the NID in generated hostnames; 0 = unset (4). */
  nidLength: number;
}

export const EMPTY_DEFAULTS: ClusterDefaults = {
  cloudProvider: "",
  region: "",
  availabilityZone: "",
  clusterName: "",
  publicKeys: [],
  baseUrl: "",
  bootSubnet: "",
  wgSubnet: "",
  shortName: "",
  nidLength: 0,
};

/** JSON key ↔ field, in upstream's field order (the order GET answers with). */
const DEFAULTS_KEYS = [
  ["cloud_provider", "cloudProvider"],
  ["region", "region"],
  ["availability-zone", "availabilityZone"],
  ["cluster-name", "clusterName"],
  ["public-keys", "publicKeys"],
  ["base-url", "baseUrl"],
  ["boot-subnet", "bootSubnet"],
  ["wg-subnet", "wgSubnet"],
  ["short-name", "shortName"],
  ["nid-length", "nidLength"],
] as const satisfies ReadonlyArray<readonly [string, keyof ClusterDefaults]>;

/**
 * A ClusterDefaults body; absent fields are "" / [] / 0, as Go decodes them. Upstream's key for
 * the provider is `cloud_provider`; its own README and demo write `cloud-provider`, which upstream
 * silently drops. We accept both.
 */
export function parseClusterDefaults(raw: unknown): ClusterDefaults {
  const keys = [...DEFAULTS_KEYS.map(([k]) => k), "cloud-provider"] as const;
  const b = objectBody(raw, keys);
  const str = (k: (typeof keys)[number]) => optString(b[k], k)?.trim() ?? "";
  const nidLength = optInt(b["nid-length"], "nid-length") ?? 0;
  if (nidLength < 0 || nidLength > 32) throw new HttpProblem(400, "nid-length must be an integer from 0 to 32");
  const baseUrl = str("base-url").replace(/\/+$/, "");
  if (baseUrl !== "" && !isHttpUrl(baseUrl)) throw new HttpProblem(400, `base-url must be an http(s) URL, got '${baseUrl}'`);
  return {
    cloudProvider: str("cloud_provider") || str("cloud-provider"),
    region: str("region"),
    availabilityZone: str("availability-zone"),
    clusterName: str("cluster-name"),
    publicKeys: publicKeys(b["public-keys"], "public-keys"),
    baseUrl,
    bootSubnet: str("boot-subnet"),
    wgSubnet: str("wg-subnet"),
    shortName: str("short-name"),
    nidLength,
  };
}

/**
 * Upstream's POST semantics: every non-empty field of the update replaces the stored one; empty
 * fields keep it (so POST can never clear a field; PUT replaces the whole record).
 */
export function mergeClusterDefaults(current: ClusterDefaults, update: ClusterDefaults): ClusterDefaults {
  const out = { ...current };
  for (const [, field] of DEFAULTS_KEYS) {
    const v = update[field];
    if (Array.isArray(v) ? v.length > 0 : v !== "" && v !== 0) (out as any)[field] = v;
  }
  return out;
}

/** Upstream's JSON: every field omitted when empty, so nothing set answers `{}`. */
export function clusterDefaultsJson(d: ClusterDefaults): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, field] of DEFAULTS_KEYS) {
    const v = d[field];
    if (Array.isArray(v) ? v.length > 0 : v !== "" && v !== 0) out[key] = v;
  }
  return out;
}

// ----------------------------------------------------------------------------- groups

export type FileEncoding = "" | "plain" | "base64";

export interface CloudInitGroup {
  /** Lower case, as SMD group labels, which it must equal to apply to a node. */
  name: string;
  description: string;
  /** Merged into the member nodes' meta-data under vendor_data.groups.<name>. */
  metaData: Record<string, unknown> | null;
  /** The group's cloud-config, stored as sent ("" = no file). */
  file: { content: string; filename: string; encoding: FileEncoding };
  versions: Record<string, string> | null;
}

/** SMD's label rule (workers/smd/groups/model.ts): a cloud-init group applies to the SMD group of the same label. */
export const GROUP_NAME_RE = /^[-a-z0-9:._]+$/;

const groupError = (detail: string) => new HttpProblem(422, detail);

/** A group name from a path or body: trimmed, lower-cased, and valid as an SMD label. */
export function groupName(raw: string): string {
  const name = raw.trim().toLowerCase();
  if (name === "") throw groupError("name is required");
  if (!GROUP_NAME_RE.test(name))
    throw groupError(`group name '${raw}' is not a valid SMD group label (letters, digits, '-', '_', '.', ':')`);
  return name;
}

/**
 * A GroupData body (POST /admin/groups, PUT /admin/groups/{name}). Invalid groups are 422, as
 * upstream answers them. `pathName`, when given, is the name; a body name must then agree.
 */
export function parseGroup(raw: unknown, pathName?: string): CloudInitGroup {
  if (!isPlainObject(raw)) throw groupError("expected a JSON object (GroupData)");
  const b = objectBody(raw, ["name", "description", "meta-data", "file", "versions"] as const);
  const text = (v: unknown, path: string) => {
    if (v === undefined || v === null) return "";
    if (typeof v !== "string") throw groupError(`${path} must be a string`);
    return v;
  };
  const bodyName = text(b.name, "name");
  let name: string;
  if (pathName !== undefined) {
    name = groupName(pathName);
    if (bodyName !== "" && groupName(bodyName) !== name)
      throw groupError(`name in the body ('${bodyName}') does not match the name in the path ('${pathName}')`);
  } else {
    name = groupName(bodyName);
  }
  const metaData = b["meta-data"];
  if (metaData !== undefined && metaData !== null && !isPlainObject(metaData))
    throw groupError("meta-data must be a JSON object (key: value pairs merged into each member's meta-data)");
  const versions = b.versions;
  if (versions !== undefined && versions !== null) {
    if (!isPlainObject(versions) || Object.values(versions).some((v) => typeof v !== "string"))
      throw groupError("versions must be an object of strings");
  }
  return {
    name,
    description: text(b.description, "description"),
    metaData: isPlainObject(metaData) ? metaData : null,
    file: parseFile(b.file),
    versions: isPlainObject(versions) ? (versions as Record<string, string>) : null,
  };
}

function parseFile(raw: unknown): CloudInitGroup["file"] {
  if (raw === undefined || raw === null) return { content: "", filename: "", encoding: "" };
  if (!isPlainObject(raw)) throw groupError("file must be an object {content, encoding, filename}");
  const content = getKey(raw, "content") ?? "";
  const filename = getKey(raw, "filename") ?? "";
  const encoding = getKey(raw, "encoding") ?? "";
  if (typeof content !== "string") throw groupError("file.content must be a string");
  if (typeof filename !== "string") throw groupError("file.filename must be a string");
  if (encoding !== "" && encoding !== "plain" && encoding !== "base64")
    throw groupError(`file.encoding must be "plain" or "base64", got ${JSON.stringify(encoding)}`);
  if (encoding === "base64" && decodeBase64(content) === undefined)
    throw groupError("file.content is not valid base64 (standard alphabet, padded), but file.encoding is base64");
  // Upstream leaves the encoding empty when none is sent, and ochami's `group get config` then
  // fails on the group; content without an encoding is plain text.
  return { content, filename, encoding: encoding === "" && content !== "" ? "plain" : encoding };
}

/**
 * Go's base64.StdEncoding: standard alphabet, padding required; CR and LF are skipped. Returns
 * undefined for anything else.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  const s = text.replace(/[\r\n]/g, "");
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  try {
    return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/**
 * Upstream's GroupData JSON: `file` always present with `content` and `filename`, `encoding`
 * only when set; other fields omitted when empty.
 */
export function groupJson(g: CloudInitGroup): Record<string, unknown> {
  const out: Record<string, unknown> = { name: g.name };
  if (g.description) out.description = g.description;
  if (g.metaData && Object.keys(g.metaData).length) out["meta-data"] = g.metaData;
  const file: Record<string, string> = { content: g.file.content, filename: g.file.filename };
  if (g.file.encoding) file.encoding = g.file.encoding;
  out.file = file;
  if (g.versions && Object.keys(g.versions).length) out.versions = g.versions;
  return out;
}

// ----------------------------------------------------------------------------- instance info

export interface InstanceInfo {
  /** The node's xname. */
  id: string;
  /** Explicit instance-id; "" = derived from the xname. */
  instanceId: string;
  localHostname: string;
  hostname: string;
  clusterName: string;
  region: string;
  availabilityZone: string;
  cloudProvider: string;
  instanceType: string;
  cloudInitBaseUrl: string;
  publicKeys: string[];
}

const INSTANCE_KEYS = [
  ["instance-id", "instanceId"],
  ["local-hostname", "localHostname"],
  ["hostname", "hostname"],
  ["cluster-name", "clusterName"],
  ["region", "region"],
  ["availability-zone", "availabilityZone"],
  ["cloud-provider", "cloudProvider"],
  ["instance-type", "instanceType"],
  ["cloud-init-base-url", "cloudInitBaseUrl"],
] as const satisfies ReadonlyArray<readonly [string, keyof InstanceInfo]>;

/** A node id from a path: an xname, normalised as SMD stores component IDs. */
export function nodeId(raw: string): string {
  const x = parseXname(raw);
  if (!x) throw new HttpProblem(400, `'${raw}' is not a valid xname`);
  return x.id;
}

/** An OpenCHAMIInstanceInfo body for node `id` (the path's); a body `id` must agree. */
export function parseInstanceInfo(raw: unknown, id: string): InstanceInfo {
  const keys = ["id", "public-keys", ...INSTANCE_KEYS.map(([k]) => k)] as const;
  const b = objectBody(raw, keys);
  const bodyId = optString(b.id, "id")?.trim();
  if (bodyId && parseXname(bodyId)?.id !== id)
    throw new HttpProblem(400, `id in the body ('${bodyId}') does not match the node in the path ('${id}')`);
  const info: InstanceInfo = { ...EMPTY_INSTANCE, id, publicKeys: publicKeys(b["public-keys"], "public-keys") };
  for (const [key, field] of INSTANCE_KEYS) (info as any)[field] = optString(b[key], key)?.trim() ?? "";
  info.cloudInitBaseUrl = info.cloudInitBaseUrl.replace(/\/+$/, "");
  if (info.cloudInitBaseUrl && !isHttpUrl(info.cloudInitBaseUrl))
    throw new HttpProblem(400, `cloud-init-base-url must be an http(s) URL, got '${info.cloudInitBaseUrl}'`);
  return info;
}

export const EMPTY_INSTANCE: InstanceInfo = {
  id: "",
  instanceId: "",
  localHostname: "",
  hostname: "",
  clusterName: "",
  region: "",
  availabilityZone: "",
  cloudProvider: "",
  instanceType: "",
  cloudInitBaseUrl: "",
  publicKeys: [],
};

/** Upstream's JSON (id and instance-id always, the rest when set), with the effective instance-id. */
export function instanceInfoJson(info: InstanceInfo, instanceId: string): Record<string, unknown> {
  const out: Record<string, unknown> = { id: info.id, "instance-id": instanceId };
  for (const [key, field] of INSTANCE_KEYS) if (field !== "instanceId" && info[field]) out[key] = info[field];
  if (info.publicKeys.length) out["public-keys"] = info.publicKeys;
  return out;
}

// ----------------------------------------------------------------------------- shared checks

function publicKeys(v: unknown, path: string): string[] {
  return (optStringArray(v, path) ?? []).map((k) => k.trim()).filter((k) => k !== "");
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}
