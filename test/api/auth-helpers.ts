import { env } from "cloudflare:workers";
import { base64url, exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { generateSigningKey, publicJwk } from "../../shared/auth/keys";
import { hashSecret } from "../../shared/auth/secret-hash";
import worker from "../../workers/index";

/**
 * Auth tests call the worker's real fetch handler with a copy of the test env that turns auth on
 * (vitest.config.ts binds OCHAMI_AUTH=off for every other API test) and carries test keys.
 */
export const ISSUER = "https://ochami.test";
export const AUDIENCE = "ochami-test";
export const ADMIN_ID = "bootstrap-admin";
export const ADMIN_SECRET = "bootstrap-secret-for-tests-only-0123456789abc";

export const signingKey: JWK = await generateSigningKey("ES256");
export const adminHash = await hashSecret(ADMIN_SECRET);

export type Vars = Record<string, string | undefined>;

/** The env the worker sees: auth on, our test issuer and key, the bootstrap admin; `vars` override. */
export function authEnv(vars: Vars = {}): Record<string, unknown> {
  const out: Record<string, unknown> = {
    ...env,
    OCHAMI_AUTH: "on",
    OCHAMI_AUTH_ISSUER: ISSUER,
    OCHAMI_AUTH_AUDIENCE: AUDIENCE,
    OCHAMI_AUTH_SIGNING_KEY: JSON.stringify(signingKey),
    OCHAMI_AUTH_BOOTSTRAP_CLIENT: JSON.stringify({ client_id: ADMIN_ID, secret_hash: adminHash, scope: "admin" }),
  };
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** One env object per distinct override set, so the worker's per-env config cache behaves as in production. */
const envs = new Map<string, Record<string, unknown>>();
export function envFor(vars: Vars = {}): Record<string, unknown> {
  const key = JSON.stringify(Object.entries(vars).map(([k, v]) => [k, v ?? null]));
  let e = envs.get(key);
  if (!e) {
    e = authEnv(vars);
    envs.set(key, e);
  }
  return e;
}

export interface CallResult {
  status: number;
  headers: Headers;
  text: string;
  body: any;
}

export async function call(
  method: string,
  path: string,
  opts: {
    token?: string;
    headers?: Record<string, string>;
    body?: string;
    json?: unknown;
    vars?: Vars;
    env?: Record<string, unknown>;
  } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== undefined) headers.authorization = `Bearer ${opts.token}`;
  const body = opts.json !== undefined ? JSON.stringify(opts.json) : opts.body;
  const req = new Request(`http://ochami.test${path}`, { method, headers, body: method === "GET" || method === "HEAD" ? undefined : body });
  const res = await worker.fetch!(
    req as any,
    (opts.env ?? envFor(opts.vars)) as any,
    {
      waitUntil() {},
      passThroughOnException() {},
      props: {},
    } as any,
  );
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, text, body: parsed };
}

/** POST /token with HTTP Basic client authentication. */
export async function tokenFor(clientId: string, secret: string, scope?: string, vars?: Vars): Promise<CallResult> {
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (scope !== undefined) form.set("scope", scope);
  return call("POST", "/token", {
    vars,
    headers: { authorization: `Basic ${btoa(`${clientId}:${secret}`)}`, "content-type": "application/x-www-form-urlencoded" },
    body: form.toString(),
  });
}

export async function adminToken(vars?: Vars): Promise<string> {
  const r = await tokenFor(ADMIN_ID, ADMIN_SECRET, undefined, vars);
  if (r.status !== 200) throw new Error(`admin token: ${r.status} ${r.text}`);
  return r.body.access_token;
}

/** Creates a client through the admin API; returns its id and secret. */
export async function createClient(scope: string, clientId?: string, vars?: Vars): Promise<{ id: string; secret: string }> {
  const r = await call("POST", "/auth/clients", { token: await adminToken(vars), json: { client_id: clientId, scope }, vars });
  if (r.status !== 201) throw new Error(`create client: ${r.status} ${r.text}`);
  return { id: r.body.client_id, secret: r.body.client_secret };
}

const now = () => Math.floor(Date.now() / 1000);

/** A token signed by `key` (default: our signing key) with the claims of one of ours, overridable. */
export async function signToken(
  claims: JWTPayload & { client_id?: string; scp?: string[] },
  opts: { key?: JWK; header?: Record<string, unknown> } = {},
): Promise<string> {
  const key = opts.key ?? signingKey;
  const t = now();
  const payload: JWTPayload = { iss: ISSUER, aud: [AUDIENCE], iat: t, nbf: t, exp: t + 600, jti: crypto.randomUUID(), ...claims };
  for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
  const { importJWK } = await import("jose");
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg!, kid: key.kid, typ: "JWT", ...opts.header } as any)
    .sign(await importJWK(key, key.alg));
}

/** `alg: none` with our kid: must never verify. */
export function unsignedToken(claims: JWTPayload): string {
  const enc = (o: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(o)));
  const t = now();
  return `${enc({ alg: "none", typ: "JWT", kid: signingKey.kid })}.${enc({ iss: ISSUER, aud: [AUDIENCE], iat: t, nbf: t, exp: t + 600, jti: "x", ...claims })}.`;
}

/** HS256 keyed with our public key's PEM bytes — the classic algorithm-confusion forgery. */
export async function hs256WithPublicKey(claims: JWTPayload): Promise<string> {
  const { importJWK, exportSPKI } = await import("jose");
  const pem = await exportSPKI((await importJWK(publicJwk(signingKey), "ES256", { extractable: true })) as any);
  const secret = new TextEncoder().encode(pem);
  const t = now();
  return new SignJWT({ iss: ISSUER, aud: [AUDIENCE], iat: t, nbf: t, exp: t + 600, jti: "x", ...claims })
    .setProtectedHeader({ alg: "HS256", kid: signingKey.kid, typ: "JWT" })
    .sign(secret);
}

/** A fresh RS256 key pair as a private JWK (an external IdP's, or an attacker's). */
export async function rsaKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: "RS256", use: "sig" };
}

export { now, publicJwk };
