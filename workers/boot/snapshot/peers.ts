/**
 * Several API processes on one database (`npm start` with OCHAMI_API_PROCESSES above 1): each
 * process's isolate holds its own snapshot, and in `exclusive` mode checks the generation only
 * after a write it knows of. A write through one process is made known to the others before its
 * response leaves: the runner binds every other process's own Unix socket as BOOT_PEER_<n>, and
 * the writer posts to each of them, awaiting the answers. A process so told checks the generation
 * before its next boot read, exactly as after a write of its own (current.ts). So a client that
 * got the write's response finds it in every process's next boot read.
 *
 * A process that cannot be reached is not serving: it is between a crash and its restart, and its
 * new isolate starts with no snapshot. One that neither answers nor refuses within PEER_WAIT_MS (a
 * stopped or stuck process) is named in the log, and the write answers anyway: it is committed.
 */
/** What each API process serves on its own socket. */
export const PEER_PATH = { alive: "/alive", writes: "/boot-writes", drain: "/drain" } as const;

/** How long a write waits for another process's answer (a process rebuilding 200,000 components is busy for seconds). */
const PEER_WAIT_MS = 10_000;

const isPeer = (name: string) => name.startsWith("BOOT_PEER_");

/** A service binding, as far as this file needs one (the runner imports it too, without workerd's types). */
interface Peer {
  fetch(url: string, init: RequestInit): Promise<Response>;
}

/** Tells every other API process of a write; resolves once each answered, refused, or timed out. */
export async function tellPeers(env: object): Promise<void> {
  const peers = Object.entries(env).filter(([name]) => isPeer(name)) as Array<[string, Peer]>;
  if (!peers.length) return;
  await Promise.all(
    peers.map(async ([name, peer]) => {
      try {
        const res = await notify(peer);
        await res.arrayBuffer();
        if (res.status !== 204) console.error(`boot snapshot: API process ${peerNumber(name)} answered ${res.status} to a write's notice`);
      } catch (err) {
        const what = (err as Error).name === "TimeoutError" ? `did not answer within ${PEER_WAIT_MS / 1000} s` : (err as Error).message;
        // Refused: it is not serving (restarting), and starts with no snapshot. Else it may serve stale boot reads until its next check.
        console.error(`boot snapshot: API process ${peerNumber(name)} was not told of a write: ${what}`);
      }
    }),
  );
}

const peerNumber = (binding: string) => binding.slice("BOOT_PEER_".length);

/**
 * One notice, sent again once at once when the connection was lost under it: workerd pools its
 * connections to another process, and the other side may close one that went idle just as the
 * notice is sent on it (head-node/api-runner/d1-link.js says how). A notice is harmless twice.
 */
async function notify(peer: Peer): Promise<Response> {
  const send = () => peer.fetch(`http://peer${PEER_PATH.writes}`, { method: "POST", signal: AbortSignal.timeout(PEER_WAIT_MS) });
  try {
    return await send();
  } catch (err) {
    if ((err as Error).name === "TimeoutError") throw err;
    return send();
  }
}

/**
 * The entrypoint of a process's own socket:
 *  - POST /boot-writes: a write elsewhere (`noteWrite` marks this isolate's snapshot for a check);
 *  - GET /alive: the runner's liveness probe;
 *  - POST /drain: the runner's last request before it stops the process. It is answered at once
 *    with a body that stays open while `drain` runs (until no other request is in flight and the
 *    boot events they recorded are written), so workerd, told to stop, keeps the process until
 *    then: it finishes the requests in flight, and this is one. Without it, events recorded in the
 *    last moments before a stop could be lost with the process.
 */
export function peerEntrypoint(handlers: { noteWrite(): void; drain(env: object): Promise<void> }) {
  return {
    fetch(request: Request, env: object): Response {
      const path = new URL(request.url).pathname;
      if (request.method === "POST" && path === PEER_PATH.writes) {
        handlers.noteWrite();
        return new Response(null, { status: 204 });
      }
      if (request.method === "POST" && path === PEER_PATH.drain) {
        const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
        const writer = writable.getWriter();
        const text = new TextEncoder();
        void writer.write(text.encode("draining\n"));
        void handlers
          .drain(env)
          .then(
            () => writer.write(text.encode("drained\n")),
            (err) => writer.write(text.encode(`drain failed: ${(err as Error).message}\n`)),
          )
          .finally(() => writer.close());
        return new Response(readable, { headers: { "content-type": "text/plain" } });
      }
      if (request.method === "GET" && path === PEER_PATH.alive) return new Response("ok");
      return new Response("not found", { status: 404 });
    },
  };
}
