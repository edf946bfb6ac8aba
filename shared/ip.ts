import ipaddr from "ipaddr.js";

/** Strict IP literal checks (dotted-quad IPv4 only, no classful shorthands like "10.1"). */
export function isIPv4(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s);
}

export function isIPv6(s: string): boolean {
  return ipaddr.IPv6.isValid(s);
}

export function isIP(s: string): boolean {
  return isIPv4(s) || isIPv6(s);
}
