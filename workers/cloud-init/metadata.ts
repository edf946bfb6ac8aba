import type { ClusterDefaults, NodeView } from "../boot/types";
import { type OrderedMap, renderYaml, scalarStyle, type YamlValue } from "./yaml";

/**
 * The NoCloud documents a node receives, built from what is known about it (pure: no I/O, so
 * tests and the impersonation API build exactly what a node gets).
 */

/** Upstream's user-data: an empty cloud-config, exactly these 13 bytes. */
export const USER_DATA = "#cloud-config";

const INSTANCE_ID_DOMAIN = "ochami-edge cloud-init instance-id\0";

/**
 * A node's instance-id when none is set explicitly: `i-` and 16 hex digits of SHA-256 of its
 * xname. Derived rather than stored, so it is stable across restarts and database rebuilds, and
 * serving meta-data never writes. PUT /admin/instance-info/{id} with an `instance-id` overrides it
 * (which makes cloud-init treat the node as a new instance).
 */
export async function derivedInstanceId(xname: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", utf8.encode(INSTANCE_ID_DOMAIN + xname)));
  let id = "i-";
  for (let i = 0; i < 8; i++) id += HEX_BYTE[digest[i]];
  return id;
}

// Made once: every meta-data request of a node without an instance-id of its own derives one (a
// TextEncoder per call was one more object for workerd to destroy, and 32 hex strings for 8 bytes).
const utf8 = new TextEncoder();
const HEX_BYTE = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, "0"));

export async function instanceIdOf(view: Pick<NodeView, "id" | "instance">): Promise<string> {
  return view.instance?.instanceId || derivedInstanceId(view.id);
}

/**
 * Upstream's generated hostname: the cluster's short name (else the first two characters of its
 * name) followed by the NID zero-padded to nid-length digits (else 4). A node without a NID is 0.
 */
export function generateHostname(defaults: ClusterDefaults, clusterName: string, nid: number): string {
  const prefix = defaults.shortName || [...clusterName].slice(0, 2).join("");
  const width = defaults.nidLength || 4;
  const n = Math.max(nid, 0);
  return prefix + String(n).padStart(width, "0");
}

/** Cluster values a node's instance-info may override (upstream stores those overrides but ignores them). */
function effective(view: NodeView) {
  const d = view.defaults;
  const i = view.instance;
  return {
    clusterName: i?.clusterName || d.clusterName,
    region: i?.region || d.region,
    availabilityZone: i?.availabilityZone || d.availabilityZone,
    cloudProvider: i?.cloudProvider || d.cloudProvider,
    baseUrl: i?.cloudInitBaseUrl || d.baseUrl,
  };
}

/**
 * The meta-data document, field for field as upstream's cloud-init server lays it out: fixed
 * field order, optional fields omitted when empty, `local_ipv4` and `groups` always present.
 * Each of the node's SMD groups appears under vendor_data.groups with its description (or "No
 * description Found") and its cloud-init meta-data merged in.
 */
export function metaDataDocument(view: NodeView, instanceId: string, generated = generatedHostnameOf(view)): OrderedMap {
  const eff = effective(view);
  const byName = new Map(view.groupData.map((g) => [g.name, g]));
  const groups: Record<string, YamlValue> = {};
  for (const label of view.groups) {
    const g = byName.get(label);
    groups[label] = { Description: g?.description || "No description Found", ...(g?.metaData as Record<string, YamlValue>) };
  }
  const publicKeys = [...new Set([...view.defaults.publicKeys, ...(view.instance?.publicKeys ?? [])])];

  const vendorData = fields([
    ["version", "1.0"],
    ["cloud_init_base_url", eff.baseUrl],
    ["cluster_name", eff.clusterName],
    ["groups", groups],
  ]);
  const v1 = fields([
    ["availability_zone", eff.availabilityZone],
    ["instance_id", instanceId],
    ["instance_type", view.instance?.instanceType ?? ""],
    ["region", eff.region],
    ["local_ipv4", { always: view.ip }],
    ["cloud_provider", eff.cloudProvider],
    ["public_keys", publicKeys],
    ["vendor_data", vendorData],
  ]);
  return new Map<string, YamlValue>([
    ["instance-id", instanceId],
    ["local-hostname", view.instance?.localHostname || generated],
    ["hostname", view.instance?.hostname || generated],
    ["cluster-name", eff.clusterName],
    ["instance_data", new Map([["v1", v1]])],
  ]);
}

/** The hostname the node gets unless its instance-info names one. */
function generatedHostnameOf(view: NodeView): string {
  return generateHostname(view.defaults, effective(view).clusterName, view.nid);
}

