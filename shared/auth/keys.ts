import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from "jose";

/**
 * Signing keys as JWKs: how they are made (first start, `npm run keys -- rotate`, tests) and how
 * the worker reads them from its secret binding. Keys are asymmetric only; the `kid` is the
 * RFC 7638 thumbprint, as OpenCHAMI's own tests use.
 */

/** Algorithms we sign with. ES256: the most widely verified asymmetric JWS algorithm (jwx, Keycloak, PyJWT, jose). */
export const SIGNING_ALGORITHMS = ["ES256", "ES384", "EdDSA"] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];
export const DEFAULT_SIGNING_ALGORITHM: SigningAlgorithm = "ES256";

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"];

export async function generateSigningKey(alg: SigningAlgorithm = DEFAULT_SIGNING_ALGORITHM): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: "sig" };
}

/** The public half of a JWK (private members removed), keeping kid/alg/use. */
export function publicJwk(jwk: JWK): JWK {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(jwk)) if (!PRIVATE_MEMBERS.includes(k) && k !== "key_ops" && k !== "ext") out[k] = v;
  return out as JWK;
}

/** The JWS algorithm a key signs with: its `alg`, else the one its type and curve imply. */
export function algorithmOf(jwk: JWK): SigningAlgorithm | undefined {
  if (jwk.alg) return (SIGNING_ALGORITHMS as readonly string[]).includes(jwk.alg) ? (jwk.alg as SigningAlgorithm) : undefined;
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  if (jwk.kty === "EC" && jwk.crv === "P-384") return "ES384";
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  return undefined;
}

/** Parses a JWK (the signing key) or a JWK Set / array of JWKs (previous keys) from a binding's text. */
export function parseJwk(text: string, what: string): JWK {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not JSON: ${(err as Error).message}`);
  }
  if (!v || typeof v !== "object" || Array.isArray(v) || typeof (v as JWK).kty !== "string") throw new Error(`${what} is not a JWK object`);
  return v as JWK;
}

export function parseJwkList(text: string, what: string): JWK[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not JSON: ${(err as Error).message}`);
  }
  const keys = Array.isArray(v) ? v : (v as { keys?: unknown })?.keys;
  if (!Array.isArray(keys) || keys.some((k) => !k || typeof k !== "object" || typeof k.kty !== "string")) {
    throw new Error(`${what} is not a JWK Set ({"keys":[...]}) or a JSON array of JWKs`);
  }
  return keys as JWK[];
}
