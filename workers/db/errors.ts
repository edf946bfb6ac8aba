/**
 * True when a D1 error, or an error it wraps, says `pattern`: drizzle wraps D1's error ("Failed
 * query: …", D1's as its cause), and D1's own may carry SQLite's as a cause in turn.
 */
export function errorSays(err: unknown, pattern: RegExp): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) if (pattern.test(e.message)) return true;
  return typeof err === "string" && pattern.test(err);
}
