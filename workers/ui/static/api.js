/**
 * The admin's session and every request to the API. The token lives in this module's memory only
 * (never in storage: a reload asks again). Logged in with client credentials, the page asks for a
 * new token when 80% of the old one's lifetime has passed (at least 30 s before it expires), and
 * once more after a 401; a pasted token cannot be renewed, so the page says when it expires and
 * asks again then. A request whose scope the token lacks is not sent at all.
 */

const session = {
  token: "",
  /** Canonical scopes (`smd:read`; Hydra's `smd.read` is accepted everywhere). */
  scopes: new Set(),
  /** Epoch ms; 0 when unknown. */
  expiresAt: 0,
  /** Who the token speaks for: `client <id>` or `pasted token (<sub>)`. */
  who: "",
  /** Client credentials, kept to renew the token; null for a pasted token. */
  credentials: null,
  timer: 0,
};

const listeners = new Set();

/** `fn(session, reason)` after every login, renewal and logout. */
export function onSessionChange(fn) {
  listeners.add(fn);
}

function changed(reason) {
  for (const fn of listeners) fn(sessionInfo(), reason);
}

export function sessionInfo() {
  return {
    loggedIn: session.token !== "",
    who: session.who,
    scopes: [...session.scopes],
    expiresAt: session.expiresAt,
    renews: !!session.credentials,
  };
}

export class ApiError extends Error {
  constructor(status, detail, path) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
    this.path = path;
  }
}

/** A request the token has no scope for: never sent. */
export class MissingScope extends Error {
  constructor(scope) {
    super(`needs scope ${scope}`);
    this.scope = scope;
  }
}

const canonical = (s) => s.replace(".", ":");

export function hasScope(scope) {
  return session.scopes.has("admin") || session.scopes.has(scope);
}

/** OAuth 2.0 client credentials at POST /token (client_secret_post). */
export async function loginWithClient(clientId, clientSecret, scope = "") {
  const credentials = { clientId, clientSecret, scope };
  const granted = await requestToken(credentials);
  session.credentials = credentials;
  adopt(granted.access_token, granted.scope, Date.now() + granted.expires_in * 1000, `client ${clientId}`);
  changed("login");
}

async function requestToken({ clientId, clientSecret, scope }) {
  const form = new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret });
  if (scope) form.set("scope", scope);
  const res = await fetch("/token", { method: "POST", body: form, headers: { accept: "application/json" } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(res.status, body.error_description || body.error || body.detail || res.statusText, "/token");
  return body;
}

/** A token from elsewhere (`npm run --silent token`, another issuer): its claims say its scopes and expiry. */
export function useToken(token) {
  const claims = jwtClaims(token.trim());
  if (!claims) throw new Error("this is not a JWT (three base64url parts separated by dots)");
  const expiresAt = typeof claims.exp === "number" ? claims.exp * 1000 : 0;
  if (expiresAt && expiresAt <= Date.now()) throw new Error("this token has expired");
  const scopes = Array.isArray(claims.scp) ? claims.scp.join(" ") : typeof claims.scope === "string" ? claims.scope : "";
  session.credentials = null;
  adopt(token.trim(), scopes, expiresAt, `pasted token (${claims.client_id || claims.sub || "?"})`);
  changed("login");
}

export function logout(reason = "logout") {
  clearTimeout(session.timer);
  Object.assign(session, { token: "", scopes: new Set(), expiresAt: 0, who: "", credentials: null, timer: 0 });
  changed(reason);
}

function adopt(token, scopes, expiresAt, who) {
  session.token = token;
  session.scopes = new Set(scopes.split(/\s+/).filter(Boolean).map(canonical));
  session.expiresAt = expiresAt;
  session.who = who;
  clearTimeout(session.timer);
  if (!expiresAt) return;
  const left = expiresAt - Date.now();
  if (session.credentials) session.timer = setTimeout(() => void renew(), Math.max(1000, Math.min(left * 0.8, left - 30_000)));
  else session.timer = setTimeout(() => logout("expired"), left);
}

let renewing;

/** A new token with the same credentials; on failure, tried again every 10 s until the old one expires. */
function renew() {
  renewing ??= (async () => {
    try {
      const granted = await requestToken(session.credentials);
      adopt(granted.access_token, granted.scope, Date.now() + granted.expires_in * 1000, session.who);
      changed("renewed");
    } catch (err) {
      if (err instanceof ApiError && (err.status === 400 || err.status === 401)) return logout("rejected");
      if (Date.now() + 10_000 < session.expiresAt) session.timer = setTimeout(() => void renew(), 10_000);
      else logout("expired");
    } finally {
      renewing = undefined;
    }
  })();
  return renewing;
}

function jwtClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const b64 = parts[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))));
  } catch {
    return undefined;
  }
}

/**
 * GET `path` on this origin with the token. `scope`: what the route needs (the request is not
 * sent without it). Throws ApiError with the problem's detail for an answer that is not 2xx.
 */
export async function api(path, { scope, signal } = {}) {
  if (!session.token) throw new MissingScope(scope ?? "a token");
  if (scope && !hasScope(scope)) throw new MissingScope(scope);
  let res = await send(path, signal);
  if (res.status === 401 && session.credentials) {
    await renew();
    if (session.token) res = await send(path, signal);
  }
  if (!res.ok) {
    let detail = res.statusText;
    try {
      const body = await res.json();
      detail = body.detail || body.title || detail;
    } catch {
      /* not a problem document */
    }
    throw new ApiError(res.status, detail, path);
  }
  return res;
}

function send(path, signal) {
  return fetch(path, { headers: { authorization: `Bearer ${session.token}` }, signal, cache: "no-store" });
}

export const apiJson = async (path, opts) => (await api(path, opts)).json();
export const apiText = async (path, opts) => (await api(path, opts)).text();
