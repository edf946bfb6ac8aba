import { parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { decodeError, objectBody, optArray, optString, optStringArray } from "../../http/decode";
import { isPlainObject } from "../../http/json-keys";
import { canonicalValue } from "../../smd/hms-values";

/**
 * Boot parameters as BSS clients send and read them (bssTypes.BootParams), and how this service
 * stores them: a deduplicated config (kernel, initrd, params, cloud-init) plus one assignment per
 * identifier. Pure: no I/O.
 */

export type AssignmentKind = "xname" | "mac" | "nid" | "role" | "default";

export interface Identifier {
  kind: AssignmentKind;
  key: string;
}

export const DEFAULT_KEY = "Default";

export interface PhoneHome {
  pub_key_dsa: string;
  pub_key_rsa: string;
  pub_key_ecdsa: string;
  pub_key_ed25519: string;
  instance_id: string;
  hostname: string;
  fqdn: string;
}

export interface CloudInit {
  "meta-data": Record<string, unknown> | null;
  "user-data": Record<string, unknown> | null;
  "phone-home": PhoneHome;
}

const PHONE_HOME_KEYS = ["pub_key_dsa", "pub_key_rsa", "pub_key_ecdsa", "pub_key_ed25519", "instance_id", "hostname", "fqdn"] as const;

export function zeroCloudInit(): CloudInit {
  return {
    "meta-data": null,
    "user-data": null,
    "phone-home": Object.fromEntries(PHONE_HOME_KEYS.map((k) => [k, ""])) as unknown as PhoneHome,
  };
}

/** What a config holds; `cloudInit` is the canonical JSON text (the dedup key compares it). */
export interface ConfigContent {
  kernel: string;
  initrd: string;
  params: string;
  cloudInit: string;
}

/** A request body, validated: every identifier it names, and the config fields it gave. */
export interface BootParamsInput {
  identifiers: Identifier[];
  kernel: string;
  initrd: string;
  params: string;
  cloudInit: CloudInit;
}

const BODY_KEYS = ["hosts", "macs", "nids", "params", "kernel", "initrd", "cloud-init"] as const;

/** Largest NID: bssTypes.BootParams.Nids is []int32. */
const MAX_NID = 2 ** 31 - 1;

/**
 * Validates a /bootparameters body. Keys are matched case-insensitively (Go's encoding/json).
 * `hosts` may hold Node xnames, SMD role names (`Compute`) and `Default`; MACs may be spelt any
 * usual way and are stored lower-case with colons. Unknown keys are ignored, as Go does.
 */
export function parseBootParams(raw: unknown): BootParamsInput {
  const b = objectBody(raw, BODY_KEYS);
  const identifiers: Identifier[] = [];
  for (const h of optStringArray(b.hosts, "hosts") ?? []) identifiers.push(hostIdentifier(h));
  for (const m of optStringArray(b.macs, "macs") ?? []) identifiers.push(macIdentifier(m));
  (optArray(b.nids, "nids") ?? []).forEach((n, i) => identifiers.push(nidIdentifier(n, `nids[${i}]`)));
  return {
    identifiers: unique(identifiers),
    kernel: imageUrl(b.kernel, "kernel"),
    initrd: imageUrl(b.initrd, "initrd"),
    params: kernelParams(b.params),
    cloudInit: parseCloudInit(b["cloud-init"]),
  };
}

/** A `hosts` entry: `Default`, a role name, or a Node xname (anything else is a 400). */
export function hostIdentifier(raw: string): Identifier {
  const h = raw.trim();
  if (h.toLowerCase() === DEFAULT_KEY.toLowerCase()) return { kind: "default", key: DEFAULT_KEY };
  const role = canonicalValue("Role", h);
  if (role) return { kind: "role", key: role };
  const x = parseXname(h);
  if (!x) throw new HttpProblem(400, `Bad Request: invalid xname: ${raw}`);
  if (x.type !== "Node") throw new HttpProblem(400, `Bad Request: invalid xname type: ${x.type}`);
  return { kind: "xname", key: x.id };
}

export function macIdentifier(raw: string): Identifier {
  const r = parseMac(raw);
  if (!r.ok) throw new HttpProblem(400, `Bad Request: invalid MAC address format: ${raw}`);
  return { kind: "mac", key: r.mac };
}

function nidIdentifier(v: unknown, path: string): Identifier {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\s*[0-9]+\s*$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_NID) {
    if (typeof v === "number" || typeof v === "string") throw new HttpProblem(400, `Bad Request: invalid nid: ${v}`);
    throw decodeError(path, "an integer", v);
  }
  return { kind: "nid", key: String(n) };
}

