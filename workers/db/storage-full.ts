import { problemResponse } from "../../shared/problem";
import { errorSays } from "./errors";
import { databaseDown, noteDatabaseAnswered } from "./unavailable";

/**
 * A full disk under the database: the one place that recognises it and says so.
 *
 * SQLite answers SQLITE_FULL, "database or disk is full", to any write it cannot make room for,
 * deletes included (the log needs room before pages are freed). D1 passes SQLite's message on:
 * `D1_ERROR: database or disk is full: SQLITE_FULL` (under `npm start` the runner's database
 * process makes sure of it, head-node/api-runner/d1-entry.worker.js). Reads need no room, so the
 * boot path, admin reads and token issuance keep working; a write answers 507 saying why, and
 * works again as soon as there is room, without a restart.
 *
 * The condition is logged once when it starts and once when a write succeeds again, with what was
 * refused meanwhile, not once per request: a boot storm on a full disk would otherwise bury the
 * log (and fill it, if it shares the disk).
 */
const FULL = /database or disk is full|SQLITE_FULL/i;

/** True when a D1 error (drizzle wraps it: "Failed query: …", the reason in its cause) is a full disk. */
export function isStorageFull(err: unknown): boolean {
  return errorSays(err, FULL);
}

/** This isolate's view, for the log lines and tests. */
export const storageFull = {
  /** When the current episode began (ms since the epoch); 0 while writes work. */
  since: 0,
  /** Requests answered 507 in the current episode. */
  refused: 0,
  /** Boot-history events dropped in the current episode (workers/history/recorder.ts). */
  droppedEvents: 0,
  /** Episodes that ended, since the isolate started. */
  episodes: 0,
};

const DETAIL =
  "the database's disk is full (SQLite: database or disk is full), so this change was not stored. " +
  "Free space where the database lives (under `npm start`: the state directory, OCHAMI_STATE_DIR); " +
  "reads and booting continue meanwhile, and writes work again as soon as there is room, without a restart.";

/** Notes a write that failed for want of room; logs only the first of an episode. */
export function noteStorageFull(what: { droppedEvents?: number; refused?: boolean } = {}): void {
  if (storageFull.since === 0) {
    storageFull.since = Date.now();
    console.error(
      "storage: the database's disk is full: writes are refused (507) and boot-history events dropped until there is room; " +
        "booting, reads and token issuance continue",
    );
  }
  if (what.refused) storageFull.refused++;
  storageFull.droppedEvents += what.droppedEvents ?? 0;
}

/** Notes a write that succeeded: ends an episode, logging what it cost. */
export function noteStorageWritable(): void {
  if (storageFull.since === 0) return;
  const seconds = Math.round((Date.now() - storageFull.since) / 1000);
  console.error(
    `storage: writes succeed again after ${seconds} s of a full disk ` +
      `(${storageFull.refused} requests refused, ${storageFull.droppedEvents} boot-history events dropped)`,
  );
  storageFull.since = 0;
  storageFull.refused = 0;
  storageFull.droppedEvents = 0;
  storageFull.episodes++;
}

/** The answer to a request whose write found the disk full: 507 Insufficient Storage (RFC 4918 §11.5). */
export function storageFullResponse(): Response {
  noteStorageFull({ refused: true });
  return problemResponse(507, DETAIL);
}

/**
 * The D1 binding as the app uses it (workers/db/index.ts): the same calls, except that a result
 * with rows changed ends a full-disk episode (the one sure sign there is room again; a request
 * answered 2xx may have written nothing: a token, a queued report), and any result ends an episode
 * of the database not answering (unavailable.ts). One `then` per query.
 */
export function watchWrites(d1: D1Database): D1Database {
  const watched: Pick<D1Database, "prepare" | "batch" | "exec" | "dump" | "withSession"> = {
    prepare: (query) => new WatchedStatement(d1.prepare(query)) as unknown as D1PreparedStatement,
    batch: <T>(statements: D1PreparedStatement[]) => d1.batch<T>(statements.map(unwrap)).then(noteResults),
    exec: (query) => d1.exec(query),
    dump: () => d1.dump(),
    withSession: (constraint) => d1.withSession(constraint),
  };
  return watched as D1Database;
}

const unwrap = (s: D1PreparedStatement) => (s instanceof WatchedStatement ? s.inner : s);

class WatchedStatement {
  constructor(readonly inner: D1PreparedStatement) {}
  bind(...values: unknown[]) {
    return new WatchedStatement(this.inner.bind(...values));
  }
  first(column?: string) {
    return (column === undefined ? this.inner.first() : this.inner.first(column)).then(answered);
  }
  raw(options?: { columnNames?: boolean }) {
    return (options?.columnNames ? this.inner.raw({ columnNames: true }) : this.inner.raw()).then(answered);
  }
  all() {
    return this.inner.all().then(noteResult);
  }
  run() {
    return this.inner.run().then(noteResult);
  }
}

function noteResult<R extends { meta?: { changes?: number } }>(result: R): R {
  if (storageFull.since !== 0 && (result.meta?.changes ?? 0) > 0) noteStorageWritable();
  return answered(result);
}

function answered<R>(result: R): R {
  if (databaseDown.since !== 0) noteDatabaseAnswered();
  return result;
}

function noteResults<R extends { meta?: { changes?: number } }>(results: R[]): R[] {
  for (const r of results) noteResult(r);
  return results;
}
