/**
 * How many boot events of requesters SMD does not know one client address may add per second
 * (OCHAMI_HISTORY_CLIENT_RATE). The bootscript and cloud-init routes are public: without a bound,
 * one client asking for random MACs writes a history entry per request, and its flood would push
 * every real node's steps out of the log. A real unknown node asks a few times a minute.
 *
 * One window per second for all clients (the map is emptied when the second changes), so memory
 * is bounded by the clients seen in one second, and those by MAX_CLIENTS: beyond it, a new client
 * gets no budget in that second. An event stamped in an earlier second counts in the current one.
 */
const MAX_CLIENTS = 10_000;

export class ClientRate {
  private second = Number.NEGATIVE_INFINITY;
  private readonly used = new Map<string, number>();

  constructor(private readonly maxClients = MAX_CLIENTS) {}

  /** True when `client` may add one more event at `timeMs` under `perSecond`; counts it. */
  admit(client: string, timeMs: number, perSecond: number): boolean {
    const second = Math.floor(timeMs / 1000);
    if (second > this.second) {
      this.second = second;
      this.used.clear();
    }
    const used = this.used.get(client) ?? 0;
    if (used >= perSecond) return false;
    if (used === 0 && this.used.size >= this.maxClients) return false;
    this.used.set(client, used + 1);
    return true;
  }
}