function unique(ids: Identifier[]): Identifier[] {
  const seen = new Set<string>();
  return ids.filter((i) => {
    const k = `${i.kind} ${i.key}`;
    return seen.has(k) ? false : (seen.add(k), true);
  });
}

/**
 * Kernel and initrd are placed on an iPXE command line as one word: a space would split the
 * command and a line break would inject another one, so both are refused.
 */
function imageUrl(v: unknown, field: string): string {
  const s = (optString(v, field) ?? "").trim();
  if (/[\s\u0000-\u001f\u007f]/.test(s))
    throw new HttpProblem(400, `Bad Request: ${field} must be one URL without spaces or control characters`);
  return s;
}

/** The kernel command line is one iPXE line: line breaks and other control characters are refused. */
function kernelParams(v: unknown): string {
  const s = optString(v, "params") ?? "";
  if (/[\u0000-\u001f\u007f]/.test(s)) throw new HttpProblem(400, "Bad Request: params must not contain line breaks or control characters");
  return s.trim();
}

/** The `cloud-init` object in upstream's shape; absent or null is the zero object ochami sends. */
export function parseCloudInit(v: unknown): CloudInit {
  const out = zeroCloudInit();
  if (v === undefined || v === null) return out;
  const b = objectBody(v, ["meta-data", "user-data", "phone-home"] as const, "cloud-init");
  out["meta-data"] = objectOrNull(b["meta-data"], "cloud-init.meta-data");
  out["user-data"] = objectOrNull(b["user-data"], "cloud-init.user-data");
  if (b["phone-home"] !== undefined && b["phone-home"] !== null) {
    const ph = objectBody(b["phone-home"], PHONE_HOME_KEYS, "cloud-init.phone-home");
    for (const k of PHONE_HOME_KEYS) out["phone-home"][k] = optString(ph[k], `cloud-init.phone-home.${k}`) ?? "";
  }
  return out;
}

function objectOrNull(v: unknown, path: string): Record<string, unknown> | null {
  if (v === undefined || v === null) return null;
  if (!isPlainObject(v)) throw decodeError(path, "a JSON object or null", v);
  return v;
}

/** Wire form, upstream's field order; `pub_key_ed25519` is omitted when empty (omitempty). */
export function cloudInitJson(ci: CloudInit): Record<string, unknown> {
  const ph: Record<string, string> = {};
  for (const k of PHONE_HOME_KEYS) if (k !== "pub_key_ed25519" || ci["phone-home"][k]) ph[k] = ci["phone-home"][k];
  return { "meta-data": ci["meta-data"], "user-data": ci["user-data"], "phone-home": ph };
}

export function canonicalCloudInit(ci: CloudInit): string {
  return JSON.stringify(cloudInitJson(ci));
}

export function readCloudInit(stored: string): CloudInit {
  return parseCloudInit(JSON.parse(stored));
}

export function contentOf(input: BootParamsInput): ConfigContent {
  return { kernel: input.kernel, initrd: input.initrd, params: input.params, cloudInit: canonicalCloudInit(input.cloudInit) };
}

