import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";
import type { AuthConfig } from "../config";
import { keyringOf } from "./keyring";
import { scopeList } from "./scopes";

/** Who a verified token speaks for. */
export interface Principal {
  issuer: string;
  subject: string;
  /** Our own tokens (and Hydra's) carry client_id; revocation is checked against it. */
  clientId?: string;
  scopes: ReadonlySet<string>;
  /** True for tokens we minted; false for an external issuer's. */
  own: boolean;
}

/** The token is missing, malformed, forged, expired or not for us: a 401 with this description. */
export class TokenRejected extends Error {
  constructor(readonly description: string) {
    super(description);
    this.name = "TokenRejected";
  }
}

/** We cannot verify right now (auth not initialized, the IdP's key set unreachable): a 503. */
export class VerifierUnavailable extends Error {
  constructor(readonly detail: string) {
    super(detail);
    this.name = "VerifierUnavailable";
  }
}

/** Tokens are never read from places other than these (upstream's go-chi jwtauth does the same). */
export function tokenFrom(req: Request): string | undefined {
  const header = req.headers.get("authorization");
  if (header) {
    const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m) return m[1];
  }
  const cookies = req.headers.get("cookie");
  if (cookies) {
    for (const part of cookies.split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === "jwt") {
        const value = part
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, "$1");
        if (value) return value;
      }
    }
  }
  return undefined;
}

export const NOT_INITIALIZED = "authentication is enabled but not initialized";

/**
 * Why this configuration cannot verify tokens at all, or undefined when it can. Cheap after the
 * first call (the keyring is cached per isolate).
 */
export async function verifierProblem(config: AuthConfig): Promise<string | undefined> {
  const own = Boolean(config.signingKey || config.previousKeys);
  if (!own && !config.external.issuer) {
    return `${NOT_INITIALIZED}: configure OCHAMI_AUTH_SIGNING_KEY (npm start creates one) or an external issuer, or set OCHAMI_AUTH=off for local development`;
  }
  if (own && !config.external.issuer) {
    const result = await keyringOf(config);
    if (result && !result.ok) return `${NOT_INITIALIZED}: the configured key material is unusable (see the server log)`;
  }
  return undefined;
}

const remoteSets = new Map<string, JWTVerifyGetKey>();
const inlineSets = new Map<string, JWTVerifyGetKey>();

