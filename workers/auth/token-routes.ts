import { z } from "zod";
import { verifySecret } from "../../shared/auth/secret-hash";
import { HttpProblem, problemResponse } from "../../shared/problem";
import type { AuthConfig } from "../config";
import type { Db } from "../db";
import { isStorageFull, noteStorageFull } from "../db/storage-full";
import { readBytes, SMALL_BODY_BYTES } from "../http/body";
import { op, type RequestScope, type Router, resource } from "../http/route";
import { problems } from "../http/wire";
import { bootstrapClientOf } from "./bootstrap";
import { type ClientRow, findClient, upsertBootstrapClient } from "./clients-store";
import { mintAccessToken } from "./issuer";
import { keyringOf } from "./keyring";
import { authConfigOf, REALM } from "./middleware";
import { ADMIN_SCOPE, ALL_SCOPES, canonicalScope, isScope, NEUTRAL_SCOPES, scopeList } from "./scopes";
import { throttleAddress, tokenThrottle } from "./throttle";

/**
 * The token endpoint: OAuth 2.0 client credentials grant (RFC 6749 §4.4), at /token (opaal's
 * path, which BSS and cloud-init were configured with) and /oauth2/token (Hydra's). Client
 * authentication by HTTP Basic or client_secret_post (§2.3.1); errors as §5.2 JSON.
 */
export function registerTokenRoutes(app: Router) {
  for (const path of ["/token", "/oauth2/token"])
    resource(app, path, {
      post: op(
        {
          summary: "Get an access token (OAuth 2.0 client credentials grant)",
          description:
            "Client authentication by HTTP Basic (`client_id:client_secret`, form-encoded) or `client_id` and `client_secret` in the form. " +
            "Errors are RFC 6749 §5.2 JSON (`error`, `error_description`), not problem details; the HTTP-level refusals are " +
            "problem details: 413 past the body limit, and 429 with Retry-After after too many failed authentications " +
            "from one address, or for one client id from an address that also failed.",
          tags: ["Auth"],
          // Public, so anyone can send one: a form of a few hundred bytes, refused at 64 KiB however framed.
          maxBodyBytes: SMALL_BODY_BYTES,
          request: { body: { required: true, content: { "application/x-www-form-urlencoded": { schema: TokenRequest } } } },
          responses: {
            200: { description: "the token", content: { "application/json": { schema: TokenAnswer } } },
            400: { description: "invalid request, grant type or scope", content: { "application/json": { schema: OAuthError } } },
            401: { description: "client authentication failed", content: { "application/json": { schema: OAuthError } } },
            ...problems(429),
            503: { description: "the issuer is not configured", content: { "application/json": { schema: OAuthError } } },
          },
        },
        tokenEndpoint,
      ),
    });
}

/** The form of a token request; read by tokenEndpoint itself, as its errors are OAuth's, not problem details. */
const TokenRequest = z
  .object({
    grant_type: z.literal("client_credentials"),
    scope: z.string().optional().meta({ description: "space-separated scopes; default: all the client holds" }),
    client_id: z.string().optional(),
    client_secret: z.string().optional(),
  })
  .meta({ id: "TokenRequest" });
const TokenAnswer = z
  .object({ access_token: z.string(), token_type: z.literal("bearer"), expires_in: z.int(), scope: z.string() })
  .meta({ id: "TokenAnswer" });
const OAuthError = z.object({ error: z.string(), error_description: z.string() }).meta({ id: "OAuthError" });

