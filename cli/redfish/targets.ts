import ipaddr from "ipaddr.js";

/**
 * BMC targets for `ochami discover redfish`, in the order given (which decides xnames, NIDs and
 * IPs, see assign.ts): `172.16.0.101`, `172.16.0.101-172.16.0.109`, `172.16.0.101-109`,
 * `172.16.0.96/28` (its host addresses: network and broadcast skipped up to /30), host names, and
 * any of these with `:port`. Duplicates are dropped. Pure.
 */
export interface Target {
  /** Host as written (IP or name). */
  host: string;
  port?: number;
  /** `host` or `host:port`, for messages. */
  label: string;
}

export const MAX_TARGETS = 65_536;

function splitPort(spec: string): { host: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::([0-9]+))?$/.exec(spec);
  if (bracketed) return { host: bracketed[1], port: bracketed[2] ? Number(bracketed[2]) : undefined };
  const m = /^([^:]+):([0-9]+)$/.exec(spec);
  if (m) return { host: m[1], port: Number(m[2]) };
  return { host: spec };
}

const v4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
const num = (ip: string) =>
  ipaddr.IPv4.parse(ip)
    .toByteArray()
    .reduce((a, b) => a * 256 + b, 0);

export function expandTargets(specs: string[]): Target[] {
  const out: Target[] = [];
  const seen = new Set<string>();
  const add = (host: string, port: number | undefined) => {
    const label = port ? `${host.includes(":") ? `[${host}]` : host}:${port}` : host;
    if (seen.has(label)) return;
    if (out.length >= MAX_TARGETS) throw new Error(`more than ${MAX_TARGETS} targets`);
    seen.add(label);
    out.push({ host, port, label });
  };
  for (const raw of specs.flatMap((s) => s.split(/[\s,]+/)).filter(Boolean)) {
    const { host, port } = splitPort(raw.trim());
    if (port !== undefined && (port < 1 || port > 65535)) throw new Error(`'${raw}': port out of range`);
    if (host.includes("/")) {
      let net: [ipaddr.IPv4 | ipaddr.IPv6, number];
      try {
        net = ipaddr.parseCIDR(host);
      } catch {
        throw new Error(`'${raw}' is not a CIDR block`);
      }
      if (net[0].kind() !== "ipv4") throw new Error(`'${raw}': only IPv4 blocks can be expanded`);
      const bits = net[1];
      if (bits < 16) throw new Error(`'${raw}': a block larger than /16 is almost certainly a mistake`);
      const first = num(net[0].toString()) & (bits === 0 ? 0 : ~0 << (32 - bits));
      const size = 2 ** (32 - bits);
      const skipEnds = bits <= 30;
      for (let i = skipEnds ? 1 : 0; i < (skipEnds ? size - 1 : size); i++) add(v4((first + i) >>> 0), port);
      continue;
    }
    const range = /^([0-9.]+)-([0-9.]+)$/.exec(host);
    if (range) {
      const start = range[1];
      if (!ipaddr.IPv4.isValidFourPartDecimal(start)) throw new Error(`'${raw}': ${start} is not an IPv4 address`);
      // `172.16.0.101-109`: the end shares the start's leading octets.
      const endText = range[2].includes(".") ? range[2] : `${start.split(".").slice(0, 3).join(".")}.${range[2]}`;
      if (!ipaddr.IPv4.isValidFourPartDecimal(endText)) throw new Error(`'${raw}': ${range[2]} is not an IPv4 address or last octet`);
      const [a, b] = [num(start), num(endText)];
      if (b < a) throw new Error(`'${raw}': the range ends before it starts`);
      if (b - a >= MAX_TARGETS) throw new Error(`'${raw}': more than ${MAX_TARGETS} addresses`);
      for (let n = a; n <= b; n++) add(v4(n), port);
      continue;
    }
    if (!/^[A-Za-z0-9.:_-]+$/.test(host)) throw new Error(`'${raw}' is not an address, range, block or host name`);
    add(host, port);
  }
  return out;
}

/** `base` + `offset` as an IPv4 address, or undefined past 255.255.255.255. */
export function addIPv4(base: string, offset: number): string | undefined {
  const n = num(base) + offset;
  return n > 0xffffffff ? undefined : v4(n);
}

export function isIPv4(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s);
}
