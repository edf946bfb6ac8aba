import { problemResponse } from "../../shared/problem";
import { errorSays } from "./errors";

/**
 * The database not answering: the one place that recognises it and says so.
 *
 * Under `npm start` the database is another process, restarted by the runner when it dies (after
 * 0.5 s, longer when it keeps dying); meanwhile each query fails in the API's D1 binding, which
 * says "the database process is unavailable" (head-node/api-runner/d1-link.js). Cloudflare's D1
 * fails a query with "Network connection lost" and the like when its connection or its storage
 * object is reset, and asks callers to retry. Either way the request is answered 503 with
 * Retry-After, not 500: nothing is wrong with the request, and a client may try it again. Boot
 * answers come from the snapshot meanwhile, and boot-history events wait in the isolate
 * (workers/history/recorder.ts) instead of being dropped.
 *
 * Logged once when it starts and once when a query succeeds again, with the count of requests
 * answered 503 meanwhile: a boot storm during a restart would otherwise log a line per request.
 */
const UNAVAILABLE =
  /database process is unavailable|Network connection lost|D1 DB is overloaded|storage caused object to be reset|reset because its code was updated/i;

/** True when a D1 error (possibly wrapped: drizzle's "Failed query: …" has it as its cause) says the database did not answer. */
export function isDatabaseUnavailable(err: unknown): boolean {
  return errorSays(err, UNAVAILABLE);
}

/** This isolate's view, for the log lines and tests. */
export const databaseDown = {
  /** When the current episode began (ms since the epoch); 0 while the database answers. */
  since: 0,
  /** Requests answered 503 in the current episode. */
  refused: 0,
  /** Episodes that ended, since the isolate started. */
  episodes: 0,
};

/** Seconds a client is told to wait before trying again: the runner restarts a database process after 0.5 s. */
const RETRY_AFTER_S = 1;

const DETAIL =
  "the database did not answer (under `npm start`: its process is restarting), so this request was not served. " +
  "Try again shortly; a write that met this may or may not have been stored.";

/** Notes a query that found the database unavailable; logs only the first of an episode. */
export function noteDatabaseUnavailable(err: unknown, what: { refused?: boolean } = {}): void {
  if (databaseDown.since === 0) {
    databaseDown.since = Date.now();
    console.error(
      `database: not answering (${(err as Error)?.message ?? err}); requests that need it answer 503 until it does, ` +
        "boot answers come from the snapshot and boot-history events wait",
    );
  }
  if (what.refused) databaseDown.refused++;
}

/** Notes a query that succeeded: ends an episode, logging what it cost. */
export function noteDatabaseAnswered(): void {
  if (databaseDown.since === 0) return;
  const seconds = ((Date.now() - databaseDown.since) / 1000).toFixed(1);
  console.error(`database: answering again after ${seconds} s (${databaseDown.refused} requests answered 503)`);
  databaseDown.since = 0;
  databaseDown.refused = 0;
  databaseDown.episodes++;
}

/** The answer to a request whose query found the database unavailable: 503 with Retry-After. */
export function databaseUnavailableResponse(err: unknown): Response {
  noteDatabaseUnavailable(err, { refused: true });
  return problemResponse(503, DETAIL, { headers: { "retry-after": String(RETRY_AFTER_S) } });
}
