import { normalizeMac } from "../../shared/mac";
import { asList, asString, at, type JsonObject, objectsIn } from "../io/json";
import type { ComponentBody, DiscoveryPayloads, GroupBody } from "./payloads";

/**
 * What `ochami discover static` would change in SMD, item by item: SMD's records as read before
 * writing, compared with what the nodes file makes of them. Only the fields a discovery writes
 * are compared, with SMD's own rules for what a write changes (below); an item that would come
 * out the same is not sent. Pure.
 */
export type Verdict =
  | { kind: "added" }
  | { kind: "unchanged" }
  /** Exists with other values: written with --overwrite, a conflict without. */
  | { kind: "differs"; details: string[] };

/** SMD's records, by ID (interfaces by MAC without separators, as SMD names them). */
export interface SmdSnapshot {
  components: Map<string, JsonObject>;
  endpoints: Map<string, JsonObject>;
  interfaces: Map<string, JsonObject>;
  groups: Map<string, JsonObject>;
}

export const interfaceId = (mac: string) => mac.toLowerCase().replace(/[^0-9a-f]/g, "");

export function byKey(list: JsonObject[], key: (o: JsonObject) => string | undefined): Map<string, JsonObject> {
  const out = new Map<string, JsonObject>();
  for (const o of list) {
    const k = key(o);
    if (k !== undefined) out.set(k, o);
  }
  return out;
}

/** `<what> <SMD's> in SMD, <the file's> in the file`, or nothing when equal. */
function compare(what: string, smd: unknown, file: unknown, out: string[]) {
  const show = (v: unknown) => (v === undefined || v === "" ? "none" : String(v));
  if (show(smd) !== show(file)) out.push(`${what} ${show(smd)} in SMD, ${show(file)} in the file`);
}

/**
 * A component. Without --overwrite SMD keeps an existing one as it is (POST without Force): it
 * conflicts when its NID is not the file's (a State SMD has moved on is no conflict). With
 * --overwrite, upstream's PUT with Force sets State, Flag, Subtype, NetType, Arch and Class
 * (to On, OK and none) and its BulkNID PATCH the NID; Enabled, Role and the rest are kept.
 */
export function componentVerdict(c: ComponentBody, smd: JsonObject | undefined, overwrite: boolean): Verdict {
  if (!smd) return { kind: "added" };
  const details: string[] = [];
  if (c.NID !== undefined) compare("NID", smd.NID, c.NID, details);
  if (overwrite) {
    compare("State", smd.State, c.State, details);
    compare("Flag", smd.Flag ?? "OK", "OK", details);
    for (const k of ["Subtype", "NetType", "Arch", "Class"]) compare(k, smd[k], undefined, details);
  }
  return details.length ? { kind: "differs", details } : { kind: "unchanged" };
}

type Endpoint = DiscoveryPayloads["redfishEndpoints"][number];

/** The EthernetInterfaces SMD makes from an endpoint's Managers (the BMC) and Systems (node k is <bmc>n<k>). */
export function endpointInterfaces(e: Endpoint): Array<{ mac: string; componentId: string; description: string; ips: string[] }> {
  const out: Array<{ mac: string; componentId: string; description: string; ips: string[] }> = [];
  const nics = (owner: unknown, componentId: string) => {
    for (const nic of objectsIn(at(owner, "ethernet_interfaces"))) {
      const ip = asString(nic.ip);
      out.push({ mac: String(nic.mac), componentId, description: asString(nic.description) ?? "", ips: ip ? [ip] : [] });
    }
  };
  for (const m of asList(e.Managers)) nics(m, e.ID);
  asList(e.Systems).forEach((s, k) => {
    nics(s, `${e.ID}n${k}`);
  });
  return out;
}

/** The IPs of an SMD interface record as `ip` or `ip (network)`, sorted. */
function ipsOf(record: JsonObject): string[] {
  return objectsIn(record.IPAddresses)
    .map((a) => (asString(a.Network) ? `${a.IPAddress} (${a.Network})` : String(a.IPAddress)))
    .sort();
}

/**
 * A Redfish endpoint: its own fields (a PUT sets them all, Enabled back to true), the interfaces
 * SMD makes from it, and the node components it describes (`willExist`: those SMD has or this
 * run adds).
 */
