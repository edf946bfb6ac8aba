import type { MiddlewareHandler } from "hono";
import { configOf } from "../config";
import type { Env } from "../env";
import type { Waiter } from "../history/recorder";
import { loadSnapshot, readGeneration, sameGeneration, type Generation } from "./load";
import type { BootSnapshot } from "./model";

/**
 * The isolate's boot snapshot and when it may be used. Exact, never eventually consistent:
 *  - `shared` mode: each boot read first reads the D1 generation, in a query issued after the read
 *    began, so any write committed before the node asked is seen. Reads in flight together share
 *    one such query (a storm of 50 concurrent requests costs one round trip per batch, not 50).
 *  - `exclusive` mode: the generation is read only after a write through this isolate's API.
 * A stale or missing snapshot is never waited for: that request takes the D1 path (one round
 * trip, the same answer) while one rebuild runs in the background, so a write-heavy import slows
 * nothing down and a rebuild of 100,000 nodes never blocks a boot.
 */

interface Installed {
  snapshot: BootSnapshot;
  generation: Generation;
}

let installed: Installed | undefined;
/** Writes through this isolate's API so far, and how many of them the last matching check covered. */
let writesSeen = 0;
let writesChecked = -1;
let rebuilding: Promise<void> | undefined;
let nextRebuildAt = 0;

/** What this isolate did, for tests, the benchmark and GET /boot/v1/service/snapshot. */
export const snapshotStats = { served: 0, fallbacks: 0, checks: 0, rebuilds: 0, lastRebuildMs: 0, nodes: 0, generation: -1 };

/** The snapshot to answer from, or undefined when the caller must read D1 itself. */
export async function currentSnapshot(env: Env, waiter: Waiter | undefined): Promise<BootSnapshot | undefined> {
  const mode = configOf(env).bootSnapshot;
  if (mode === "off") return undefined;
  const have = installed;
  if (have && mode === "exclusive" && writesChecked === writesSeen) return served(have);
  const writes = writesSeen;
  const now = await generationReadAfterNow(env.DB);
  if (have && sameGeneration(have.generation, now)) {
    writesChecked = writes;
    return served(have);
  }
  startRebuild(env.DB, waiter);
  snapshotStats.fallbacks++;
  return undefined;
}

function served(i: Installed): BootSnapshot {
  snapshotStats.served++;
  return i.snapshot;
}

/** Hono middleware: after any request that may have written, the next boot read checks D1. */
export function noteBootWrites(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.req.method !== "OPTIONS") writesSeen++;
  };
}

// ----------------------------------------------------------------------------- generation check

let inFlight: Promise<Generation> | undefined;
let queued: Promise<Generation> | undefined;

/**
 * A generation read issued no earlier than this call. A read already in flight started before us
 * and may predate a write the caller must see, so callers arriving during it share the next one.
 */
function generationReadAfterNow(d1: D1Database): Promise<Generation> {
  if (!inFlight) {
    snapshotStats.checks++;
    inFlight = readGeneration(d1).finally(() => (inFlight = undefined));
    return inFlight;
  }
  queued ??= inFlight
    .catch(() => undefined)
    .then(() => {
      queued = undefined;
      return generationReadAfterNow(d1);
    });
  return queued;
}

// ----------------------------------------------------------------------------- rebuild

/**
 * One rebuild at a time, and not more often than every twice its last duration: while an import
 * writes continuously, at most a third of D1's time goes to rebuilding snapshots that are stale
 * at once, and the boot path stays on D1 meanwhile.
 */
function startRebuild(d1: D1Database, waiter: Waiter | undefined) {
  if (rebuilding || Date.now() < nextRebuildAt) return;
  const started = Date.now();
  rebuilding = loadSnapshot(d1)
    .then(({ snapshot, generation }) => {
      installed = { snapshot, generation };
      snapshotStats.rebuilds++;
      snapshotStats.nodes = snapshot.nodeCount;
      snapshotStats.generation = generation.generation;
    })
    .catch((err) => console.error("boot snapshot: rebuild failed, boot reads stay on D1:", (err as Error).message))
    .finally(() => {
      const took = Date.now() - started;
      snapshotStats.lastRebuildMs = took;
      nextRebuildAt = Date.now() + 2 * took;
      rebuilding = undefined;
    });
  waiter?.waitUntil(rebuilding);
}
