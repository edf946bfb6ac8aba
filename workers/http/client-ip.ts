import { constantTimeEqual } from "../../shared/auth/secret-hash";
import { PROXY_SECRET_HEADER } from "../../shared/forwarding";
import { type CidrList, canonicalIp, inCidrList } from "../../shared/ip";

/**
 * Who sent a request: the one place the API decides a client's IP address. cloud-init identifies a
 * node by it alone, so it must come from the connection, not from anything the client writes.
 *
 * - The peer is the TCP peer workerd reports in `request.cf.clientIp` ("10.0.0.5:41234",
 *   "[fd00::5]:41234"; an IPv4 peer on a dual-stack socket is "[::ffff:10.0.0.5]:…"). Our runner
 *   (head-node/api-runner) serves the worker straight from a workerd socket, so this is the
 *   real peer and no header can change it.
 * - Headers that name a client (X-Forwarded-For, X-Real-IP, True-Client-IP, CF-Connecting-IP) are
 *   ignored, except X-Forwarded-For when the peer is a configured trusted proxy
 *   (OCHAMI_TRUSTED_PROXIES) *and* the request carries the proxy secret (OCHAMI_PROXY_SECRET) in
 *   X-Ochami-Proxy-Secret. The address alone proves nothing: the node proxy connects from
 *   loopback, and so does every local user of the head node (`curl -H 'X-Forwarded-For: <node>'
 *   http://127.0.0.1:8081/cloud-init/...` would read any node's data). Without the secret the
 *   request is answered as from its real peer. The list is read from the right: each trusted
 *   proxy vouches for the hop before it, and the first address that is not a trusted proxy is the
 *   client. (The leftmost entry, which upstream uses, is whatever the client sent: HAProxy's
 *   `option forwardfor` appends to a client's own header.)
 * - Under Miniflare / `wrangler dev` an entry worker sits in front of ours: it replaces
 *   `request.cf` with a blob a client may send itself (MF-CF-Blob) and sets CF-Connecting-IP only
 *   when the client did not. Neither names the peer, so there a node's address is unknown unless
 *   the client forged it; identify nodes only behind our runner.
 */
export type ClientAddress = { ok: true; ip: string; peer: string; forwarded: boolean } | { ok: false; reason: string };

/** The TCP peer as workerd reports it, canonical (IPv4-mapped addresses unwrapped). */
export function peerAddress(req: Request): string | undefined {
  const raw = (req as { cf?: { clientIp?: unknown } }).cf?.clientIp;
  return typeof raw === "string" ? parseAddress(raw) : undefined;
}

/**
 * Addresses parsed before, and whether a peer is in the trusted networks: every node-facing
 * request parses its peer (and, behind the node proxy, its X-Forwarded-For), and parsing through
 * ipaddr.js was ~7 % of a bootscript's CPU time. Bounded: emptied when full.
 */
const MEMO_LIMIT = 16_384;
const parsedAddresses = new Map<string, string | undefined>();
const trustedPeers = new WeakMap<CidrList, Map<string, boolean>>();

function remembered<V>(memo: Map<string, V>, key: string, compute: (key: string) => V): V {
  const have = memo.get(key);
  if (have !== undefined || memo.has(key)) return have as V;
  if (memo.size >= MEMO_LIMIT) memo.clear();
  const value = compute(key);
  memo.set(key, value);
  return value;
}

function inTrustedNetworks(ip: string, networks: CidrList): boolean {
  let memo = trustedPeers.get(networks);
  if (!memo) {
    memo = new Map();
    trustedPeers.set(networks, memo);
  }
  return remembered(memo, ip, (key) => inCidrList(key, networks));
}

/** "10.0.0.5:4242", "[fd00::5]:4242" or a bare IP literal → canonical IP; otherwise undefined. */
export function parseAddress(raw: string): string | undefined {
  return remembered(parsedAddresses, raw, parseAddressNow);
}

function parseAddressNow(raw: string): string | undefined {
  const s = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(s);
  if (bracketed) return canonicalIp(bracketed[1]);
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s);
  return canonicalIp(v4WithPort ? v4WithPort[1] : s);
}

export { PROXY_SECRET_HEADER };

/** Who may name the client in X-Forwarded-For: peers in `networks` that present `secret`. */
export interface TrustedProxies {
  networks: CidrList;
  secret: string | undefined;
}

const utf8 = new TextEncoder();

/**
 * Whether the request carries the proxy secret. Constant time in the secret's content; its length
 * is not secret (npm start's are always 43 characters).
 */
function presentsSecret(req: Request, secret: string | undefined): boolean {
  const presented = req.headers.get(PROXY_SECRET_HEADER);
  if (secret === undefined || presented === null) return false;
  return constantTimeEqual(utf8.encode(presented), encodedSecret(secret));
}

/** The configured secret's bytes, encoded once: every request behind the node proxy compares against it. */
let lastSecret: { text: string; bytes: Uint8Array } | undefined;
function encodedSecret(secret: string): Uint8Array {
  if (lastSecret?.text !== secret) lastSecret = { text: secret, bytes: utf8.encode(secret) };
  return lastSecret.bytes;
}

export function clientAddress(req: Request, trusted: TrustedProxies): ClientAddress {
  const peer = peerAddress(req);
  if (peer === undefined)
    return {
      ok: false,
      reason:
        "the runtime did not report the peer address (request.cf.clientIp); node-facing routes work only when workerd serves the worker directly, as `npm start` does",
    };
  if (!inTrustedNetworks(peer, trusted.networks) || !presentsSecret(req, trusted.secret))
    return { ok: true, ip: peer, peer, forwarded: false };
  const header = req.headers.get("x-forwarded-for");
  if (header === null || header.trim() === "") return { ok: true, ip: peer, peer, forwarded: false };
  const hops = header.split(",").map((h) => h.trim());
  for (let i = hops.length - 1; i >= 0; i--) {
    const ip = parseAddress(hops[i]);
    if (ip === undefined)
      return { ok: false, reason: `X-Forwarded-For from trusted proxy ${peer} holds '${hops[i]}', which is not an IP address` };
    if (i === 0 || !inTrustedNetworks(ip, trusted.networks)) return { ok: true, ip, peer, forwarded: true };
  }
  return { ok: true, ip: peer, peer, forwarded: false };
}
