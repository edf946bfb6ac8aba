import { z } from "zod";
import { canonicalIp } from "../../../shared/ip";
import { parseMac } from "../../../shared/mac";
import { parseXname } from "../../../shared/xname";
import { goObject, opt, refuse } from "../../http/wire";

/**
 * EthernetInterfaces as SMD's clients write and read them (CompEthInterfaceV2), and as this
 * service stores them. The schemas check JSON types and, field by field, what each value means,
 * with upstream's messages; a body is checked in the order of its fields, so the first problem
 * found is the one reported.
 */

export interface IpAddress {
  IPAddress: string;
  Network?: string;
}

/** One EthernetInterface as stored: IPs in the client's order (the first one is the one DHCP uses). */
export interface InterfaceRecord {
  id: string;
  macAddress: string;
  description: string;
  componentId: string;
  type: string;
  lastUpdate: string;
  ips: Array<{ ip: string; network: string }>;
}

/**
 * An IP address of an interface: an IP literal, in its one stored spelling. Upstream's message
 * names the value, and is bare when none was given.
 */
const ipAddress = opt(z.string())
  .transform((v, ctx) => {
    const raw = v?.trim() ?? "";
    return storedIp(raw) ?? refuse(ctx, `Invalid CompEthInterface IP Address${raw ? `: '${raw}'` : ""}`, v);
  })
  .meta({ description: "an IPv4 or IPv6 literal; stored in one spelling (IPv6 compressed, lower case)", example: "172.16.0.1" });

/** An IP address and the network it is on (IPAddressMapping); POSTed alone to an interface's IPAddresses. */
export const IPAddressMapping = goObject(
  {
    IPAddress: ipAddress,
    Network: opt(z.string()).meta({ description: "omitted from answers when empty", example: "mgmt" }),
  },
  { id: "IPAddressMapping", description: "an IP address of an ethernet interface" },
);

/** PATCH of one IP address: only its network can change. */
export const IPAddressPatch = goObject({ Network: opt(z.string()) }, { description: "the IP address's new network" });

/**
 * A MAC address in any usual spelling (`DE-AD-BE-EF-00-01`, `deadbeef0001`, …); upstream says a
 * value that is no string, or none, "has invalid length".
 */
const macAddress = z
  .unknown()
  .transform((v, ctx) => {
    const mac = parseMac(v);
    return mac.ok ? mac : refuse(ctx, mac.error, v);
  })
  .meta({ type: "string", description: "any usual spelling; stored lower-case with colons", example: "de:ad:be:ef:00:01" });

/**
 * A body's ComponentID: "" (tied to no component) or an xname, whose type becomes the interface's
 * Type. `invalid` is upstream's message, which differs between POST and PATCH. Absent stays
 * undefined (PATCH leaves the component as it is).
 */
const componentId = (invalid: string) =>
  opt(z.string())
    .transform((v, ctx) => {
      if (v === undefined) return undefined;
      const value = v?.trim() ?? "";
      if (value === "") return NO_COMPONENT;
      const x = parseXname(value);
      return x ? { componentId: x.id, type: x.type } : refuse(ctx, invalid, v);
    })
    .meta({ description: 'the xname of the component the interface belongs to ("" for none)', example: "x1000c1s7b0n0" });

const NO_COMPONENT = { componentId: "", type: "" };

/** Answered by SMD, ignored in requests. */
const readOnly = (description: string, example?: string) =>
  z.unknown().optional().meta({ type: "string", readOnly: true, description, example });

/**
 * An EthernetInterface: the body of a POST (ID, LastUpdate and Type are ignored there: SMD derives
 * them) and SMD's answer. MACAddress is checked first, then Description, ComponentID and the IP
 * addresses.
 */
export const EthernetInterface = goObject(
  {
    ID: readOnly("the MAC address's 12 hex digits, lower case", "deadbeef0001"),
    MACAddress: macAddress,
    Description: opt(z.string()),
    LastUpdate: readOnly("RFC 3339; changes when the IP addresses do", "2025-01-01T00:00:00.123Z"),
    ComponentID: componentId("Invalid CompEthInterface component ID"),
    Type: readOnly("the HMS type of ComponentID", "Node"),
    IPAddresses: opt(z.array(IPAddressMapping)).meta({ description: "the first one is the address DHCP and cloud-init use" }),
  },
  { id: "EthernetInterface", description: "an ethernet interface (CompEthInterfaceV2), keyed by its MAC address" },
);

/** PATCH of an interface: the fields given replace the stored ones (`null` clears one). */
export const EthernetInterfacePatch = goObject(
  {
    Description: opt(z.string()),
    ComponentID: componentId("bad query param: Argument was not a valid xname ID"),
    IPAddresses: opt(z.array(IPAddressMapping)).meta({ description: "replaces the whole list" }),
  },
  { description: "the fields to change; at least one" },
  { notObject: "error decoding JSON: body: expected a JSON object" },
);

/** A body's IP list as stored: a repeated address keeps its first place and network. */
export function ipList(list: ReadonlyArray<z.output<typeof IPAddressMapping>> | null | undefined): InterfaceRecord["ips"] {
  const seen = new Set<string>();
  const out: InterfaceRecord["ips"] = [];
  for (const a of list ?? []) {
    if (seen.has(a.IPAddress)) continue;
    seen.add(a.IPAddress);
    out.push({ ip: a.IPAddress, network: a.Network ?? "" });
  }
  return out;
}

/** What a POST body describes, stored as of `now`. */
export function interfaceRecord(b: z.output<typeof EthernetInterface>, now: string): InterfaceRecord {
  return {
    id: b.MACAddress.id,
    macAddress: b.MACAddress.mac,
    description: b.Description ?? "",
    ...(b.ComponentID ?? NO_COMPONENT),
    lastUpdate: now,
    ips: ipList(b.IPAddresses),
  };
}

/** Wire form (SMD CompEthInterfaceV2): IPAddresses always an array, Network omitted when empty. */
export function interfaceJson(r: InterfaceRecord) {
  return {
    ID: r.id,
    Description: r.description,
    MACAddress: r.macAddress,
    LastUpdate: renderTimestamp(r.lastUpdate),
    ComponentID: r.componentId,
    Type: r.type,
    IPAddresses: r.ips.map(ipJson),
  };
}

export function ipJson(a: { ip: string; network: string }): IpAddress {
  return a.network ? { IPAddress: a.ip, Network: a.network } : { IPAddress: a.ip };
}

/** Stored as fixed-width ISO-8601 (sortable text); shown like Go's RFC3339Nano (fraction zeros trimmed). */
export function storedTimestamp(d = new Date()): string {
  return d.toISOString();
}

export function renderTimestamp(stored: string): string {
  return stored.replace(/\.(\d*?)0+Z$/, (_, frac: string) => (frac ? `.${frac}Z` : "Z"));
}

/** An RFC 3339 time from a filter, as stored text; undefined when unparsable. */
export function parseRfc3339(raw: string): string | undefined {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(raw.trim())) return undefined;
  const t = Date.parse(raw.trim());
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

/**
 * An IP literal in its one stored spelling (dotted quad; RFC 5952 IPv6, lower case, compressed),
 * so lookups by address (cloud-init, boot history) match however a client wrote it. undefined
 * when it is not an IP literal.
 */
export function storedIp(raw: unknown): string | undefined {
  return typeof raw === "string" ? canonicalIp(raw) : undefined;
}