function externalKeys(config: AuthConfig): JWTVerifyGetKey {
  const { jwksUrl, jwks } = config.external;
  if (jwks) {
    let set = inlineSets.get(jwks);
    if (!set) {
      try {
        set = createLocalJWKSet(JSON.parse(jwks));
      } catch (err) {
        throw new VerifierUnavailable(`OCHAMI_AUTH_EXTERNAL_JWKS is not a usable JWK Set: ${(err as Error).message}`);
      }
      inlineSets.set(jwks, set);
    }
    return set;
  }
  let set = remoteSets.get(jwksUrl!);
  if (!set) {
    // jose caches the set per isolate, refetches it after 10 min, and at once (at most every 30 s)
    // when a token names a kid it does not know: an IdP's key rotation needs no restart here.
    set = createRemoteJWKSet(new URL(jwksUrl!), { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    remoteSets.set(jwksUrl!, set);
  }
  return set;
}

/**
 * Verifies a bearer token: issuer chosen by its `iss` (ours or the configured external one),
 * signature against that issuer's keys with an algorithm allow-list (so `none` and HS256 forged
 * with a public key fail), exp/nbf with the configured clock skew, iss and aud.
 */
export async function verifyToken(token: string, config: AuthConfig): Promise<Principal> {
  let claimed: JWTPayload;
  try {
    claimed = decodeJwt(token);
  } catch {
    throw new TokenRejected("the token is not a well-formed JWT");
  }
  const iss = typeof claimed.iss === "string" ? claimed.iss : undefined;
  if (iss === undefined) throw new TokenRejected("the token has no 'iss' claim");

  if (iss === config.issuer) {
    const result = await keyringOf(config);
    if (!result) throw new TokenRejected(`this server has no keys for issuer '${iss}'`);
    if (!result.ok) throw new VerifierUnavailable(`${NOT_INITIALIZED}: the configured key material is unusable (see the server log)`);
    const { keyring } = result;
    const payload = await check(() =>
      jwtVerify(token, keyring.getKey, {
        issuer: config.issuer,
        audience: config.audience,
        algorithms: keyring.algorithms,
        clockTolerance: config.clockSkew,
        requiredClaims: ["sub", "exp", "iat", "jti", "client_id"],
      }),
    );
    if (typeof payload.client_id !== "string" || payload.client_id === "") throw new TokenRejected("the token has no client_id");
    checkIssuedAt(payload, config.clockSkew);
    return { issuer: iss, subject: payload.sub!, clientId: payload.client_id, scopes: scopesOf(payload, ["scp"]), own: true };
  }

  const ext = config.external;
  if (ext.issuer && iss === ext.issuer) {
    const getKey = externalKeys(config);
    const payload = await check(
      () =>
        jwtVerify(token, getKey, {
          issuer: ext.issuer,
          audience: ext.audience,
          algorithms: ext.algorithms,
          clockTolerance: config.clockSkew,
          // Without a configured audience, `aud` must at least be present, as upstream requires.
          requiredClaims: ["sub", "exp", "aud"],
        }),
      true,
    );
    checkIssuedAt(payload, config.clockSkew);
    // Hydra puts scopes in `scp` (array); Keycloak and RFC 9068 in `scope` (space-separated).
    const scopes = scopesOf(payload, ["scp", "scope"]);
    const clientId = typeof payload.client_id === "string" ? payload.client_id : typeof payload.azp === "string" ? payload.azp : undefined;
    return { issuer: iss, subject: payload.sub!, clientId, scopes, own: false };
  }
  throw new TokenRejected(`tokens from issuer '${iss}' are not accepted here`);
}

/**
 * `iat` in the future beyond the clock skew is refused, as `nbf` is: no working issuer dates a
 * token ahead of its own clock, so such a token comes from a broken clock or a misused key, and
 * it would stay usable for longer than its stated lifetime (`exp` − `iat`) says. jose checks a
 * future `iat` only when a maximum token age is asked for, so it is checked here.
 */
function checkIssuedAt(payload: JWTPayload, skewSeconds: number): void {
  if (typeof payload.iat === "number" && payload.iat > Date.now() / 1000 + skewSeconds)
    throw new TokenRejected("the token was issued in the future (iat)");
}

/**
 * The scopes a token grants, each claim read in the one type its issuers write: `scp` a JSON
 * array of strings (Hydra's, and ours), `scope` one space-separated string (RFC 9068 §2.2.3,
 * RFC 8693 §4.2; Keycloak's). A claim in the other type is refused, not guessed at (RFC 8725: a
 * token is accepted only in the shape its issuer is known to use): a string `scp` would
 * otherwise mean one thing to us and another to a tool that reads it as the array it should be.
 * `claims` lists the claims this issuer's scopes may come from; others are ignored.
 */
function scopesOf(payload: JWTPayload, claims: readonly ("scp" | "scope")[]): Set<string> {
  const out = new Set<string>();
  if (claims.includes("scp") && payload.scp !== undefined) {
    const scp = payload.scp;
    if (!Array.isArray(scp) || !scp.every((s) => typeof s === "string"))
      throw new TokenRejected("the token's 'scp' claim must be an array of scope names (a space-separated string belongs in 'scope')");
    for (const s of scopeList(scp)) out.add(s);
  }
  if (claims.includes("scope") && payload.scope !== undefined) {
    if (typeof payload.scope !== "string") throw new TokenRejected("the token's 'scope' claim must be one space-separated string");
    for (const s of scopeList(payload.scope)) out.add(s);
  }
  return out;
}

/** Runs jose's verification and turns its errors into a short, safe description. */
async function check(verify: () => Promise<{ payload: JWTPayload }>, remote = false): Promise<JWTPayload> {
  try {
    const { payload } = await verify();
    if (typeof payload.sub !== "string" || payload.sub === "") throw new TokenRejected("the token has an empty 'sub' claim");
    return payload;
  } catch (err) {
    if (err instanceof TokenRejected || err instanceof VerifierUnavailable) throw err;
    const e = err as { code?: string; claim?: string; reason?: string; message?: string };
    switch (e.code) {
      case "ERR_JWT_EXPIRED":
        throw new TokenRejected("the token has expired");
      case "ERR_JWT_CLAIM_VALIDATION_FAILED":
        if (e.reason === "missing") throw new TokenRejected(`the token has no '${e.claim}' claim`);
        if (e.claim === "nbf") throw new TokenRejected("the token is not valid yet (nbf)");
        if (e.claim === "iat") throw new TokenRejected("the token was issued in the future (iat)");
        if (e.claim === "aud") throw new TokenRejected("the token's audience is not this API");
        if (e.claim === "iss") throw new TokenRejected("the token's issuer is not accepted here");
        throw new TokenRejected(`the token's '${e.claim}' claim is invalid`);
      case "ERR_JOSE_ALG_NOT_ALLOWED":
      case "ERR_JOSE_NOT_SUPPORTED":
        throw new TokenRejected("the token's signing algorithm is not accepted");
      case "ERR_JWKS_NO_MATCHING_KEY":
        throw new TokenRejected("no key of the issuer matches the token (unknown kid)");
      case "ERR_JWS_SIGNATURE_VERIFICATION_FAILED":
        throw new TokenRejected("the token's signature does not verify");
      case "ERR_JWS_INVALID":
      case "ERR_JWT_INVALID":
      case "ERR_JWKS_MULTIPLE_MATCHING_KEYS":
        throw new TokenRejected("the token is malformed");
    }
    if (remote) {
      // The IdP's key set could not be fetched or read: we cannot say whether the token is good.
      console.error(`auth: external issuer key set unavailable: ${e.message ?? err}`);
      throw new VerifierUnavailable("the external issuer's key set is unavailable");
    }
    throw new TokenRejected("the token is malformed");
  }
}
