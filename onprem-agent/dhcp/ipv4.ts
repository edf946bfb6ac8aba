/** IPv4 addresses as unsigned 32-bit numbers, for subnet and pool arithmetic. */
export function ipToInt(ip: string): number {
  const p = ip.split(".");
  return ((Number(p[0]) << 24) | (Number(p[1]) << 16) | (Number(p[2]) << 8) | Number(p[3])) >>> 0;
}

export function intToIp(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export interface Cidr {
  network: number;
  prefix: number;
  mask: number;
}

export function parseCidr(cidr: string): Cidr {
  const [ip, bits] = cidr.split("/");
  const prefix = Number(bits);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: (ipToInt(ip) & mask) >>> 0, prefix, mask };
}

export function inCidr(ip: string | number, c: Cidr): boolean {
  const n = typeof ip === "number" ? ip : ipToInt(ip);
  return (n & c.mask) >>> 0 === c.network;
}

export function broadcastOf(c: Cidr): string {
  return intToIp((c.network | (~c.mask >>> 0)) >>> 0);
}

export const ZERO = "0.0.0.0";
