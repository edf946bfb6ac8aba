import { type ClientCredentials, requestClientToken } from "./grant";
import type { TlsOptions } from "./http";

export interface Bearer {
  token: string;
  /** Where it came from, for messages: `--token`, `DEMO_ACCESS_TOKEN`, `client demo-cli`. */
  origin: string;
}

/** Where an ApiClient gets its bearer token (the CLI's TokenProvider, or ClientCredentialsTokens). */
export interface TokenSource {
  get(): Promise<Bearer>;
  /** After a 401 with the token from get(): a fresh token, or undefined when there is nothing better to try. */
  renewAfterRejection(): Promise<Bearer | undefined>;
}

/** Refresh this long before the token's stated expiry. */
const EXPIRY_MARGIN_MS = 30_000;
/** The lifetime assumed when the token endpoint states none. */
const DEFAULT_LIFETIME_MS = 300_000;

/**
 * The tokens of a long-running process (the agent, `npm start`) from its client credentials: kept
 * in memory until shortly before `expires_in`, fetched once however many calls wait for one, and
 * fetched anew after a 401 (a revoked client, a rotated key).
 */
export class ClientCredentialsTokens implements TokenSource {
  private current?: { bearer: Bearer; refreshAt: number };
  private pending?: Promise<Bearer>;
  private readonly now: () => number;

  constructor(
    private readonly credentials: ClientCredentials,
    private readonly opts: { timeoutMs: number; tls?: TlsOptions; now?: () => number },
  ) {
    this.now = opts.now ?? Date.now;
  }

  get(): Promise<Bearer> {
    if (this.current && this.now() < this.current.refreshAt) return Promise.resolve(this.current.bearer);
    return this.fetchOnce();
  }

  renewAfterRejection(): Promise<Bearer> {
    this.current = undefined;
    return this.fetchOnce();
  }

  private fetchOnce(): Promise<Bearer> {
    this.pending ??= this.fetch().finally(() => (this.pending = undefined));
    return this.pending;
  }

  private async fetch(): Promise<Bearer> {
    const got = await requestClientToken(this.credentials, this.opts);
    const lifetimeMs = typeof got.expires_in === "number" && got.expires_in > 0 ? got.expires_in * 1000 : DEFAULT_LIFETIME_MS;
    const bearer = { token: got.access_token, origin: `client ${this.credentials.clientId}` };
    this.current = { bearer, refreshAt: this.now() + Math.max(lifetimeMs - EXPIRY_MARGIN_MS, lifetimeMs / 2) };
    return bearer;
  }
}
