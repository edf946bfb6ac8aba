import type { MiddlewareHandler } from "hono";
import type { Config } from "../../config";
import type { Db } from "../../db";
import { storageFull } from "../../db/storage-full";
import type { AppEnv, Waiter } from "../../env";
import { type Generation, loadSnapshot, readGeneration, sameGeneration } from "./load";
import type { BootSnapshot } from "./model";
import { tellPeers } from "./peers";

/**
 * The isolate's boot snapshot and when it may be used. Exact, never eventually consistent:
 *  - `shared` mode: each boot read first reads the D1 generation, in a query issued after the read
 *    began, so any write committed before the node asked is seen. Reads in flight together share
 *    one such query (a storm of 50 concurrent requests costs one round trip per batch, not 50).
 *  - `exclusive` mode: the generation is read only after a write through this isolate's API.
 * A stale or missing snapshot is never waited for: that request takes the D1 path (one round
 * trip, the same answer) while one rebuild runs in the background. Building its indexes is
 * synchronous JavaScript on the isolate's thread; a whole rebuild, D1 read included, measured
 * 0.3–0.5 s for 20,000 components and 5 s for 200,000 (bench/storm.ts).
 */

interface Installed {
  snapshot: BootSnapshot;
  generation: Generation;
}

let installed: Installed | undefined;
/** Writes through this isolate's API so far, and how many of them the last matching check covered. */
let writesSeen = 0;
let writesChecked = -1;
let rebuildingSince = 0;
let nextRebuildAt = 0;
const REBUILD_LIMIT_MS = 60_000;

/** What this isolate did, for tests, the benchmark and GET /boot/v1/service/snapshot. */
export const snapshotStats = {
  served: 0,
  fallbacks: 0,
  checks: 0,
  /** Boot reads that arrived while a check was in flight and so waited to share the next one (shared mode). */
  waited: 0,
  rebuilds: 0,
  lastRebuildMs: 0,
  components: 0,
  generation: -1,
  /** Writes through other API processes this one was told of (peers.ts). */
  writesElsewhere: 0,
  /** Waiting boot reads whose batch's leader was dropped or late (LEADER_LATE_MS), answered by a later read's check (shared mode). */
  orphansAnswered: 0,
};

/** The snapshot to answer from, or undefined when the caller must read D1 itself. */
export async function currentSnapshot(db: Db, mode: Config["bootSnapshot"], waiter: Waiter | undefined): Promise<BootSnapshot | undefined> {
  if (mode === "off") return undefined;
  const have = installed;
  if (have && mode === "exclusive" && writesChecked === writesSeen) return served(have);
  const writes = writesSeen;
  const now = await generationReadAfterNow(db, waiter);
  if (!now) {
    // On a full disk a failed commit can fail the reads in flight with it (the runner's database
    // object restarts): a boot from the snapshot this isolate has beats a refused boot.
    if (have && storageFull.since !== 0) return served(have);
    snapshotStats.fallbacks++;
    return undefined;
  }
  if (have && sameGeneration(have.generation, now)) {
    writesChecked = writes;
    return served(have);
  }
  startRebuild(db, waiter);
  snapshotStats.fallbacks++;
  return undefined;
}

function served(i: Installed): BootSnapshot {
  snapshotStats.served++;
  return i.snapshot;
}

/**
 * Hono middleware: after any request that may have written, the next boot read checks D1, here
 * and, before the response leaves, in every other API process on this database (peers.ts).
 */
export function noteBootWrites(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.req.method !== "OPTIONS") {
      writesSeen++;
      await tellPeers(c.env);
    }
  };
}

/** A write through another API process on this database (peers.ts): the next boot read checks D1. */
export function noteWriteElsewhere(): void {
  writesSeen++;
  snapshotStats.writesElsewhere++;
}

// ----------------------------------------------------------------------------- generation check

/*
 * Sharing one query among concurrent requests, within workerd's rules: a promise belongs to the
 * request that created it, and its continuations are dropped once that request is finished, so
 * no request awaits a promise another request created. Each request waits on its own promise;
 * the request that issued the query resolves them (allowed while they are alive, and they are:
 * they are waiting). The query runs under `waitUntil`, so a client hanging up does not cancel it
 * midway; a waiter whose query never answers gives up after WAIT_LIMIT_MS and reads D1 itself.
 * That give-up timer is also what keeps a waiter alive: workerd cancels a request that has nothing
 * of its own pending (no timer, no I/O) while it awaits a promise, as hung ("The Workers runtime
 * canceled this request because it detected that your Worker's code had hung"), not knowing that
 * another request will resolve it. Measured: with the wait left without a timer, a storm in
 * `shared` mode got no answer at all.
 */

interface Follower {
  resolve(g: Generation | undefined): void;
}

const WAIT_LIMIT_MS = 2_000;
/**
 * A leader told to issue its batch's query takes its turn within about a millisecond; one that has
 * not after this long was dropped with its request (or is late enough that a query of one's own
 * costs less than the wait).
 */
const LEADER_LATE_MS = 20;
/** When the query in flight was issued; 0 when none is. */
let inFlightSince = 0;
/**
 * Requests that arrived while a query was in flight, or since it answered until the first of them
 * (the leader) issues the next one for them all; `wokenAt`: when the leader was told to (0: not yet).
 */
