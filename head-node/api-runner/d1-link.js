/**
 * The API process's D1 binding (an internal workerd extension module, see workerd-config.ts):
 * workerd's own D1 client over a fetcher that retries a request once, at once, when workerd
 * reports the connection to the database process lost.
 *
 * Why: workerd pools its connections to an external service, and both ends of such a connection
 * give up on it after 5 s idle, each on its own clock. The database side's clock starts when it
 * has written a response, the API side's when it has read it, later; so for a moment after 5 s
 * the API still takes a connection as usable that the database side closes — and when the
 * database process is busy at that moment (SQLite writing a storm's boot history), it finds the
 * request that has just arrived on it and its own timeout due together, closes the connection
 * with the request unread, and the query fails with "Network connection lost".
 *
 * Why a retry is safe: the database side closes a connection with a request on it only then,
 * before reading it, so nothing ran. Otherwise the connection is lost only when the database
 * process dies: a retry at once finds nothing listening (the runner restarts it after at least
 * 0.5 s), fails too, and so can never run a statement twice.
 */
import makeD1Binding from "cloudflare-internal:d1-api";

/** What workerd's fetch() rejects with when the connection fails under a request. */
const LOST = "Network connection lost.";

export default function makeBinding(env) {
  const database = env.fetcher;
  return makeD1Binding({
    fetcher: {
      async fetch(input, init) {
        try {
          return await database.fetch(input, init);
        } catch (err) {
          if (!(err instanceof Error) || err.message !== LOST) throw err;
          // The D1 client's requests carry their body as a string: it can be sent again as is.
          console.log("d1: the connection to the database process was lost; retrying the query once");
          return database.fetch(input, init);
        }
      },
    },
  });
}
