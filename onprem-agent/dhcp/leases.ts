/**
 * Dynamic leases for clients that are not in SMD (bootloop). Reserved clients need no state: their
 * address comes from the inventory on every packet.
 *
 * decide.ts only reads this table and returns LeaseOps; the server applies them, so decisions stay
 * pure. Addresses are picked from a hash of the MAC first, so a client tends to get the same address
 * again (also after an agent restart, when the table may be empty).
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { intToIp, ipToInt } from "./ipv4";

export interface Pool {
  start: number;
  end: number;
}

export interface Lease {
  mac: string;
  ip: string;
  state: "offered" | "bound";
  /** Epoch ms. */
  expires: number;
}

export type LeaseOp =
  | { op: "offer"; mac: string; ip: string; expires: number }
  | { op: "bind"; mac: string; ip: string; expires: number }
  | { op: "release"; mac: string }
  | { op: "decline"; mac: string; ip: string; until: number };

function hashMac(mac: string): number {
  // FNV-1a: cheap and spreads consecutive MACs.
  let h = 0x811c9dc5;
  for (let i = 0; i < mac.length; i++) {
    h ^= mac.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export class LeaseTable {
  private byMac = new Map<string, Lease>();
  private byIp = new Map<string, string>();
  private declined = new Map<string, number>();

  get(mac: string): Lease | undefined {
    return this.byMac.get(mac);
  }

  get size(): number {
    return this.byMac.size;
  }

  /** Offers and leases not expired at `now`: the pool addresses in use. */
  inUse(now: number): number {
    let n = 0;
    for (const lease of this.byMac.values()) if (lease.expires > now) n++;
    return n;
  }

  /** The MAC holding a bound pool address (the agent names nodes in boot events by it). */
  holderOf(ip: string): string | undefined {
    const mac = this.byIp.get(ip);
    return mac !== undefined && this.byMac.get(mac)?.state === "bound" ? mac : undefined;
  }

  private isFree(ip: string, mac: string, now: number): boolean {
    const until = this.declined.get(ip);
    if (until !== undefined && until > now) return false;
    const holder = this.byIp.get(ip);
    if (holder === undefined || holder === mac) return true;
    const lease = this.byMac.get(holder);
    return !lease || lease.expires <= now;
  }

  /** The address this MAC should be offered from `pool`, or undefined when the pool is full. */
  candidate(mac: string, pool: Pool, now: number, isTaken: (ip: string) => boolean = () => false): string | undefined {
    const own = this.byMac.get(mac);
    if (own) {
      const n = ipToInt(own.ip);
      if (n >= pool.start && n <= pool.end && this.isFree(own.ip, mac, now) && !isTaken(own.ip)) return own.ip;
    }
    const size = pool.end - pool.start + 1;
    const first = hashMac(mac) % size;
    for (let k = 0; k < size; k++) {
      const ip = intToIp(pool.start + ((first + k) % size));
      if (this.isFree(ip, mac, now) && !isTaken(ip)) return ip;
    }
    return undefined;
  }

  /** True when `ip` is unused (or already this MAC's) at `now`. */
  available(ip: string, mac: string, now: number): boolean {
    return this.isFree(ip, mac, now);
  }

  apply(op: LeaseOp): void {
    switch (op.op) {
      case "offer":
      case "bind": {
        this.drop(op.mac);
        const prev = this.byIp.get(op.ip);
        if (prev !== undefined && prev !== op.mac) this.byMac.delete(prev);
        this.byMac.set(op.mac, { mac: op.mac, ip: op.ip, state: op.op === "offer" ? "offered" : "bound", expires: op.expires });
        this.byIp.set(op.ip, op.mac);
        break;
      }
      case "release":
        this.drop(op.mac);
        break;
      case "decline":
        this.drop(op.mac);
        this.declined.set(op.ip, op.until);
        break;
    }
  }

  private drop(mac: string): void {
    const lease = this.byMac.get(mac);
    if (!lease) return;
    this.byMac.delete(mac);
    if (this.byIp.get(lease.ip) === mac) this.byIp.delete(lease.ip);
  }

  /** Forgets expired leases and declines; returns how many leases went. */
  sweep(now: number): number {
    let n = 0;
    for (const lease of [...this.byMac.values()]) {
      if (lease.expires <= now) {
        this.drop(lease.mac);
        n++;
      }
    }
    for (const [ip, until] of this.declined) if (until <= now) this.declined.delete(ip);
    return n;
  }

  snapshot(): Lease[] {
    return [...this.byMac.values()].filter((l) => l.state === "bound");
  }

  /** Bound leases survive a restart when a lease file is configured (written atomically). */
  save(file: string): void {
    writeFileSync(`${file}.tmp`, JSON.stringify({ version: 1, leases: this.snapshot() }));
    renameSync(`${file}.tmp`, file);
  }

  load(file: string, now: number): number {
    let data: { leases?: Lease[] };
    try {
      data = JSON.parse(readFileSync(file, "utf8"));
    } catch {
      return 0;
    }
    let n = 0;
    for (const l of data.leases ?? []) {
      if (typeof l?.mac !== "string" || typeof l.ip !== "string" || typeof l.expires !== "number" || l.expires <= now) continue;
      this.apply({ op: "bind", mac: l.mac, ip: l.ip, expires: l.expires });
      n++;
    }
    return n;
  }
}