let nextBatch: { since: number; wokenAt: number; followers: Follower[] } | undefined;
let wakeNextLeader: (() => void) | undefined;

const fresh = (since: number) => since !== 0 && Date.now() - since < WAIT_LIMIT_MS;

/**
 * A generation read issued no earlier than this call (a query already in flight may predate a
 * write the caller must see), or undefined when it failed or took too long.
 */
async function generationReadAfterNow(db: Db, waiter: Waiter | undefined): Promise<Generation | undefined> {
  // The next batch forms from when a request arrives during a check until its leader issues the
  // next one, which is after that check has answered and the leader's turn has come: arrivals in
  // between join it too (its query is not yet issued). Issuing their own instead, as they once
  // did, overlapped a second query with the batch's and halved the requests per check.
  // A batch whose leader is late lost it (a platform that drops a request whose client hung up
  // drops it with its continuations): this request issues the query for its members and itself.
  // One older than the wait limit is left alone: its members have given up.
  const now = Date.now();
  if (nextBatch && nextBatch.wokenAt !== 0 && now - nextBatch.wokenAt >= LEADER_LATE_MS) {
    const orphans = nextBatch;
    nextBatch = undefined;
    if (fresh(orphans.since)) {
      snapshotStats.orphansAnswered += orphans.followers.length;
      return issue(db, waiter, orphans.followers);
    }
  }
  const forming = nextBatch && fresh(nextBatch.since) ? nextBatch : undefined;
  if (!forming && !fresh(inFlightSince)) return issue(db, waiter, []);
  snapshotStats.waited++;
  if (forming) {
    const { followers } = forming;
    return withLimit(new Promise<Generation | undefined>((resolve) => followers.push({ resolve })));
  }
  // Lead the next batch: wait (on a promise of our own) until the query in flight is done.
  const batch = { since: now, wokenAt: 0, followers: [] as Follower[] };
  nextBatch = batch;
  await withLimit(
    new Promise<undefined>((go) => {
      wakeNextLeader = () => {
        batch.wokenAt = Date.now();
        go(undefined);
      };
    }),
  );
  if (nextBatch === batch) nextBatch = undefined;
  return issue(db, waiter, batch.followers);
}

async function issue(db: Db, waiter: Waiter | undefined, followers: Follower[]): Promise<Generation | undefined> {
  inFlightSince = Date.now();
  snapshotStats.checks++;
  // Followers are answered and the next leader woken inside the promise waitUntil keeps, not in
  // the issuing request's own continuation: were that request dropped, they would wait out the limit.
  const query = readGeneration(db).then(
    (g) => settled(g, followers),
    (err) => {
      console.error("boot snapshot: generation check failed, boot reads go to D1:", (err as Error).message);
      return settled(undefined, followers);
    },
  );
  waiter?.waitUntil(query);
  return query;
}

function settled(generation: Generation | undefined, followers: Follower[]): Generation | undefined {
  for (const f of followers) f.resolve(generation);
  inFlightSince = 0;
  const wake = wakeNextLeader;
  wakeNextLeader = undefined;
  wake?.();
  return generation;
}

/** `p`, or undefined after WAIT_LIMIT_MS; the timer is the request's pending work meanwhile (see above). */
function withLimit<T>(p: Promise<T | undefined>): Promise<T | undefined> {
  let timer: number | undefined;
  const limit = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), WAIT_LIMIT_MS)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer ?? null));
}

// ----------------------------------------------------------------------------- rebuild

/**
 * One rebuild at a time, and not more often than every twice its last duration: while an import
 * writes continuously, at most a third of D1's time goes to rebuilding snapshots that are stale
 * at once, and the boot path stays on D1 meanwhile.
 */
function startRebuild(db: Db, waiter: Waiter | undefined) {
  const now = Date.now();
  // A rebuild still "running" after REBUILD_LIMIT_MS belonged to a request workerd cancelled.
  if ((rebuildingSince !== 0 && now - rebuildingSince < REBUILD_LIMIT_MS) || now < nextRebuildAt) return;
  rebuildingSince = now;
  // Every write counted so far had committed before it was counted, so before the load's
  // transaction begins: when none is counted while the rebuild runs, the snapshot is as current as
  // a check would prove, and the reads after it need none. (That check once made every boot read
  // in flight wait on the database right after a rebuild, at a storm's start, while it wrote the
  // storm's history.)
  const writes = writesSeen;
  const rebuild = loadSnapshot(db)
    .then(({ snapshot, generation }) => {
      installed = { snapshot, generation };
      if (writesSeen === writes) writesChecked = writes;
      snapshotStats.rebuilds++;
      snapshotStats.components = snapshot.componentCount;
      snapshotStats.generation = generation.generation;
    })
    .catch((err) => console.error("boot snapshot: rebuild failed, boot reads stay on D1:", (err as Error).message))
    .finally(() => {
      const took = Date.now() - now;
      snapshotStats.lastRebuildMs = took;
      nextRebuildAt = Date.now() + 2 * took;
      rebuildingSince = 0;
    });
  // Only this request's context runs it; nobody awaits it (see the generation check above).
  waiter?.waitUntil(rebuild);
}
