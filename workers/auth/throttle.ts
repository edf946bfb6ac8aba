import { clientAddress, peerAddress, type TrustedProxies } from "../http/client-ip";

/**
 * Throttling of failed client authentications at the token endpoint. Each attempt costs a PBKDF2
 * verification (~11 ms of the API thread), so unthrottled wrong secrets are a cheap way to take
 * the API's CPU, and the only way to guess at a secret.
 *
 * Two token buckets, one per source address and one per client id: an attempt takes a token from
 * both before the secret is verified, and a success gives them back, so only failures count (and
 * concurrent attempts cannot all slip through before the first failure is recorded). An attempt
 * is refused with a wait (429 + Retry-After), without computing anything, when
 *  - its address has no token left (this address failed too often), or
 *  - its client id has none left and its address has failed recently (its bucket is not full).
 * So an attacker hammering one client id from anywhere locks out only addresses that also fail;
 * the real client, from an address with no recent failures, is verified as usual, and its correct
 * secret works. Throttling only ever refuses early: every attempt it lets through is verified.
 *
 * The state is in memory, per isolate: exact under `npm start` (one API process, one isolate);
 * docs/auth.md says what several isolates would need. Each table holds at most MAX_KEYS keys:
 * when full, the key whose last failure is oldest (its bucket has refilled the most) is forgotten.
 */

export interface BucketSettings {
  /** Failures allowed in a burst. */
  capacity: number;
  /** Milliseconds for one failure to be forgiven. */
  refillMs: number;
}

/** 10 failures in a row from one address, then one a second. */
export const ADDRESS_BUCKET: BucketSettings = { capacity: 10, refillMs: 1000 };
/** 20 failures in a row against one client id (from any addresses), then one a second. */
export const CLIENT_BUCKET: BucketSettings = { capacity: 20, refillMs: 1000 };
/** Keys per table: ~100 bytes each, so each table stays under ~1 MB however many keys are tried. */
export const MAX_KEYS = 10_000;

export type Clock = () => number;

/** Token buckets by key; a key is stored only while its bucket is not full. */
export class TokenBuckets {
  private readonly entries = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly settings: BucketSettings,
    private readonly now: Clock,
    readonly maxKeys = MAX_KEYS,
  ) {}

  /** Tokens left for `key` now (fractional while refilling). */
  level(key: string): number {
    const e = this.entries.get(key);
    if (!e) return this.settings.capacity;
    return Math.min(this.settings.capacity, e.tokens + (this.now() - e.at) / this.settings.refillMs);
  }

  /** Milliseconds until `key` has `tokens` tokens (0 when it has). */
  msUntil(key: string, tokens: number): number {
    return Math.max(0, (tokens - this.level(key)) * this.settings.refillMs);
  }

  isFull(key: string): boolean {
    return this.level(key) >= this.settings.capacity;
  }

  /** Adds `delta` tokens (negative: takes), never below 0 nor above capacity; returns the change made. */
  add(key: string, delta: number): number {
    const before = this.level(key);
    const after = Math.min(this.settings.capacity, Math.max(0, before + delta));
    this.entries.delete(key); // re-inserted last: the Map's order is least recently changed first
    if (after < this.settings.capacity) {
      if (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
      this.entries.set(key, { tokens: after, at: this.now() });
    }
    return after - before;
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}

export type Verdict = { ok: true; attempt: Attempt } | { ok: false; retryAfterSeconds: number; reason: string };

/** An attempt let through: report its outcome with `succeeded()` (failures need no call). */
export interface Attempt {
  succeeded(): void;
}

export class LoginThrottle {
  private now: Clock = () => Date.now();
  readonly addresses: TokenBuckets;
  readonly clients: TokenBuckets;

  constructor(address = ADDRESS_BUCKET, client = CLIENT_BUCKET, maxKeys = MAX_KEYS) {
    this.addresses = new TokenBuckets(address, () => this.now(), maxKeys);
    this.clients = new TokenBuckets(client, () => this.now(), maxKeys);
  }

  /** Tests move time by hand. */
  useClock(clock: Clock): void {
    this.now = clock;
  }

  /** May `clientId` try a secret from `address` now? If so, one failure is counted until it succeeds. */
  begin(clientId: string, address: string): Verdict {
    const { addresses, clients } = this;
    if (addresses.level(address) < 1) {
      return refuse(addresses.msUntil(address, 1), `too many failed client authentications from ${address}`);
    }
    if (clients.level(clientId) < 1 && !addresses.isFull(address)) {
      const wait = Math.min(clients.msUntil(clientId, 1), addresses.msUntil(address, addresses.settings.capacity));
      return refuse(wait, `too many failed authentications for client '${clientId}'`);
    }
    const fromAddress = addresses.add(address, -1);
    const fromClient = clients.add(clientId, -1);
    return {
      ok: true,
      attempt: {
        succeeded() {
          addresses.add(address, -fromAddress);
          clients.add(clientId, -fromClient);
        },
      },
    };
  }
}

function refuse(ms: number, reason: string): Verdict {
  return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(ms / 1000)), reason };
}

/** The token endpoint's throttle, for this isolate. */
export const tokenThrottle = new LoginThrottle();

/**
 * The address an attempt is counted against: the client address as the boot path sees it (the
 * TCP peer, or the client a trusted proxy names; the peer when that proxy's header is unreadable).
 * Where the runtime reports no peer (Cloudflare's edge), CF-Connecting-IP, which the edge sets
 * itself; else one shared key.
 */
export function throttleAddress(req: Request, trustedProxies: TrustedProxies): string {
  const who = clientAddress(req, trustedProxies);
  if (who.ok) return who.ip;
  return peerAddress(req) ?? (req.headers.get("cf-connecting-ip")?.trim() || "unknown address");
}
