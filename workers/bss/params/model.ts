import { z } from "zod";
import { parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { goObject, opt } from "../../http/wire";
import { canonicalValue } from "../../smd/hms-values";
import { describeIpxeSyntax, ipxeSyntaxInParams, ipxeSyntaxInUrl } from "./ipxe-syntax";

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
type PhoneHomeKey = (typeof PHONE_HOME_KEYS)[number];

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

/** Largest NID: bssTypes.BootParams.Nids is []int32. */
const MAX_NID = 2 ** 31 - 1;

const stringList = z.array(z.string());

const PhoneHomeBody = goObject(
  Object.fromEntries(PHONE_HOME_KEYS.map((k) => [k, opt(z.string())])) as Record<PhoneHomeKey, z.ZodOptional<z.ZodNullable<z.ZodString>>>,
);

const CloudInitBody = goObject({
  "meta-data": opt(z.record(z.string(), z.unknown(), { error: "expected a JSON object or null" })),
  "user-data": opt(z.record(z.string(), z.unknown(), { error: "expected a JSON object or null" })),
  "phone-home": opt(PhoneHomeBody),
});

/**
 * A /bootparameters body as clients send it (bssTypes.BootParams), keys case-insensitive as Go
 * reads them; unknown keys are ignored. `hosts` may hold Node xnames, SMD role names (`Compute`)
 * and `Default`; MACs may be spelt any usual way. parseBootParams checks what the values mean.
 */
export const BootParamsBody = goObject(
  {
    hosts: opt(stringList).meta({ description: "Node xnames, SMD roles (Compute) or Default", example: ["x1000c0s0b0n0"] }),
    macs: opt(stringList).meta({ example: ["52:54:00:be:ef:01"] }),
    nids: opt(z.array(z.union([z.number(), z.string()], { error: "expected an integer" }))).meta({ example: [1] }),
    params: opt(z.string()).meta({
      description: "the kernel command line",
      example: "console=ttyS0 root=live:http://10.0.0.1:8080/rootfs",
    }),
    kernel: opt(z.string()).meta({ example: "http://10.0.0.1:8080/compute/vmlinuz" }),
    initrd: opt(z.string()).meta({ example: "http://10.0.0.1:8080/compute/initramfs.img" }),
    "cloud-init": opt(CloudInitBody),
  },
  { id: "BootParameters", description: "Boot parameters and the nodes (hosts, MACs, NIDs) that boot them" },
);

type BootParamsWire = z.output<typeof BootParamsBody>;

/** Validates what a /bootparameters body means; its shape is BootParamsBody's. */
export function parseBootParams(b: BootParamsWire | undefined): BootParamsInput {
  const identifiers: Identifier[] = [];
  for (const h of b?.hosts ?? []) identifiers.push(hostIdentifier(h));
  for (const m of b?.macs ?? []) identifiers.push(macIdentifier(m));
  for (const n of b?.nids ?? []) identifiers.push(nidIdentifier(n));
  return {
    identifiers: unique(identifiers),
    kernel: imageUrl(b?.kernel, "kernel"),
    initrd: imageUrl(b?.initrd, "initrd"),
    params: kernelParams(b?.params),
    cloudInit: cloudInitOf(b?.["cloud-init"]),
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

function nidIdentifier(v: number | string): Identifier {
  const n = typeof v === "number" ? v : /^\s*[0-9]+\s*$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > MAX_NID) throw new HttpProblem(400, `Bad Request: invalid nid: ${v}`);
  return { kind: "nid", key: String(n) };
}

function unique(ids: Identifier[]): Identifier[] {
  const seen = new Set<string>();
  return ids.filter((i) => {
    const k = `${i.kind} ${i.key}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Kernel and initrd are placed on an iPXE command line as one word: a space would split the
 * command and a line break would inject another one, so both are refused, and so is any word
 * iPXE would act on (ipxe-syntax.ts).
 */
function imageUrl(v: string | null | undefined, field: string): string {
  const s = (v ?? "").trim();
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses.
  if (/[\s\u0000-\u001f\u007f]/.test(s))
    throw new HttpProblem(400, `Bad Request: ${field} must be one URL without spaces or control characters`);
  const syntax = ipxeSyntaxInUrl(s);
  if (syntax.length) throw new HttpProblem(400, `Bad Request: ${describeIpxeSyntax(field, syntax)}`);
  return s;
}

/**
 * The kernel command line is one iPXE line: line breaks and other control characters are refused,
 * and so are the words iPXE would act on (ipxe-syntax.ts); `;` inside a word stays legal.
 */
function kernelParams(v: string | null | undefined): string {
  const s = v ?? "";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses.
  if (/[\u0000-\u001f\u007f]/.test(s)) throw new HttpProblem(400, "Bad Request: params must not contain line breaks or control characters");
  const syntax = ipxeSyntaxInParams(s);
  if (syntax.length) throw new HttpProblem(400, `Bad Request: ${describeIpxeSyntax("params", syntax)}`);
  return s.trim();
}

/** The `cloud-init` object in upstream's shape; absent or null is the zero object ochami sends. */
function cloudInitOf(v: z.output<typeof CloudInitBody> | null | undefined): CloudInit {
  const out = zeroCloudInit();
  if (!v) return out;
  out["meta-data"] = v["meta-data"] ?? null;
  out["user-data"] = v["user-data"] ?? null;
  for (const k of PHONE_HOME_KEYS) out["phone-home"][k] = v["phone-home"]?.[k] ?? "";
  return out;
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

/** A stored config's cloud-init (canonical JSON written by canonicalCloudInit). */
export function readCloudInit(stored: string): CloudInit {
  return cloudInitOf(CloudInitBody.parse(JSON.parse(stored)));
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
