import type { ClientRequest } from "node:http";

/**
 * Kept-alive connections to the API, as its Node clients hold them (the API client, the node proxy,
 * the HTTPS front).
 *
 * workerd closes a connection idle for 5 s (as Node's own server does by default) without saying
 * so in a Keep-Alive header, and a request a client sends on it in the last milliseconds before
 * that close fails: through the node proxy, 3 of 12 node requests sent 4,990–5,012 ms after the
 * previous one got a 502. So the clients close their idle connections sooner (KEPT_ALIVE_IDLE_MS),
 * and a request without effects that still meets such a close goes again, once, on a new
 * connection (closedUnderRequest), as Go's client does for the ochami CLI and coresmd.
 */
export const KEPT_ALIVE_IDLE_MS = 4_000;

/**
 * The request went out on a kept-alive connection that the server closed before answering it, so
 * it never reached a handler. Only for an error before any answer (the caller knows).
 */
export function closedUnderRequest(req: ClientRequest, err: NodeJS.ErrnoException): boolean {
  return req.reusedSocket && (err.code === "ECONNRESET" || err.code === "EPIPE");
}
