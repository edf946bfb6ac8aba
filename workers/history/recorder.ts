import type { Config } from "../config";
import { type Db, ROWS_PER_STATEMENT } from "../db";
import { isStorageFull, noteStorageFull, storageFull } from "../db/storage-full";
import { databaseDown, isDatabaseUnavailable, noteDatabaseUnavailable } from "../db/unavailable";
import type { RequestVariables } from "../env";
import { ClientRate } from "./client-rate";
import type { BootEvent } from "./model";
import { resolveEvents, writeEvents } from "./store";

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
 *
 * A flush drops the public requests' events of requesters SMD does not know beyond their
 * client's rate (client-rate.ts), then writes in one batch. On a full disk a batch that
 * cannot be written is dropped and counted, and the next attempt waits FULL_RETRY_MS: a failed
 * commit can fail the database reads in flight with it, so it must stay rare. A batch that finds
 * the database not answering (its process restarting) goes back to the front of the queue and is
 * tried again every UNAVAILABLE_RETRY_MS until it answers: until 2026-12-03 it was dropped, and a
 * restart of the database process during a boot storm lost the storm's history of those seconds.
 */
const FLUSH_DELAY_MS = 25;
/**
 * While events keep coming, a batch starts at most this often (sooner when ROWS_PER_STATEMENT are
 * waiting, or a reader is). The database process pays a fixed cost per batch (the request, the
 * transaction and its commit, the log's pruning): written back to back, a storm's batches held a
 * few dozen events each and that cost came back every few events.
 */
const BATCH_INTERVAL_MS = 100;
const FULL_RETRY_MS = 5_000;
const UNAVAILABLE_RETRY_MS = 500;
const MAX_PENDING = 50_000;
/**
 * A flush that has shown no sign of life for this long belongs to a request whose work workerd
 * cancelled: the next event schedules another. The loop beats at every batch and every 5 ms while
 * it waits between batches, so only a batch write slower than this is mistaken for a dead flush,
 * which costs a second loop writing beside the first (harmless: each takes its own events). It was
 * 10 s of silence: at storm rates the queue filled meanwhile (test/api/history-recorder.test.ts).
 */
const SILENT_MS = 2_000;
/** At most one log line per this long about events not recorded over their client's rate. */
const RATE_LOG_MS = 60_000;

let pending: BootEvent[] = [];
/** Events taken into `pending` so far, and how many of them are settled (written or dropped): readers wait on these. */
let recorded = 0;
let settled = 0;
/**
 * Until when a reader waits for the events recorded before it: the flush loop does not pace its
 * batches then. A time, renewed while the reader polls, rather than a count: a reader whose request
 * is cancelled never runs its cleanup.
 */
let readerWaitingUntil = 0;
/** The scheduled or running flush's last sign of life; 0 when there is none. */
let flushBeat = 0;
/** No write before this time (ms since the epoch): the disk was full at the last attempt. */
let retryAt = 0;
let droppedQueueFull = 0;
const clientRate = new ClientRate();
let overRateSince = { events: 0, at: 0 };

/** What this isolate recorded and dropped, for tests and the log. */
export const historyStats = {
  written: 0,
  /** Events dropped because the write queue held MAX_PENDING. */
  droppedQueueFull: 0,
  /** Events of requesters SMD does not know, over their client's OCHAMI_HISTORY_CLIENT_RATE. */
  droppedOverRate: 0,
  /** Events whose batch could not be written (a full disk). */
  droppedUnwritten: 0,
};

/** What recording needs of a request: its context for `waitUntil`, the database, the history bounds. */
type Recording = Pick<RequestVariables, "waiter" | "db" | "config">;

/**
 * One event of a public request (bootscript, cloud-init), whose `ip` is the requester's address:
 * the client its unknown-requester events are counted against.
 */
export function recordBootEvent(request: Recording, event: BootEvent): void {
  recordBootEvents(request, [{ ...event, client: event.client ?? event.ip ?? "" }]);
}

export function recordBootEvents({ waiter, db, config }: Recording, events: BootEvent[]): void {
  for (const e of events) {
    if (pending.length >= MAX_PENDING) {
      droppedQueueFull++;
      historyStats.droppedQueueFull++;
      continue;
    }
    pending.push(e);
    recorded++;
  }
  // While paused the events wait (within MAX_PENDING) for the first request after the pause.
  if (flushScheduled() || paused()) return;
  flushBeat = Date.now();
  const flush = new Promise<void>((resolve) => setTimeout(resolve, FLUSH_DELAY_MS)).then(() => flushAll(db, config));
  waiter?.waitUntil(flush);
}

/** `batch` back at the front of the queue, the newest events beyond MAX_PENDING dropped and counted. */
function requeue(batch: BootEvent[]): void {
  pending = batch.concat(pending);
  const over = pending.length - MAX_PENDING;
  if (over > 0) {
    pending.length = MAX_PENDING;
    droppedQueueFull += over;
    historyStats.droppedQueueFull += over;
    settled += over;
  }
}

