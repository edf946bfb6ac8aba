import { DOTTED_QUAD_PATTERN } from "../../shared/ip";
import { problemResponse } from "../../shared/problem";

/**
 * The request with the absolute URL the app routes on, built from the request target as sent.
 *
 * Why here: `npm start` serves the worker from a workerd socket in `proxy` style
 * (head-node/api-runner/workerd-config.ts), which hands the worker the request target verbatim.
 * In workerd's default `host` style, workerd itself parses the target as a path and glues the
 * Host header in front, and answers 500 (before any worker code runs) to every valid request it
 * cannot parse that way: the absolute form `GET http://host:port/path` (which RFC 9112 §3.2.2
 * says a server MUST accept), `OPTIONS *`, and a malformed Host header (a 400 per §3.2). Here:
 *  - origin form (`/path?query`): `http://` + Host + target; no Host, or an invalid one, is a 400;
 *  - absolute form (`http://host/path`): that URL, its authority winning over Host (§3.2.2);
 *  - asterisk form: `OPTIONS *` answers with the methods the API uses; with another method, 400;
 *  - anything else (another scheme, an authority alone) is a 400.
 * Under Cloudflare, Miniflare and the test pool the URL is absolute already and passes unchanged.
 * The URL is always as WHATWG serializes it (parsed, unless it is in that form already), so the
 * path the auth policy and the router see is canonical (dot segments resolved), as workerd's own
 * parsing made it in `host` style.
 *
 * The request keeps its identity: its `url` is redefined on the object rather than copied into a
 * new Request (which costs ~6 µs of the ~110 µs a bootscript takes; this costs ~1 µs). Nothing
 * here forwards or clones the incoming request, which would see the target as sent.
 *
 * CONNECT never reaches the worker: workerd answers it 500 itself in either style.
 */
export function requestWithUrl(req: Request): Request | Response {
  const target = req.url;
  if (target.charCodeAt(0) === 47 /* "/" */) {
    const host = req.headers.get("host");
    if (host === null || host === "") return refuse("the request has no Host header (RFC 9112 §3.2)");
    if (!AUTHORITY.test(host)) return refuse(`the Host header '${host.slice(0, 100)}' is not a host and port`);
    const raw = `http://${host}${target}`;
    const url = alreadySerialized(host, target) ? raw : parsed(raw);
    return url ? withUrl(req, url) : refuse(`the request target '${target.slice(0, 100)}' with Host '${host}' is not a valid URL`);
  }
  if (ABSOLUTE.test(target)) {
    const url = parsed(target);
    if (!url) return refuse(`the request target '${target.slice(0, 100)}' is not a valid URL`);
    return url === target ? req : withUrl(req, url);
  }
  if (target === "*") {
    if (req.method === "OPTIONS") return new Response(null, { status: 204, headers: { allow: SERVER_METHODS } });
    return refuse("the request target '*' is for OPTIONS only (RFC 9112 §3.2.4)");
  }
  return refuse(`the request target '${target.slice(0, 100)}' is neither a path nor an http(s) URL`);
}

/** Methods some route of the API answers. */
const SERVER_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE";

const ABSOLUTE = /^https?:\/\//i;
/** RFC 9110 §7.2: uri-host [ ":" port ], the host a reg-name, an IPv4 address or a bracketed IPv6 one. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]+)(?::[0-9]{0,5})?$/;

/**
 * Whether `http://` + host + target is already the URL WHATWG would serialize, so it need not be
 * parsed: a URL object per request was ~2 % of a bootscript's CPU, and one more object per request
 * for workerd to destroy after a collection (its pauses grow with their number). Conservative,
 * anything else is parsed: a lower-case name whose last label starts with a letter (a numeric last
 * label makes WHATWG read an IPv4 address; `xn--` labels are checked as punycode) or a dotted quad
 * as WHATWG writes it; a port other than 80 without leading zeros; a target of characters that no
 * percent-encode set holds, with no dot segment and no fragment. (SERIALIZED_ORIGIN, below, is
 * looser on purpose: it recognizes what a parse already produced, IPv6 and percent-escapes included.)
 */
function alreadySerialized(host: string, target: string): boolean {
  const m = CANONICAL_HOST.exec(host);
  if (!m || host.includes("xn--") || (m[1] !== undefined && Number(m[1]) > 65_535)) return false;
  return CANONICAL_TARGET.test(target) && !target.includes("/.") && !/%2e/i.test(target);
}

const CANONICAL_HOST = new RegExp(`^(?:(?:[a-z0-9-]+\\.)*[a-z][a-z0-9-]*|${DOTTED_QUAD_PATTERN})(?::(?!80$)([1-9][0-9]{0,4}))?$`);
/** Unreserved and sub-delimiter characters, ":", "@", "/", "?" and "%": none is in a WHATWG percent-encode set. */
const CANONICAL_TARGET = /^\/[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*$/;

/** The URL as WHATWG serializes it, fragment dropped (a request target has none); undefined if invalid. */
function parsed(raw: string): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.hostname === "" || url.username !== "" || url.password !== "") return undefined;
  url.hash = "";
  return url.href;
}

/**
 * `new URL(url).origin`, without parsing again a URL WHATWG already serialized (a request's URL
 * after requestWithUrl: `scheme://host[:port]/path…`, no userinfo); any other URL is parsed.
 */
export function originOf(url: string): string {
  const authorityEnd = url.indexOf("/", url.indexOf("//") + 2);
  const serialized = authorityEnd > 0 && SERIALIZED_ORIGIN.test(url.slice(0, authorityEnd));
  return serialized ? url.slice(0, authorityEnd) : new URL(url).origin;
}

/**
 * An origin as WHATWG writes it: lower-case scheme and host, a port only if it is not a default
 * one (80 and 443 take the slow path either way) and without leading zeros, then the path.
 */
const SERIALIZED_ORIGIN = /^https?:\/\/(?:\[[0-9a-f:.]+\]|[a-z0-9\-._~%!$&'()*+,;=]+)(?::(?!(?:80|443)$)[1-9][0-9]*)?$/;

function withUrl(req: Request, url: string): Request {
  Object.defineProperty(req, "url", { value: url, enumerable: true });
  return req;
}

const refuse = (detail: string) => problemResponse(400, detail);
