/**
 * How many new bootloop pool leases each source may take: a token bucket per relay (giaddr) or,
 * for clients on the served link, per interface. Without it one client sending DISCOVERs from
 * random MACs (perfdhcp -R, a broken NIC, a MAC-flooding tool) takes every pool address within
 * seconds and no unknown node can boot until the leases expire.
 *
 * Each bucket holds up to `perMinute` tokens and refills at `perMinute` per minute; a new pool
 * lease (an address for a MAC that holds none) spends one. decide.ts only asks whether one is
 * available; the server spends it when it applies the decision, so decisions stay pure. Time is
 * whatever `now` the caller passes (the server's clock).
 */
export interface NewLeaseBudget {
  /** True when `source` may take a new pool lease at `now`. */
  available(source: string, now: number): boolean;
}

/** Beyond this many sources the fullest (least recently used) bucket is forgotten: a full bucket is no state. */
const MAX_SOURCES = 4096;

export class NewLeaseLimit implements NewLeaseBudget {
  private buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(private readonly perMinute: number) {
    this.perMs = perMinute / 60_000;
  }

  private tokens(source: string, now: number): number {
    const b = this.buckets.get(source);
    if (!b) return this.perMinute;
    return Math.min(this.perMinute, b.tokens + Math.max(0, now - b.at) * this.perMs);
  }

  available(source: string, now: number): boolean {
    return this.tokens(source, now) >= 1;
  }

  spend(source: string, now: number): void {
    const tokens = this.tokens(source, now) - 1;
    this.buckets.delete(source); // re-inserted last: the map's order is least recently used first
    this.buckets.set(source, { tokens, at: now });
    if (this.buckets.size > MAX_SOURCES) this.buckets.delete(this.buckets.keys().next().value!);
  }

  /** Forgets buckets that have refilled (they are the same as no bucket). */
  sweep(now: number): void {
    for (const source of [...this.buckets.keys()]) if (this.tokens(source, now) >= this.perMinute) this.buckets.delete(source);
  }

  get sources(): number {
    return this.buckets.size;
  }
}