export function endpointVerdict(e: Endpoint, snap: SmdSnapshot, willExist: (id: string) => boolean): Verdict {
  const smd = snap.endpoints.get(e.ID);
  const details: string[] = [];
  if (!smd) {
    // A new endpoint whose NICs SMD has already (interfaces outlive a deleted endpoint, or
    // belong to another one): SMD refuses to create them again, so this is no plain addition.
    for (const nic of endpointInterfaces(e)) {
      const record = snap.interfaces.get(interfaceId(nic.mac));
      if (record) details.push(`interface ${nic.mac} exists already, on ${record.ComponentID}`);
    }
    return details.length ? { kind: "differs", details } : { kind: "added" };
  }
  compare("Name", smd.Name, e.Name, details);
  compare("MACAddr", normalizeMac(String(smd.MACAddr ?? "")) ?? smd.MACAddr, e.MACAddr, details);
  compare("IPAddress", smd.IPAddress, e.IPAddress, details);
  compare("UUID", smd.UUID, e.UUID, details);
  if (e.FQDN !== undefined) compare("FQDN", smd.FQDN, e.FQDN, details);
  if (smd.Enabled === false) details.push("Enabled false in SMD");
  for (const nic of endpointInterfaces(e)) {
    const record = snap.interfaces.get(interfaceId(nic.mac));
    if (!record) {
      details.push(`interface ${nic.mac} missing`);
      continue;
    }
    compare(`interface ${nic.mac}: ComponentID`, record.ComponentID, nic.componentId, details);
    // Addresses only: an endpoint's NICs name no network, the one SMD has came from an interface
    // write of its own (--discovery-version 1, `smd iface update`) and is no difference.
    const addresses = objectsIn(record.IPAddresses)
      .map((a) => String(a.IPAddress))
      .sort();
    compare(`interface ${nic.mac}: IPs`, addresses.join(" "), [...nic.ips].sort().join(" "), details);
    compare(`interface ${nic.mac}: Description`, record.Description, nic.description, details);
  }
  asList(e.Systems).forEach((_, k) => {
    if (!willExist(`${e.ID}n${k}`)) details.push(`node ${e.ID}n${k} missing`);
  });
  return details.length ? { kind: "differs", details } : { kind: "unchanged" };
}

type InterfaceBody = DiscoveryPayloads["interfaces"][number];

/** An interface posted on its own: a PATCH sets its ComponentID, Description and IPs. */
export function interfaceVerdict(f: InterfaceBody, smd: JsonObject | undefined): Verdict {
  if (!smd) return { kind: "added" };
  const details: string[] = [];
  compare("ComponentID", smd.ComponentID, f.ComponentID, details);
  compare("Description", smd.Description, f.Description, details);
  const want = objectsIn(f.IPAddresses)
    .map((a) => (asString(a.Network) ? `${a.IPAddress} (${a.Network})` : String(a.IPAddress)))
    .sort();
  compare("IPs", ipsOf(smd).join(" "), want.join(" "), details);
  return details.length ? { kind: "differs", details } : { kind: "unchanged" };
}

export interface GroupVerdict {
  verdict: Verdict;
  /** Description or tags differ (a PATCH sets them). */
  fields: boolean;
  /** Members the files add, and members SMD has that the files do not. */
  add: string[];
  remove: string[];
  /** SMD's members, in its order. */
  current: string[];
}

export function groupVerdict(g: GroupBody, smd: JsonObject | undefined): GroupVerdict {
  if (!smd) return { verdict: { kind: "added" }, fields: true, add: g.members.ids, remove: [], current: [] };
  const details: string[] = [];
  compare("description", smd.description, g.description, details);
  if (g.tags) compare("tags", asList(smd.tags).map(String).sort().join(","), [...g.tags].sort().join(","), details);
  const fields = details.length > 0;
  const current = asList(at(smd, "members", "ids")).map(String);
  const has = new Set(current);
  const want = new Set(g.members.ids);
  const add = g.members.ids.filter((id) => !has.has(id));
  const remove = current.filter((id) => !want.has(id));
  if (add.length) details.push(`${add.length} member${add.length === 1 ? "" : "s"} not in SMD (${add.join(", ")})`);
  if (remove.length) details.push(`${remove.length} member${remove.length === 1 ? "" : "s"} not in the files (${remove.join(", ")})`);
  return { verdict: details.length ? { kind: "differs", details } : { kind: "unchanged" }, fields, add, remove, current };
}

/** Counts and names of one kind of record, for its report line. */
export class Tally {
  readonly added: string[] = [];
  readonly changed: string[] = [];
  readonly unchanged: string[] = [];
  readonly conflicting: Array<{ id: string; details: string[] }> = [];
  failed = 0;

  /** `9 added, 1 changed` — with the IDs when `names` (groups: few, and named by people). */
  summary(names = false): string {
    const part = (n: number, what: string, ids?: string[]) =>
      n ? `${n} ${what}${names && ids?.length ? ` (${ids.join(", ")})` : ""}` : "";
    const parts = [
      part(this.added.length, "added", this.added),
      part(this.changed.length, "changed", this.changed),
      part(this.unchanged.length, "unchanged", this.unchanged),
      part(
        this.conflicting.length,
        "conflicting",
        this.conflicting.map((c) => c.id),
      ),
      part(this.failed, "failed"),
    ].filter(Boolean);
    return parts.join(", ") || "nothing to do";
  }

  get total(): number {
    return this.added.length + this.changed.length + this.unchanged.length + this.conflicting.length + this.failed;
  }
}
