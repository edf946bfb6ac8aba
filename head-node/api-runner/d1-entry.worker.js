/**
 * The database process's entry (in place of miniflare's object-entry worker): forwards each D1
 * request to the one D1 object. When that object fails outside its own error handling (SQLite's
 * commit fails after the query ran: a full disk breaks the object's output gate), the failure is
 * answered in D1's own error shape, so the API's D1 client throws `D1_ERROR: <reason>` (e.g.
 * "database or disk is full: SQLITE_FULL") instead of an opaque "Internal Server Error" that no
 * caller can tell apart from any other fault.
 *
 * It also answers the runner's liveness probe, `GET /alive`, itself: the process has one thread,
 * so no answer means it is stuck (head-node/api-runner/index.ts kills and restarts it then).
 */
export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/alive") return new Response("alive\n");
    const name = env.MINIFLARE_NAMESPACE;
    const objects = env.MINIFLARE_OBJECT;
    try {
      return await objects.get(objects.idFromName(name)).fetch(request, { cf: { miniflare: { name } } });
    } catch (err) {
      return Response.json({ success: false, error: err instanceof Error ? err.message : String(err) }, { status: 500 });
    }
  },
};
