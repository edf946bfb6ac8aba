import { type CryptoKey, createLocalJWKSet, importJWK, type JWK, type JWTVerifyGetKey } from "jose";
import { algorithmOf, parseJwk, parseJwkList, publicJwk } from "../../shared/auth/keys";
import type { AuthConfig } from "../config";

/**
 * Our own key material, read from configuration (the OCHAMI_AUTH_SIGNING_KEY secret and the
 * OCHAMI_AUTH_PREVIOUS_KEYS rollover set) — never fetched over HTTP from ourselves. Imported once
 * per isolate: the CryptoKeys are cached by the material's text, so a request pays no import.
 */
export interface Keyring {
  /** The key new tokens are signed with; absent when only previous keys are configured. */
  signer?: { key: CryptoKey; kid: string; alg: string };
  /** Public keys we publish and accept: the signer's, then the previous ones. */
  jwks: { keys: JWK[] };
  /** Key lookup for jwtVerify (by kid and alg). */
  getKey: JWTVerifyGetKey;
  /** The JWS algorithms of our keys: the allow-list for our own tokens. */
  algorithms: string[];
}

export type KeyringResult = { ok: true; keyring: Keyring } | { ok: false; reason: string };

const cache = new Map<string, Promise<KeyringResult>>();

/** The keyring of a configuration; `undefined` when no key material is configured at all. */
export function keyringOf(config: AuthConfig): Promise<KeyringResult> | undefined {
  if (!config.signingKey && !config.previousKeys) return undefined;
  const cacheKey = `${config.signingKey ?? ""}\n${config.previousKeys ?? ""}`;
  let result = cache.get(cacheKey);
  if (!result) {
    result = build(config.signingKey, config.previousKeys).then(
      (keyring) => ({ ok: true as const, keyring }),
      (err) => {
        // Logged once per isolate; the key material itself never reaches the log.
        console.error(`auth: cannot use the configured key material: ${(err as Error).message}`);
        return { ok: false as const, reason: (err as Error).message };
      },
    );
    if (cache.size > 8) cache.clear(); // a few distinct configurations per isolate at most (tests)
    cache.set(cacheKey, result);
  }
  return result;
}

async function build(signingText: string | undefined, previousText: string | undefined): Promise<Keyring> {
  const published: JWK[] = [];
  let signer: Keyring["signer"];
  if (signingText) {
    const jwk = parseJwk(signingText, "OCHAMI_AUTH_SIGNING_KEY");
    const alg = algorithmOf(jwk);
    if (!alg)
      throw new Error(`OCHAMI_AUTH_SIGNING_KEY: unsupported key (kty ${jwk.kty}, alg ${jwk.alg ?? "none"}); use ES256, ES384 or EdDSA`);
    if (!jwk.kid) throw new Error("OCHAMI_AUTH_SIGNING_KEY has no kid");
    if (!("d" in jwk)) throw new Error("OCHAMI_AUTH_SIGNING_KEY is a public key; the issuer needs the private key");
    const key = (await importJWK(jwk, alg)) as CryptoKey;
    signer = { key, kid: jwk.kid, alg };
    published.push({ ...publicJwk(jwk), alg, use: "sig" });
  }
  if (previousText) {
    for (const jwk of parseJwkList(previousText, "OCHAMI_AUTH_PREVIOUS_KEYS")) {
      const alg = algorithmOf(jwk);
      if (!alg) throw new Error(`OCHAMI_AUTH_PREVIOUS_KEYS: unsupported key (kty ${jwk.kty}, alg ${jwk.alg ?? "none"})`);
      if (!jwk.kid) throw new Error("OCHAMI_AUTH_PREVIOUS_KEYS: every key needs a kid");
      if (published.some((k) => k.kid === jwk.kid)) continue;
      await importJWK(publicJwk(jwk), alg); // fail now, not on the first token
      published.push({ ...publicJwk(jwk), alg, use: "sig" });
    }
  }
  const jwks = { keys: published };
  return {
    signer,
    jwks,
    getKey: createLocalJWKSet(jwks),
    algorithms: [...new Set(published.map((k) => k.alg as string))],
  };
}
