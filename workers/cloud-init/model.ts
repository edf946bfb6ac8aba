import { z } from "zod";
import { HttpProblem } from "../../shared/problem";
import { parseXname } from "../../shared/xname";
import type { ClusterDefaults, FileEncoding, InstanceInfo } from "../boot/types";
import { goInt, goObject, opt } from "../http/wire";

/**
 * The admin data of the cloud-init server, in upstream's JSON shapes (pkg/cistore models):
 * ClusterDefaults, GroupData and OpenCHAMIInstanceInfo. Keys are matched case-insensitively, as
 * Go's encoding/json does; unknown keys are ignored.
 */

// ----------------------------------------------------------------------------- cluster defaults

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

const text = opt(z.string());
const keyList = opt(z.array(z.string())).meta({ description: "SSH public keys" });

/**
 * A ClusterDefaults body; absent fields are "" / [] / 0, as Go decodes them. Upstream's key for
 * the provider is `cloud_provider`; its own README and demo write `cloud-provider`, which upstream
 * silently drops. We accept both.
 */
export const ClusterDefaultsBody = goObject(
  {
    cloud_provider: text,
    "cloud-provider": text,
    region: text,
    "availability-zone": text,
    "cluster-name": text.meta({ example: "demo" }),
    "public-keys": keyList,
    "base-url": text.meta({ description: "where nodes fetch their group files (vendor-data includes)" }),
    "boot-subnet": text,
    "wg-subnet": text,
    "short-name": text.meta({ description: "generated hostnames: short-name + NID", example: "nid" }),
    "nid-length": opt(goInt).meta({ description: "digits of the NID in generated hostnames (0 = 4)", example: 3 }),
  },
  { id: "ClusterDefaults" },
);

export function parseClusterDefaults(b: z.output<typeof ClusterDefaultsBody>): ClusterDefaults {
  const str = (v: string | null | undefined) => v?.trim() ?? "";
  const nidLength = b["nid-length"] ?? 0;
  if (nidLength < 0 || nidLength > 32) throw new HttpProblem(400, "nid-length must be an integer from 0 to 32");
  const baseUrl = str(b["base-url"]).replace(/\/+$/, "");
  if (baseUrl !== "" && !isHttpUrl(baseUrl)) throw new HttpProblem(400, `base-url must be an http(s) URL, got '${baseUrl}'`);
  return {
    cloudProvider: str(b.cloud_provider) || str(b["cloud-provider"]),
    region: str(b.region),
    availabilityZone: str(b["availability-zone"]),
    clusterName: str(b["cluster-name"]),
    publicKeys: publicKeys(b["public-keys"]),
    baseUrl,
    bootSubnet: str(b["boot-subnet"]),
    wgSubnet: str(b["wg-subnet"]),
    shortName: str(b["short-name"]),
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
    if (Array.isArray(v) ? v.length > 0 : v !== "" && v !== 0) Object.assign(out, { [field]: v });
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

const GroupFileBody = goObject(
  {
    content: opt(z.string({ error: "file.content must be a string" })).meta({ description: "a cloud-config, as text or base64" }),
    filename: opt(z.string({ error: "file.filename must be a string" })),
    encoding: opt(z.unknown()).meta({ type: "string", enum: ["plain", "base64"] }),
  },
  undefined,
  { notObject: "file must be an object {content, encoding, filename}" },
);

/** A GroupData body (POST /admin/groups, PUT /admin/groups/{name}); invalid groups are 422, as upstream answers them. */
export const GroupBody = goObject(
  {
    name: opt(z.string({ error: "name must be a string" })).meta({ description: "an SMD group label", example: "compute" }),
    description: opt(z.string({ error: "description must be a string" })),
    "meta-data": opt(
      z.record(z.string(), z.unknown(), {
        error: "meta-data must be a JSON object (key: value pairs merged into each member's meta-data)",
      }),
    ).meta({ description: "merged into each member's meta-data under vendor_data.groups.<name>" }),
    file: opt(GroupFileBody),
    versions: opt(
      z.record(z.string(), z.string({ error: "versions must be an object of strings" }), {
        error: "versions must be an object of strings",
      }),
    ),
  },
  { id: "CloudInitGroup" },
  { notObject: "expected a JSON object (GroupData)" },
);

/** A group from its body; `pathName`, when given, is the name, and a body name must then agree. */
export function parseGroup(b: z.output<typeof GroupBody>, pathName?: string): CloudInitGroup {
  const bodyName = b.name ?? "";
  let name: string;
  if (pathName !== undefined) {
    name = groupName(pathName);
    if (bodyName !== "" && groupName(bodyName) !== name)
      throw groupError(`name in the body ('${bodyName}') does not match the name in the path ('${pathName}')`);
  } else {
    name = groupName(bodyName);
  }
  return {
    name,
    description: b.description ?? "",
    metaData: b["meta-data"] ?? null,
    file: groupFileOf(b.file),
    versions: b.versions ?? null,
  };
}

function groupFileOf(f: z.output<typeof GroupFileBody> | null | undefined): CloudInitGroup["file"] {
  if (!f) return { content: "", filename: "", encoding: "" };
  const content = f.content ?? "";
  const encoding = f.encoding ?? "";
  if (encoding !== "" && encoding !== "plain" && encoding !== "base64")
    throw groupError(`file.encoding must be "plain" or "base64", got ${JSON.stringify(encoding)}`);
  if (encoding === "base64" && decodeBase64(content) === undefined)
    throw groupError("file.content is not valid base64 (standard alphabet, padded), but file.encoding is base64");
  // Upstream leaves the encoding empty when none is sent, and ochami's `group get config` then
  // fails on the group; content without an encoding is plain text.
  return { content, filename: f.filename ?? "", encoding: encoding === "" && content !== "" ? "plain" : encoding };
}

/**
 * Go's base64.StdEncoding: standard alphabet, padding required; CR and LF are skipped. Returns
 * undefined for anything else.
 */
export function decodeBase64(text: string): Uint8Array | undefined {
  const s = text.replace(/[\r\n]/g, "");
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) return undefined;
  let binary: string;
  try {
    binary = atob(s);
  } catch {
    return undefined;
  }
  // A plain loop: Uint8Array.from(binary, mapFn) took 54 ms for 700 kB in Node 20, this 8 (atob included).
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
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

/** An OpenCHAMIInstanceInfo body: the node's own values, overriding the cluster's. */
export const InstanceInfoBody = goObject(
  {
    id: text.meta({ description: "the node's xname; must be the path's when given" }),
    "public-keys": keyList,
    ...(Object.fromEntries(INSTANCE_KEYS.map(([key]) => [key, text])) as Record<(typeof INSTANCE_KEYS)[number][0], typeof text>),
  },
  { id: "InstanceInfo" },
);

/** The instance-info of node `id` (the path's) from its body. */
export function parseInstanceInfo(b: z.output<typeof InstanceInfoBody>, id: string): InstanceInfo {
  const bodyId = b.id?.trim();
  if (bodyId && parseXname(bodyId)?.id !== id)
    throw new HttpProblem(400, `id in the body ('${bodyId}') does not match the node in the path ('${id}')`);
  const info: InstanceInfo = { ...EMPTY_INSTANCE, id, publicKeys: publicKeys(b["public-keys"]) };
  for (const [key, field] of INSTANCE_KEYS) info[field] = b[key]?.trim() ?? "";
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

function publicKeys(v: string[] | null | undefined): string[] {
  return (v ?? []).map((k) => k.trim()).filter((k) => k !== "");
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:";
  } catch {
    return false;
  }
}
