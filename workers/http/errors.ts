import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { HttpProblem, problemResponse } from "../../shared/problem";
import { isStorageFull, storageFullResponse } from "../db/storage-full";
import { refusedBodyResponse } from "./body";

/**
 * The app's one error handler: every thrown error becomes problem+json. Expected failures are
 * HttpProblems; a full disk under the database is 507, logged once per episode (workers/db/storage-full.ts);
 * anything else is a bug, logged with its stack and answered 500 without internals.
 */
export function onError(err: Error, c: Context): Response {
  if (err instanceof HttpProblem) return err.status === 413 ? refusedBodyResponse(c.req.raw, err) : err.toResponse();
  if (err instanceof HTTPException) return problemResponse(err.status, err.message || undefined);
  if (isStorageFull(err)) return storageFullResponse();
  // drizzle wraps D1's error ("Failed query: …"); the reason is in its cause.
  const cause = err?.cause instanceof Error ? `\ncaused by: ${err.cause.message}` : "";
  console.error(`unhandled error on ${c.req.method} ${new URL(c.req.url).pathname}:`, (err?.stack ?? err) + cause);
  return problemResponse(500, "internal error; see the server log");
}

export function onNotFound(c: Context): Response {
  return problemResponse(404, `no route for ${c.req.method} ${new URL(c.req.url).pathname}`);
}
