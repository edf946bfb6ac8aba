/**
 * One query shared by the requests that ask for it together (`shared` snapshot mode's generation
 * check, current.ts), within workerd's rules: a promise belongs to the request that created it, and
 * its continuations are dropped once that request is finished, so no request awaits a promise
 * another request created. Each request waits on its own promise; the request that issued the
 * query resolves them (allowed while they are alive, and they are: they are waiting). The query
 * runs under the issuing request's `waitUntil`, so a client hanging up does not cancel it midway; a
 * waiter whose query never answers gives up after the wait limit and reads D1 itself.
 *
 * That give-up timer is also what keeps a waiter alive: workerd cancels a request that has nothing
 * of its own pending (no timer, no I/O) while it awaits a promise, as hung ("The Workers runtime
 * canceled this request because it detected that your Worker's code had hung"), not knowing that
 * another request will resolve it. Measured: with the wait left without a timer, a storm in
 * `shared` mode got no answer at all.
 *
 * Time and the waits are given (`SharedCheckClock`), so the batching can be tested with a request
 * the platform drops, which workerd as `npm start` runs it never does.
 */

/** What SharedCheck counts, into the caller's counters (GET /boot/v1/service/snapshot shows them). */
export interface SharedCheckCounters {
  checks: number;
  /** Reads that arrived while a query was in flight and so waited to share the next one. */
  waited: number;
  /** Waiting reads whose batch's leader was dropped or late (leaderLateMs), answered by a later read's query. */
  orphansAnswered: number;
}

export interface SharedCheckClock {
  now(): number;
  /**
   * `p`, or undefined after the wait limit, whichever first (production: a timer, see above).
   * `who`: a follower waiting for its batch's answer, or a leader waiting for its turn to issue.
   */
  limit<T>(p: Promise<T | undefined>, who: "follower" | "leader"): Promise<T | undefined>;
}

interface Follower<T> {
  resolve(answer: T | undefined): void;
}

interface Batch<T> {
  since: number;
  /** When the leader was told to issue (0: not yet). */
  wokenAt: number;
  followers: Follower<T>[];
}

export class SharedCheck<T> {
  /** When the query in flight was issued; 0 when none is. */
  private inFlightSince = 0;
  /**
   * Requests that arrived while a query was in flight, or since it answered until the first of
   * them (the leader) issues the next one for them all.
   */
  private nextBatch: Batch<T> | undefined;
  private wakeNextLeader: (() => void) | undefined;

  constructor(
    private readonly clock: SharedCheckClock,
    private readonly counters: SharedCheckCounters,
    /** How long a batch may wait for its query; older ones are abandoned (their members have given up). */
    private readonly waitLimitMs: number,
    /**
     * A leader told to issue its batch's query takes its turn within about a millisecond; one that
     * has not after this long was dropped with its request (or is late enough that a query of one's
     * own costs less than the wait).
     */
    private readonly leaderLateMs: number,
  ) {}

  private fresh(since: number): boolean {
    return since !== 0 && this.clock.now() - since < this.waitLimitMs;
  }

  /**
   * The answer of a query issued no earlier than this call (a query already in flight may predate
   * what the caller must see), or undefined when it failed or took too long. `query` never rejects
   * (it answers undefined instead); `keep` keeps a query alive past its issuing request's end.
   */
  async read(query: () => Promise<T | undefined>, keep: (p: Promise<unknown>) => void): Promise<T | undefined> {
    // The next batch forms from when a request arrives during a query until its leader issues the
    // next one, which is after that query has answered and the leader's turn has come: arrivals in
    // between join it too (its query is not yet issued). Issuing their own instead, as they once
    // did, overlapped a second query with the batch's and halved the requests per query.
    // A batch whose leader is late lost it (a platform that drops a request whose client hung up
    // drops it with its continuations): this request issues the query for its members and itself.
    // One older than the wait limit is left alone: its members have given up.
    const now = this.clock.now();
    const lost = this.nextBatch;
    if (lost && lost.wokenAt !== 0 && now - lost.wokenAt >= this.leaderLateMs) {
      this.nextBatch = undefined;
      if (this.fresh(lost.since)) {
        this.counters.orphansAnswered += lost.followers.length;
        return this.issue(query, keep, lost.followers);
      }
    }
    const forming = this.nextBatch && this.fresh(this.nextBatch.since) ? this.nextBatch : undefined;
    if (!forming && !this.fresh(this.inFlightSince)) return this.issue(query, keep, []);
    this.counters.waited++;
    if (forming) {
      const { followers } = forming;
      return this.clock.limit(new Promise<T | undefined>((resolve) => followers.push({ resolve })), "follower");
    }
    // Lead the next batch: wait (on a promise of our own) until the query in flight is done.
    const batch: Batch<T> = { since: now, wokenAt: 0, followers: [] };
    this.nextBatch = batch;
    await this.clock.limit(
      new Promise<undefined>((go) => {
        this.wakeNextLeader = () => {
          batch.wokenAt = this.clock.now();
          go(undefined);
        };
      }),
      "leader",
    );
    if (this.nextBatch === batch) this.nextBatch = undefined;
    return this.issue(query, keep, batch.followers);
  }

  private issue(
    query: () => Promise<T | undefined>,
    keep: (p: Promise<unknown>) => void,
    followers: Follower<T>[],
  ): Promise<T | undefined> {
    this.inFlightSince = this.clock.now();
    this.counters.checks++;
    // Followers are answered and the next leader woken inside the promise `keep` keeps, not in
    // the issuing request's own continuation: were that request dropped, they would wait out the limit.
    const answered = query().then((answer) => this.settled(answer, followers));
    keep(answered);
    return answered;
  }

  private settled(answer: T | undefined, followers: Follower<T>[]): T | undefined {
    for (const f of followers) f.resolve(answer);
    this.inFlightSince = 0;
    const wake = this.wakeNextLeader;
    this.wakeNextLeader = undefined;
    wake?.();
    return answer;
  }
}
