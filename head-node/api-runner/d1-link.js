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
 *
 * A query whose request gets no answer at all (the retry failed too, or the process is not there:
 * workerd then says "internal error; reference = …") fails with "the database process is
 * unavailable", which the API answers 503, not 500 (workers/db/unavailable.ts). An SQL error is
 * an answer, and passes through unchanged.
 */
import makeD1Binding from "cloudflare-internal:d1-api";

/** What workerd's fetch() rejects with when the connection fails under a request. */
const LOST = "Network connection lost.";

/** At most one line about lost connections this often, with how many there were: a restart under load loses hundreds. */
const LOG_EVERY_MS = 10_000;
let lostSinceLog = 0;
let loggedAt = 0;

function noteLost() {
  lostSinceLog++;
  if (Date.now() - loggedAt < LOG_EVERY_MS) return;
  console.log(`d1: ${lostSinceLog} connection(s) to the database process lost; each query retried once`);
  lostSinceLog = 0;
  loggedAt = Date.now();
}

function unavailable(err) {
  return new Error(`the database process is unavailable: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

export default function makeBinding(env) {
  const database = env.fetcher;
  return makeD1Binding({
    fetcher: {
      async fetch(input, init) {
        try {
          return await database.fetch(input, init);
        } catch (err) {
          if (!(err instanceof Error) || err.message !== LOST) throw unavailable(err);
          noteLost();
          // The D1 client's requests carry their body as a string: it can be sent again as is.
          return database.fetch(input, init).catch((again) => {
            throw unavailable(again);
          });
        }
      },
    },
  });
}
