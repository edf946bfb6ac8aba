import ipaddr from "ipaddr.js";

/** A decimal octet as a dotted quad writes it: 0–255, no leading zero. */
const IPV4_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
/** A dotted-quad IPv4 address as ipaddr.js and WHATWG write it, unanchored: for patterns that embed it. */
export const DOTTED_QUAD_PATTERN = `${IPV4_OCTET}(?:\\.${IPV4_OCTET}){3}`;
const DOTTED_QUAD = new RegExp(`^${DOTTED_QUAD_PATTERN}$`);

/**
 * Strict IP literal checks (dotted-quad IPv4 only, no classful shorthands like "10.1", no
 * leading zeros). IPv4 by pattern alone: the strings ipaddr.js accepts as four decimal parts of
 * at most 255, without its parse (an object and an array per check; a node's every cloud-init
 * request checks its address). ipaddr.js checks a non-address by throwing and catching an Error.
 */
export function isIPv4(s: string): boolean {
  return DOTTED_QUAD.test(s);
}

export function isIPv6(s: string): boolean {
  return ipaddr.IPv6.isValid(s);
}

export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}

/**
 * The canonical text of an IP literal: dotted-quad IPv4 (an IPv4-mapped IPv6 address such as
 * `::ffff:10.0.0.5`, which a dual-stack socket reports for IPv4 peers, is unwrapped), IPv6 in
 * RFC 5952 form without a zone. undefined when `s` is not an IP literal.
 */
export function canonicalIp(s: string): string | undefined {
  const t = s.trim();
  if (isIPv4(t)) return t; // already as ipaddr.js writes it
  if (!ipaddr.IPv6.isValid(t)) return undefined;
  const v6 = ipaddr.IPv6.parse(t);
  if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().toString();
  return new ipaddr.IPv6(v6.parts).toRFC5952String();
}

/**
 * The spellings an IP may be stored under. SMD keeps addresses as its clients wrote them, and an
 * IPv6 address has several common forms (compressed, expanded, zero-padded); lookups compare
 * lower-cased text against all of them.
 */
export function ipSpellings(ip: string): string[] {
  const canonical = canonicalIp(ip);
  if (canonical === undefined) return [];
  if (isIPv4(canonical)) return [canonical];
  const v6 = ipaddr.IPv6.parse(canonical);
  const expanded = v6.parts.map((p) => p.toString(16)).join(":");
  const padded = v6.parts.map((p) => p.toString(16).padStart(4, "0")).join(":");
  return [...new Set([canonical, expanded, padded])];
}

/** A list of networks (`10.0.0.0/8`, `fd00::/64`) or single addresses, as parsed by parseCidrList. */
export type CidrList = ReadonlyArray<[ipaddr.IPv4 | ipaddr.IPv6, number]>;

/**
 * Parses a comma- or whitespace-separated list of IPs and CIDR networks. A bare address is a /32
 * (IPv4) or /128 (IPv6) network. Throws an Error naming the first entry that is neither.
 */
export function parseCidrList(raw: string): CidrList {
  const out: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> = [];
  for (const entry of raw.split(/[\s,]+/).filter(Boolean)) {
    if (entry.includes("/")) {
      if (!ipaddr.isValidCIDR(entry)) throw new Error(`'${entry}' is not an IP network (CIDR)`);
      const [addr, bits] = ipaddr.parseCIDR(entry);
      out.push(unmapped(addr, bits));
    } else {
      const canonical = canonicalIp(entry);
      if (canonical === undefined) throw new Error(`'${entry}' is not an IP address`);
      const addr = ipaddr.parse(canonical);
      out.push([addr, addr.kind() === "ipv4" ? 32 : 128]);
    }
  }
  return out;
}

/** `::ffff:10.0.0.0/104` is the IPv4 network 10.0.0.0/8; peers are compared in canonical form. */
function unmapped(addr: ipaddr.IPv4 | ipaddr.IPv6, bits: number): [ipaddr.IPv4 | ipaddr.IPv6, number] {
  if (addr.kind() === "ipv6" && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96)
    return [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96];
  return [addr, bits];
}

/** True when the IP literal `ip` lies in one of the networks. */
export function inCidrList(ip: string, list: CidrList): boolean {
  const canonical = canonicalIp(ip);
  if (canonical === undefined) return false;
  const addr = ipaddr.parse(canonical);
  return list.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
}
