/**
 * Rate-limited log lines for what a client can make us log at will (malformed DHCP packets,
 * ignored MACs, refused pool leases): at most one line per kind per interval, the next one
 * saying how many were left out. Counters count every occurrence; only the lines are limited.
 */
import type { Clock } from "./clock";

/** Kinds are a small fixed set (plus one per relay); beyond this many the oldest is forgotten. */
const MAX_KINDS = 256;

export class LogLimiter {
  private kinds = new Map<string, { until: number; suppressed: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs = 10_000,
  ) {}

  /**
   * undefined: stay quiet (counted as suppressed); a number: log now, adding it as `suppressed`
   * (how many lines of this kind were left out since the last one).
   */
  admit(kind: string): number | undefined {
    const now = this.clock.now();
    const k = this.kinds.get(kind);
    if (k && now < k.until) {
      k.suppressed++;
      return undefined;
    }
    this.kinds.delete(kind);
    this.kinds.set(kind, { until: now + this.intervalMs, suppressed: 0 });
    if (this.kinds.size > MAX_KINDS) this.kinds.delete(this.kinds.keys().next().value!);
    return k?.suppressed ?? 0;
  }
}