/** RFC 6749 §5.2 error response; never cached (§5.1). */
function oauthError(status: 400 | 401 | 503, error: string, description: string, basicChallenge = false): Response {
  const headers: Record<string, string> = { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" };
  if (basicChallenge) headers["www-authenticate"] = `Basic realm="${REALM}", charset="UTF-8"`;
  return new Response(JSON.stringify({ error, error_description: description }), { status, headers });
}

/** Always 401 with a Basic challenge (§5.2: MUST when the client used Basic; MAY otherwise). */
const invalidClient = () =>
  oauthError(401, "invalid_client", "client authentication failed (unknown client, wrong secret, or revoked)", true);

/** A throttled attempt: 429 problem details with Retry-After (RFC 6585 §4), never cached. */
function tooManyFailures(retryAfterSeconds: number, reason: string): Response {
  return problemResponse(429, `${reason}; try again in ${retryAfterSeconds} s`, {
    headers: { "retry-after": String(retryAfterSeconds), "cache-control": "no-store" },
  });
}

async function tokenEndpoint(c: RequestScope): Promise<Response> {
  let config: AuthConfig;
  try {
    config = authConfigOf(c.var);
  } catch (err) {
    return oauthError(503, "server_error", (err as Error).message);
  }
  const form = await readForm(c.req.raw);
  if (typeof form === "string") return oauthError(400, "invalid_request", form);

  const grantType = form.get("grant_type");
  if (!grantType) return oauthError(400, "invalid_request", "grant_type is required");
  if (grantType !== "client_credentials") {
    return oauthError(400, "unsupported_grant_type", `grant_type '${grantType}' is not supported; use client_credentials`);
  }

  const credentials = clientCredentials(c.req.raw.headers.get("authorization") ?? undefined, form);
  if (typeof credentials === "string") return oauthError(400, "invalid_request", credentials);
  if (!credentials)
    return oauthError(
      401,
      "invalid_client",
      "client authentication is required (HTTP Basic, or client_id and client_secret in the body)",
      true,
    );

  const keys = await keyringOf(config);
  if (!keys?.ok || !keys.keyring.signer) {
    return oauthError(503, "server_error", "the token issuer is not initialized: no signing key is configured (OCHAMI_AUTH_SIGNING_KEY)");
  }

  // Throttled before the PBKDF2 work; every attempt let through is verified (workers/auth/throttle.ts).
  const verdict = tokenThrottle.begin(credentials.id, throttleAddress(c.req.raw, c.var.config.trustedProxies));
  if (!verdict.ok) return tooManyFailures(verdict.retryAfterSeconds, verdict.reason);
  const client = await clientFor(c.var.db, config, credentials.id);
  const secretOk = await verifySecret(credentials.secret, client?.secretHash);
  if (!client || !secretOk || client.revokedAt !== null) return invalidClient();
  verdict.attempt.succeeded();

  const granted = grantedScopes(client, form.get("scope"));
  if (typeof granted === "string") return oauthError(400, "invalid_scope", granted);

  const { token, expiresIn } = await mintAccessToken(keys.keyring.signer, config, client.clientId, granted);
  return new Response(JSON.stringify({ access_token: token, token_type: "bearer", expires_in: expiresIn, scope: granted.join(" ") }), {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-store", pragma: "no-cache" },
  });
}

/**
 * The form body, or a description of why it is not one (RFC 6749 §3.2: parameters at most once).
 * A body over the limit is a 413 problem (an HTTP refusal, not an OAuth error).
 */
async function readForm(req: Request): Promise<URLSearchParams | string> {
  const type = req.headers.get("content-type");
  if (type && !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) {
    return `the token request must be application/x-www-form-urlencoded, not ${type.split(";")[0]}`;
  }
  // Counted as it streams (a 413 past the limit, however framed); as bytes, since workerd warns
  // when .text() meets a form content type.
  let bytes: Uint8Array;
  try {
    bytes = await readBytes(req, SMALL_BODY_BYTES);
  } catch (err) {
    if (err instanceof HttpProblem && err.status === 400) return err.detail ?? "could not read request body";
    throw err;
  }
  const text = new TextDecoder().decode(bytes);
  const form = new URLSearchParams(text);
  const seen = new Set<string>();
  for (const key of form.keys()) {
    if (seen.has(key)) return `parameter '${key}' is repeated`;
    seen.add(key);
  }
  return form;
}

/** application/x-www-form-urlencoded decoding of a Basic credential part (RFC 6749 §2.3.1). */
function formDecode(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    return undefined;
  }
}

/** Client id and secret from Basic auth or the body; a string is an invalid_request reason. */
function clientCredentials(authorization: string | undefined, form: URLSearchParams) {
  const bodyId = form.get("client_id");
  const bodySecret = form.get("client_secret");
  const m = authorization ? /^basic[ \t]+([A-Za-z0-9+/=]+)[ \t]*$/i.exec(authorization) : null;
  if (m) {
    if (bodySecret !== null) return "use one client authentication method: HTTP Basic or client_secret in the body, not both";
    let decoded: string;
    try {
      decoded = atob(m[1]);
    } catch {
      return "malformed HTTP Basic credentials";
    }
    const colon = decoded.indexOf(":");
    const id = colon < 0 ? undefined : formDecode(decoded.slice(0, colon));
    const secret = colon < 0 ? undefined : formDecode(decoded.slice(colon + 1));
    if (id === undefined || secret === undefined) return "malformed HTTP Basic credentials";
    if (bodyId !== null && bodyId !== id) return "client_id in the body differs from the HTTP Basic client";
    return { id, secret };
  }
  if (bodyId !== null && bodySecret !== null) return { id: bodyId, secret: bodySecret };
  return undefined;
}

/**
 * The client row; the bootstrap admin client is seeded from its secret binding first. Seeding is
 * best-effort: on a full disk the row the write would have stored is used as is, so the deployer's
 * secret still gets a token (to look around and free space) and the row is written by a later
 * token request, once there is room. Only a missing or current bootstrap row is stood in for: a
 * revoked one is never revived.
 */
async function clientFor(db: Db, config: AuthConfig, clientId: string): Promise<ClientRow | undefined> {
  const boot = bootstrapClientOf(config);
  if (boot && boot.clientId === clientId) {
    const row = await findClient(db, clientId);
    const current = row && row.origin === "bootstrap" && row.revokedAt === null;
    if (!row || (current && (row.secretHash !== boot.secretHash || row.scope !== boot.scope))) {
      const seeded = { ...boot, createdAt: row?.createdAt ?? new Date().toISOString() };
      try {
        await upsertBootstrapClient(db, seeded);
      } catch (err) {
        if (!isStorageFull(err)) throw err;
        noteStorageFull();
        return { ...seeded, name: "bootstrap admin", origin: "bootstrap", createdBy: "", revokedAt: null };
      }
      return findClient(db, clientId);
    }
    return row;
  }
  return findClient(db, clientId);
}

/**
 * RFC 6749 §3.3: no scope asked = the client's registered scopes; otherwise each asked scope
 * (ours or Hydra's spelling; `openid` is accepted and granted as is) must be one the client holds
 * (`admin` holds all). A string is the invalid_scope reason.
 */
function grantedScopes(client: ClientRow, requested: string | null): string[] | string {
  const registered = scopeList(client.scope);
  if (requested === null || requested.trim() === "") return registered;
  const asked = requested.split(/ +/).filter(Boolean);
  const out: string[] = [];
  for (const raw of asked) {
    const s = canonicalScope(raw);
    if (!isScope(s) && !NEUTRAL_SCOPES.includes(s)) return `unknown scope '${raw}'; known: ${ALL_SCOPES.join(" ")}`;
    if (isScope(s) && !registered.includes(s) && !registered.includes(ADMIN_SCOPE))
      return `client '${client.clientId}' may not request scope '${s}'`;
    if (!out.includes(s)) out.push(s);
  }
  return out;
}