/** An ordered map of the non-empty fields (Go's omitempty); `{always: v}` is kept even when empty. */
function fields(entries: Array<[string, YamlValue | { always: string }]>): OrderedMap {
  const out = new Map<string, YamlValue>();
  for (const [k, v] of entries) {
    if (v !== null && typeof v === "object" && "always" in v) out.set(k, (v as { always: string }).always);
    else if (v !== "" && !(Array.isArray(v) && v.length === 0)) out.set(k, v as YamlValue);
  }
  return out;
}

export function renderMetaData(view: NodeView, instanceId: string): string {
  return renderYaml(metaDataDocument(view, instanceId));
}

/**
 * meta-data for many nodes at once. Without instance-info of its own, a node's document differs
 * from another's with the same groups only in its instance-id, generated hostname and IP; rendering
 * YAML was most of a meta-data request's cost, so the rest is rendered once per group list
 * (`template`, which the caller keeps) with markers where those go, and each node's text is the
 * template with its values put in. Only values written as they are (plain style: `i-<hex>`,
 * `nid000042`, `10.0.0.5`) are put in so; for anything else, or a template whose markers are not
 * where expected, the node's document is rendered whole. Always renderMetaData's text.
 */
export async function renderMetaDataShared(
  view: NodeView,
  instanceId: string,
  template: (build: () => MetaDataTemplate | undefined) => Promise<MetaDataTemplate | undefined>,
): Promise<string> {
  const values: Record<Slot, string> = { instanceId, hostname: generatedHostnameOf(view), ip: view.ip };
  if (view.instance || !Object.values(values).every(verbatim)) return renderMetaData(view, instanceId);
  const t = await template(() => metaDataTemplate(view));
  if (!t) return renderMetaData(view, instanceId);
  let text = t.parts[0];
  for (let i = 0; i < t.slots.length; i++) text += values[t.slots[i]] + t.parts[i + 1];
  return text;
}

type Slot = "instanceId" | "hostname" | "ip";
const MARKERS: Record<Slot, string> = { instanceId: "ochamiSlotInstanceId7q", hostname: "ochamiSlotHostname7q", ip: "ochamiSlotIp7q" };
/** Where each slot appears in the document: instance-id and instance_id, local-hostname and hostname, local_ipv4. */
const SLOT_COUNTS: Record<Slot, number> = { instanceId: 2, hostname: 2, ip: 1 };

/** The text around the per-node values, in order, and which value goes between each two parts. */
export interface MetaDataTemplate {
  parts: string[];
  slots: Slot[];
}

/** A value the YAML writer puts down as it is (plain style, nothing that could change how it reads). */
const verbatim = (s: string) => /^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(s) && scalarStyle(s) === "PLAIN";

function metaDataTemplate(view: NodeView): MetaDataTemplate | undefined {
  const text = renderYaml(metaDataDocument({ ...view, ip: MARKERS.ip }, MARKERS.instanceId, MARKERS.hostname));
  const bySlot = new Map(Object.entries(MARKERS).map(([slot, marker]) => [marker, slot as Slot]));
  const pieces = text.split(new RegExp(`(${Object.values(MARKERS).join("|")})`));
  const parts = pieces.filter((_, i) => i % 2 === 0);
  const slots = pieces.filter((_, i) => i % 2 === 1).map((m) => bySlot.get(m)!);
  for (const [slot, n] of Object.entries(SLOT_COUNTS)) if (slots.filter((s) => s === slot).length !== n) return undefined;
  return { parts, slots };
}

/**
 * Where the node fetches its group files: instance-info's cloud-init-base-url, else the cluster's
 * base-url, else `fallback` (the API's node-facing URL + /cloud-init).
 */
export function includeBase(view: NodeView, fallback: string): string {
  return (effective(view).baseUrl || fallback).replace(/\/+$/, "");
}

/**
 * vendor-data: an `#include` of `first` (the cluster CA's cloud-config, when there is one) and of
 * the node's group files, in SMD label order. Only groups that have
 * a file are listed (upstream lists every SMD group, so a node fetched an empty `#cloud-config`
 * for each group without one: one wasted request per group per node in a boot storm).
 */
export function renderVendorData(view: NodeView, base: string, first: readonly string[] = []): string {
  const lines = ["#include", ...first.map((file) => `${base}/${file}`)];
  const withFile = new Set(view.groupData.filter((g) => g.hasFile).map((g) => g.name));
  for (const label of view.groups) if (withFile.has(label)) lines.push(`${base}/${label}.yaml`);
  return lines.map((l) => `${l}\n`).join("");
}
