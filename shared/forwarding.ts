/**
 * What a reverse proxy of ours (the agent's node proxy, the head node's HTTPS front) changes in the
 * requests it forwards to the API, and the header the API checks the proxy secret in.
 */
/** Node's incoming header object, spelt without Node's types (the worker imports this file too). */
type HeaderFields = Record<string, string | string[] | undefined>;

/** Sent by a trusted proxy beside its X-Forwarded-For; the API believes the latter only with it. */
export const PROXY_SECRET_HEADER = "x-ochami-proxy-secret";

/** RFC 9110 §7.6.1 hop-by-hop fields: never forwarded, in either direction. */
export const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"];

/**
 * Dropped from a request before forwarding: hop-by-hop fields, what would name a client (the proxy
 * sets that itself), the proxy secret, and `expect` (Node's server has answered a 100-continue
 * already; the body is streamed regardless).
 */
export const FORWARD_DROPS_FROM_REQUEST = [
  ...HOP_BY_HOP,
  "proxy-authorization",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-real-ip",
  PROXY_SECRET_HEADER,
  "expect",
];

/** The headers without those in `drop` and those the sender's Connection field lists (hop-by-hop too). */
export function filterHeaders(headers: HeaderFields, drop: ReadonlySet<string>): Record<string, string | string[]> {
  const listed = new Set(
    String(headers.connection ?? "")
      .toLowerCase()
      .split(",")
      .map((s) => s.trim()),
  );
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !drop.has(name) && !listed.has(name)) out[name] = value;
  }
  return out;
}