/** True when a PATCH body asks to change at least one config field. */
export function hasChanges(input: BootParamsInput): boolean {
  return (
    input.kernel !== "" ||
    input.initrd !== "" ||
    input.params !== "" ||
    canonicalCloudInit(input.cloudInit) !== canonicalCloudInit(zeroCloudInit())
  );
}

/**
 * PATCH (`ochami bss boot params update`): every non-empty field of the request replaces the
 * stored one; empty fields keep it. Inside cloud-init the same rule holds per part (meta-data,
 * user-data, each phone-home field), so the all-zero object ochami always sends changes nothing.
 */
export function mergeContent(old: ConfigContent, patch: BootParamsInput): ConfigContent {
  const ci = readCloudInit(old.cloudInit);
  if (patch.cloudInit["meta-data"] !== null) ci["meta-data"] = patch.cloudInit["meta-data"];
  if (patch.cloudInit["user-data"] !== null) ci["user-data"] = patch.cloudInit["user-data"];
  for (const k of PHONE_HOME_KEYS) if (patch.cloudInit["phone-home"][k]) ci["phone-home"][k] = patch.cloudInit["phone-home"][k];
  return {
    kernel: patch.kernel || old.kernel,
    initrd: patch.initrd || old.initrd,
    params: patch.params || old.params,
    cloudInit: canonicalCloudInit(ci),
  };
}

/** One GET element: the config and the identifiers asked about (all of them for an unfiltered GET). */
export function bootParamsJson(content: ConfigContent, ids: Identifier[]): Record<string, unknown> {
  const hosts = ids.filter((i) => i.kind === "xname" || i.kind === "role" || i.kind === "default").map((i) => i.key);
  const macs = ids.filter((i) => i.kind === "mac").map((i) => i.key);
  const nids = ids.filter((i) => i.kind === "nid").map((i) => Number(i.key));
  const out: Record<string, unknown> = {};
  if (hosts.length) out.hosts = hosts;
  if (macs.length) out.macs = macs;
  if (nids.length) out.nids = nids;
  if (content.params) out.params = content.params;
  if (content.kernel) out.kernel = content.kernel;
  if (content.initrd) out.initrd = content.initrd;
  out["cloud-init"] = cloudInitJson(readCloudInit(content.cloudInit));
  return out;
}

/** Sort order of identifiers inside one element: hosts (Default, roles, xnames), MACs, NIDs numerically. */
const KIND_ORDER: Record<AssignmentKind, number> = { default: 0, role: 1, xname: 2, mac: 3, nid: 4 };

export function compareIdentifiers(a: Identifier, b: Identifier): number {
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  if (a.kind === "nid") return Number(a.key) - Number(b.key);
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/** `hosts=[x1 Default] macs=[…] nids=[…]`, for messages; empty lists are left out. */
export function describeIdentifiers(ids: Identifier[]): string {
  const hosts = ids.filter((i) => i.kind !== "mac" && i.kind !== "nid").map((i) => i.key);
  const macs = ids.filter((i) => i.kind === "mac").map((i) => i.key);
  const nids = ids.filter((i) => i.kind === "nid").map((i) => i.key);
  return [
    hosts.length ? `hosts=[${hosts.join(" ")}]` : "",
    macs.length ? `macs=[${macs.join(" ")}]` : "",
    nids.length ? `nids=[${nids.join(" ")}]` : "",
  ]
    .filter(Boolean)
    .join(" ");
}

/**
 * Upstream's 404 for a filtered GET that found nothing: "Cannot find boot parameters for
 * requested Hosts or MACs", naming the kinds of filter given.
 */
export function notFoundDetail(kinds: { hosts: boolean; macs: boolean; nids: boolean }): string {
  const objs = [kinds.hosts && "Hosts", kinds.macs && "MACs", kinds.nids && "NIDs"].filter(Boolean) as string[];
  if (objs.length === 0) return "Cannot find boot parameters";
  const last = objs.pop()!;
  return `Cannot find boot parameters for requested ${objs.length ? `${objs.join(", ")} or ` : ""}${last}`;
}
