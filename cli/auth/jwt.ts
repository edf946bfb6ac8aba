import { isObject } from "../io/json";

/**
 * Reads a JWT's claims WITHOUT verifying it: the CLI only needs to know when a token expires and
 * what it grants; the API verifies signatures. Not a JWT → undefined (sent as is: an opaque token
 * is the API's business).
 */
export interface TokenClaims {
  exp?: number;
  nbf?: number;
  iat?: number;
  sub?: string;
  client_id?: string;
  iss?: string;
  scopes: string[];
}

export function readClaims(token: string): TokenClaims | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    // A claims set is a JSON object (RFC 7519, section 4).
    if (!isObject(payload)) return undefined;
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    const scopes = Array.isArray(payload.scp)
      ? payload.scp.map(String)
      : typeof payload.scope === "string"
        ? payload.scope.split(/\s+/).filter(Boolean)
        : [];
    return {
      exp: num(payload.exp),
      nbf: num(payload.nbf),
      iat: num(payload.iat),
      sub: typeof payload.sub === "string" ? payload.sub : undefined,
      client_id: typeof payload.client_id === "string" ? payload.client_id : undefined,
      iss: typeof payload.iss === "string" ? payload.iss : undefined,
      scopes,
    };
  } catch {
    return undefined;
  }
}

/**
 * Seconds before `exp` at which a token counts as spent and is refreshed: a minute, or half
 * its lifetime for short-lived tokens, so a request never leaves with a token that expires on
 * the way (expired tokens mid-script are a top complaint about upstream's CLI).
 */
export function refreshMargin(claims: TokenClaims): number {
  const lifetime = claims.exp !== undefined && claims.iat !== undefined ? claims.exp - claims.iat : 3600;
  return Math.min(60, Math.max(1, lifetime / 2));
}

export function nowSeconds(): number {
  return Date.now() / 1000;
}