/** Waits `ms`, beating as the loop does between batches (a silent flush is taken for dead). */
async function beatFor(ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    flushBeat = Date.now();
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Plain timers, polled: a reader's arrival or a full statement must cut the wait short (see above: no promise is shared between requests). */
async function untilNextBatch(previousStarted: number): Promise<void> {
  while (
    pending.length > 0 &&
    pending.length < ROWS_PER_STATEMENT &&
    Date.now() >= readerWaitingUntil &&
    Date.now() - previousStarted < BATCH_INTERVAL_MS
  ) {
    flushBeat = Date.now();
    await new Promise((r) => setTimeout(r, 5));
  }
}

const flushScheduled = () => flushBeat !== 0 && Date.now() - flushBeat < SILENT_MS;
/** The disk was full at the last attempt, FULL_RETRY_MS ago at most, and no write has succeeded since. */
const paused = () => storageFull.since !== 0 && Date.now() < retryAt;

/**
 * Writes until nothing is pending; events recorded meanwhile join the next batch of the loop, which
 * starts BATCH_INTERVAL_MS after the one before (sooner when a statement's worth is waiting or a
 * reader is).
 */
async function flushAll(db: Db, config: Config): Promise<void> {
  try {
    while (pending.length && !paused()) {
      const started = Date.now();
      // A loop that is alive is not stuck, however long a storm keeps it going.
      flushBeat = started;
      const batch = pending;
      pending = [];
      let requeued = false;
      try {
        const { events, allKnown } = await withinClientRates(db, batch, config.historyClientRate);
        if (events.length) await writeEvents(db, events, { maxEvents: config.historyMax, maxUnknown: config.historyUnknownMax }, allKnown);
        historyStats.written += events.length;
      } catch (err) {
        if (isStorageFull(err)) {
          historyStats.droppedUnwritten += batch.length;
          noteStorageFull({ droppedEvents: batch.length });
          retryAt = Date.now() + FULL_RETRY_MS;
        } else if (isDatabaseUnavailable(err)) {
          noteDatabaseUnavailable(err);
          requeue(batch);
          requeued = true;
        } else console.error(`boot history: could not write ${batch.length} events:`, (err as Error).message);
      } finally {
        if (!requeued) settled += batch.length;
      }
      await (requeued ? beatFor(UNAVAILABLE_RETRY_MS) : untilNextBatch(started));
    }
    logDrops(config);
  } finally {
    flushBeat = 0;
  }
}

/**
 * Requesters (by subject: xname, `mac:…`, `ip:…`) SMD knew when last resolved, and until when that
 * is trusted: a storm of SMD's nodes costs no lookup before the write (nor does any event whose
 * handler found its node in SMD: `inSmd`), which resolves every event
 * again itself (so the history names nodes exactly; a node deleted meanwhile only escapes its
 * client's rate for KNOWN_TTL_MS).
 */
const KNOWN_TTL_MS = 60_000;
const MAX_KNOWN = 100_000;
const knownUntil = new Map<string, number>();
const subjectOf = (e: BootEvent) => (e.name ? e.name : e.mac ? `mac:${e.mac}` : `ip:${e.ip ?? ""}`);

/**
 * The events to write: all of SMD's nodes' and the agent's, and the public requests' of unknown
 * requesters while their client is within its rate. Resolves (one read) only the public events
 * whose requester is not known to be in SMD. `allKnown`: every event written is of an SMD node.
 */
async function withinClientRates(db: Db, events: BootEvent[], perSecond: number): Promise<{ events: BootEvent[]; allKnown: boolean }> {
  const now = Date.now();
  const unsure = events.filter((e) => e.client !== undefined && !e.inSmd && !((knownUntil.get(subjectOf(e)) ?? 0) > now));
  let allKnown = events.every((e) => e.client !== undefined);
  if (!unsure.length) return { events, allKnown };
  const over = new Set<BootEvent>();
  for (const [i, e] of (await resolveEvents(db, unsure)).entries()) {
    if (e.known) {
      if (knownUntil.size >= MAX_KNOWN) knownUntil.clear();
      knownUntil.set(subjectOf(unsure[i]), now + KNOWN_TTL_MS);
    } else {
      allKnown = false;
      if (!clientRate.admit(e.client ?? "", e.timeMs, perSecond)) over.add(unsure[i]);
    }
  }
  historyStats.droppedOverRate += over.size;
  overRateSince.events += over.size;
  return { events: over.size ? events.filter((e) => !over.has(e)) : events, allKnown };
}

function logDrops(config: Config) {
  if (droppedQueueFull) {
    console.error(`boot history: dropped ${droppedQueueFull} events while the write queue was full`);
    droppedQueueFull = 0;
  }
  const now = Date.now();
  if (overRateSince.events && now - overRateSince.at >= RATE_LOG_MS) {
    console.error(
      `boot history: ${overRateSince.events} events of requesters SMD does not know were not recorded: ` +
        `their client was over OCHAMI_HISTORY_CLIENT_RATE (${config.historyClientRate} per second)`,
    );
    overRateSince = { events: 0, at: now };
  }
}

/**
 * Waits until events recorded so far in this isolate are written (reads call it first). Not while
 * the disk is full: they could not be written, and the reader gets what is there. Nor while the
 * database does not answer: the reader's own query then answers 503 at once, instead of waiting
 * with the events for the database to come back.
 */
export async function settleBootEvents({ db, config }: Pick<RequestVariables, "db" | "config">): Promise<void> {
  const target = recorded;
  while (settled < target && !paused() && databaseDown.since === 0) {
    readerWaitingUntil = Date.now() + 1_000;
    if (flushScheduled()) await new Promise((r) => setTimeout(r, 5));
    else if (pending.length) {
      flushBeat = Date.now();
      await flushAll(db, config);
    } else return; // a batch whose request workerd cancelled: it will not settle
  }
}

/**
 * A stopping process's last act (boot/snapshot/peers.ts, POST /drain): waits until no request is
 * in flight (`busy` false) and every event recorded is written. Not while the disk is full: those
 * events cannot be written.
 */
export async function drainBootEvents(scope: Pick<RequestVariables, "db" | "config">, busy: () => boolean): Promise<void> {
  for (;;) {
    await settleBootEvents(scope);
    if (paused() || (!busy() && !pending.length && !flushScheduled())) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}
