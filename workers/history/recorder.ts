import type { Db } from "../db";
import type { BootEvent } from "./model";
import { writeEvents } from "./store";

/**
 * Buffers boot events in the isolate and writes them in one batch shortly after, off the response
 * path: a boot storm of thousands of bootscript fetches per second becomes a few D1 batches per
 * second instead of one write per request. Each request keeps the pending flush alive with
 * `waitUntil`. Events of an isolate that dies before the flush (a crash) are lost; history is an
 * observation aid, not inventory.
 */
const FLUSH_DELAY_MS = 25;
const MAX_PENDING = 50_000;

let pending: BootEvent[] = [];
let flushing: Promise<void> | undefined;
let dropped = 0;

export interface Waiter {
  waitUntil(p: Promise<unknown>): void;
}

/** The request's ExecutionContext when there is one (Hono throws on access when there is not). */
export function waiterOf(c: { executionCtx: Waiter }): Waiter | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

export function recordBootEvent(ctx: Waiter | undefined, db: Db, maxEvents: number, event: BootEvent): void {
  recordBootEvents(ctx, db, maxEvents, [event]);
}

export function recordBootEvents(ctx: Waiter | undefined, db: Db, maxEvents: number, events: BootEvent[]): void {
  for (const e of events) {
    if (pending.length >= MAX_PENDING) {
      dropped++;
      continue;
    }
    pending.push(e);
  }
  if (!flushing) {
    flushing = new Promise<void>((resolve) => setTimeout(resolve, FLUSH_DELAY_MS)).then(() => flush(db, maxEvents));
  }
  ctx?.waitUntil(flushing);
}

async function flush(db: Db, maxEvents: number): Promise<void> {
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
    flushing = undefined;
  }
}

/** Waits until events recorded so far in this isolate are written (reads call it first). */
export async function settleBootEvents(db: Db, maxEvents: number): Promise<void> {
  while (flushing || pending.length) {
    if (flushing) await flushing;
    else flushing = flush(db, maxEvents);
  }
}
