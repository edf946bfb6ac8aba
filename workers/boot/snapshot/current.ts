import type { MiddlewareHandler } from "hono";
import type { Config } from "../../config";
import type { Db } from "../../db";
import { storageFull } from "../../db/storage-full";
import type { AppEnv, Waiter } from "../../env";
import { type Generation, loadSnapshot, readGeneration, sameGeneration } from "./load";
import type { BootSnapshot } from "./model";
import { tellPeers } from "./peers";
import { SharedCheck } from "./shared-check";

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

/** A batch waits this long for its check at most; then its reads go to D1. */
const WAIT_LIMIT_MS = 2_000;
/** A woken leader that has not issued its batch's check after this long is taken for lost (shared-check.ts). */
const LEADER_LATE_MS = 20;

/** `p`, or undefined after WAIT_LIMIT_MS; the timer is the request's pending work meanwhile (shared-check.ts). */
function withLimit<T>(p: Promise<T | undefined>): Promise<T | undefined> {
  let timer: number | undefined;
  const limit = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), WAIT_LIMIT_MS)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer ?? null));
}

const sharedCheck = new SharedCheck<Generation>({ now: () => Date.now(), limit: withLimit }, snapshotStats, WAIT_LIMIT_MS, LEADER_LATE_MS);

/**
 * A generation read issued no earlier than this call (a query already in flight may predate a
 * write the caller must see), shared with the boot reads asking at the same time; undefined when
 * it failed or took too long.
 */
function generationReadAfterNow(db: Db, waiter: Waiter | undefined): Promise<Generation | undefined> {
  const query = () =>
    readGeneration(db).catch((err) => {
      console.error("boot snapshot: generation check failed, boot reads go to D1:", (err as Error).message);
      return undefined;
    });
  return sharedCheck.read(query, (p) => waiter?.waitUntil(p));
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
