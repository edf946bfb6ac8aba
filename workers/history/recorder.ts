import type { Db } from "../db";
import type { RequestVariables } from "../env";
import type { BootEvent } from "./model";
import { writeEvents } from "./store";

/**
 * Buffers boot events in the isolate and writes them in one batch shortly after, off the response
 * path: a boot storm of thousands of bootscript fetches per second becomes a few D1 batches per
 * second instead of one write per request. Events of an isolate that dies before the flush (a
 * crash) are lost; history is an observation aid, not inventory.
 *
 * workerd ties every promise to the request that created it, and drops the continuations of a
 * request that has finished; a request awaiting another request's promise can hang. So only
 * plain data is shared here: the request that finds no flush scheduled schedules one in its own
 * context (kept alive with `waitUntil`), and readers wait by polling, never by awaiting it.
 */
const FLUSH_DELAY_MS = 25;
const MAX_PENDING = 50_000;
/** A flush that has not finished after this long belongs to a request workerd cancelled. */
const STUCK_MS = 10_000;

let pending: BootEvent[] = [];
/** When the scheduled or running flush was scheduled; 0 when there is none. */
let flushSince = 0;
let dropped = 0;

/** What recording needs of a request: its context for `waitUntil`, the database, the history bound. */
type Recording = Pick<RequestVariables, "waiter" | "db" | "config">;

export function recordBootEvent(request: Recording, event: BootEvent): void {
  recordBootEvents(request, [event]);
}

export function recordBootEvents({ waiter, db, config }: Recording, events: BootEvent[]): void {
  for (const e of events) {
    if (pending.length >= MAX_PENDING) {
      dropped++;
      continue;
    }
    pending.push(e);
  }
  if (flushScheduled()) return;
  flushSince = Date.now();
  const flush = new Promise<void>((resolve) => setTimeout(resolve, FLUSH_DELAY_MS)).then(() => flushAll(db, config.historyMax));
  waiter?.waitUntil(flush);
}

const flushScheduled = () => flushSince !== 0 && Date.now() - flushSince < STUCK_MS;

/** Writes until nothing is pending; events recorded meanwhile join the next batch of the loop. */
async function flushAll(db: Db, maxEvents: number): Promise<void> {
  try {
    while (pending.length) {
      const batch = pending;
      pending = [];
      try {
        await writeEvents(db, batch, maxEvents);
      } catch (err) {
        console.error(`boot history: could not write ${batch.length} events:`, (err as Error).message);
      }
    }
    if (dropped) {
      console.error(`boot history: dropped ${dropped} events while the write queue was full`);
      dropped = 0;
    }
  } finally {
    flushSince = 0;
  }
}

/** Waits until events recorded so far in this isolate are written (reads call it first). */
export async function settleBootEvents({ db, config }: Pick<RequestVariables, "db" | "config">): Promise<void> {
  for (;;) {
    if (flushScheduled()) await new Promise((r) => setTimeout(r, 5));
    else if (pending.length) {
      flushSince = Date.now();
      await flushAll(db, config.historyMax);
    } else return;
  }
}
