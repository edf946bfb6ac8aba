import { canonicalIp } from "../../../shared/ip";

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
