import { base64url } from "jose";

/**
 * Client secrets at rest: PBKDF2-HMAC-SHA256, a random 16-byte salt per secret, stored as
 * `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url) so the work factor can change later.
 *
 * Why PBKDF2: it is the one password KDF in WebCrypto, so the worker (workerd) and the Node runner
 * share this code with no native dependency. Why 100,000 iterations: that is the most Cloudflare's
 * production runtime allows (workerd issue #1346), and the worker must stay deployable there.
 * That is below OWASP's 600,000 for human passwords, but these secrets are never chosen by people:
 * they are 32 random bytes (256 bits), so no dictionary exists and brute force is out of reach at
 * any iteration count; the KDF and salt are defence in depth for a leaked database.
 * One verification costs ~11 ms of CPU in workerd (measured), paid only at the token endpoint.
 */
export const PBKDF2_ITERATIONS = 100_000;
const MAX_ITERATIONS = 100_000;
const MIN_ITERATIONS = 10_000;
const SALT_BYTES = 16;
const HASH_BITS = 256;
const PREFIX = "pbkdf2-sha256";

const encoder = new TextEncoder();

async function derive(secret: string, salt: Uint8Array, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt: salt as BufferSource, iterations }, key, HASH_BITS);
  return new Uint8Array(bits);
}

export async function hashSecret(secret: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(secret, salt, iterations);
  return `${PREFIX}$${iterations}$${base64url.encode(salt)}$${base64url.encode(hash)}`;
}

/** True when `stored` is a well-formed hash of this module's format. */
export function isSecretHash(stored: string): boolean {
  return parse(stored) !== undefined;
}

function parse(stored: string): { iterations: number; salt: Uint8Array; hash: Uint8Array } | undefined {
  const parts = stored.split("$");
  if (parts.length !== 4 || parts[0] !== PREFIX || !/^[0-9]+$/.test(parts[1])) return undefined;
  const iterations = Number(parts[1]);
  // A stored hash must not be able to ask for unbounded work (or more than workerd allows).
  if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) return undefined;
  try {
    const salt = base64url.decode(parts[2]);
    const hash = base64url.decode(parts[3]);
    if (salt.length < 16 || hash.length !== HASH_BITS / 8) return undefined;
    return { iterations, salt, hash };
  } catch {
    return undefined;
  }
}

/**
 * Checks a presented secret against a stored hash in constant time. With no stored hash (unknown
 * client) it still derives once, so a caller cannot tell unknown ids from wrong secrets by timing.
 */
export async function verifySecret(secret: string, stored: string | undefined): Promise<boolean> {
  const parsed = stored === undefined ? undefined : parse(stored);
  const salt = parsed?.salt ?? new Uint8Array(SALT_BYTES);
  const derived = await derive(secret, salt, parsed?.iterations ?? PBKDF2_ITERATIONS);
  return parsed !== undefined && constantTimeEqual(derived, parsed.hash);
}

/**
 * Hand-written because WebCrypto has no standard timing-safe compare (workerd's
 * crypto.subtle.timingSafeEqual and Node's crypto.timingSafeEqual are each runtime-specific, and
 * this module runs in both). Lengths are public (always 32 bytes here).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** A new client secret: 32 random bytes, base64url (43 characters, no padding). */
export function generateSecret(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(32)));
}
