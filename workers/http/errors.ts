import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { HttpProblem, problemResponse } from "../../shared/problem";
import { isValueTooBig } from "../db";
import { isStorageFull, storageFullResponse } from "../db/storage-full";
import { databaseUnavailableResponse, isDatabaseUnavailable } from "../db/unavailable";
import { refusedBodyResponse } from "./body";

/**
 * The app's one error handler: every thrown error becomes problem+json. Expected failures are
 * HttpProblems; a full disk under the database is 507 and a database that does not answer 503, each
 * logged once per episode (workers/db/storage-full.ts, unavailable.ts); a value larger than the
 * database stores is 413; anything else is a bug, logged with its stack and answered 500 without
 * internals.
 */
export function onError(err: Error, c: Context): Response {
  if (err instanceof HttpProblem) return err.status === 413 ? refusedBodyResponse(c.req.raw, err) : err.toResponse();
  if (err instanceof HTTPException) return problemResponse(err.status, err.message || undefined);
  if (isStorageFull(err)) return storageFullResponse();
  if (isDatabaseUnavailable(err)) return databaseUnavailableResponse(err);
  // The body was read whole, so no lingering close (refusedBodyResponse) is needed: a plain 413.
  if (isValueTooBig(err)) return problemResponse(413, VALUE_TOO_BIG);
  // drizzle wraps D1's error ("Failed query: …"); the reason is in its cause.
  const cause = err?.cause instanceof Error ? `\ncaused by: ${err.cause.message}` : "";
  console.error(`unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, (err?.stack ?? err) + cause);
  return problemResponse(500, "internal error; see the server log");
}

/**
 * D1 keeps at most 2,000,000 bytes in one field or row (SQLITE_TOOBIG beyond; Cloudflare's figure,
 * local D1 refuses a value past about 2.2 MB), and the statement that met it wrote nothing; a
 * route's writes run in one batch, one transaction. Many rows are split into statements under the
 * limit (jsonArrays in workers/db), so only one value or row of that size gets here: a cloud-init
 * group's file, a hardware location's info, boot parameters.
 */
const VALUE_TOO_BIG =
  "a value in this request is too large to store: the database keeps at most 2,000,000 bytes in one field or row " +
  "(SQLite: string or blob too big), so the write was not made. Keep large files (images, archives) on the image server " +
  "and refer to them by URL.";

export function onNotFound(c: Context): Response {
  return problemResponse(404, `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);
}
