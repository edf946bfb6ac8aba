/**
 * HTTP client for the agent's calls to the API (SMD reads, boot-event posts), with an OAuth2
 * client-credentials token (RFC 6749 §4.4) when auth is configured: `POST <tokenUrl>` with
 * `grant_type=client_credentials` and the client's id/secret in HTTP Basic (§2.3.1). The token is
 * cached until shortly before `expires_in`, fetched once per expiry however many calls wait for it,
 * and fetched anew once when the API answers 401 (revoked or rotated key).
 */
import { readFileSync } from "node:fs";
import { z } from "zod";
import { httpUrl, seconds } from "./config-types";

export const apiConfigSchema = z
  .strictObject({
    /** How the agent reaches the API. */
    url: httpUrl.default("http://127.0.0.1:8081"),
    /** How nodes reach the API (bootscript URLs in DHCP replies). Default: url. */
    bootUrl: httpUrl.optional(),
    timeout: seconds.default(10),
    auth: z
      .strictObject({
        clientId: z.string().min(1),
        clientSecret: z.string().min(1).optional(),
        /** Read the secret from a file instead (keeps it out of the config). */
        clientSecretFile: z.string().min(1).optional(),
        /** Default: <url>/token. */
        tokenUrl: httpUrl.optional(),
        scope: z.string().min(1).optional(),
      })
      .refine((a) => (a.clientSecret === undefined) !== (a.clientSecretFile === undefined), {
        message: "set exactly one of clientSecret and clientSecretFile",
      })
      .optional(),
  })
  .prefault({});

export type ApiConfig = z.infer<typeof apiConfigSchema>;

/** Refresh this long before the token's stated expiry. */
const EXPIRY_MARGIN_MS = 30_000;

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

export class ApiClient {
  readonly baseUrl: string;
  private token?: { value: string; refreshAt: number };
  private pendingToken?: Promise<string>;
  private readonly secret?: string;

  constructor(
    private readonly cfg: ApiConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.baseUrl = cfg.url;
    if (cfg.auth) this.secret = cfg.auth.clientSecret ?? readFileSync(cfg.auth.clientSecretFile!, "utf8").trim();
  }

  /** A bearer token when auth is configured (cached), else undefined. */
  async bearer(forceNew = false): Promise<string | undefined> {
    if (!this.cfg.auth) return undefined;
    if (!forceNew && this.token && this.now() < this.token.refreshAt) return this.token.value;
    if (forceNew) this.token = undefined;
    this.pendingToken ??= this.fetchToken().finally(() => (this.pendingToken = undefined));
    return this.pendingToken;
  }

  private async fetchToken(): Promise<string> {
    const auth = this.cfg.auth!;
    const url = auth.tokenUrl ?? `${this.baseUrl}/token`;
    const body = new URLSearchParams({ grant_type: "client_credentials" });
    if (auth.scope) body.set("scope", auth.scope);
    // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
    const basic = Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(this.secret!)}`).toString("base64");
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body,
      signal: AbortSignal.timeout(this.cfg.timeout * 1000),
    });
    const text = await res.text();
    if (!res.ok) throw new ApiError(`token request to ${url} failed: ${res.status} ${text.slice(0, 200)}`, res.status);
    let json: { access_token?: unknown; expires_in?: unknown };
    try {
      json = JSON.parse(text);
    } catch {
      throw new ApiError(`token response from ${url} is not JSON`);
    }
    if (typeof json.access_token !== "string") throw new ApiError(`token response from ${url} has no access_token`);
    const lifetimeMs = typeof json.expires_in === "number" && json.expires_in > 0 ? json.expires_in * 1000 : 300_000;
    this.token = { value: json.access_token, refreshAt: this.now() + Math.max(lifetimeMs - EXPIRY_MARGIN_MS, lifetimeMs / 2) };
    return json.access_token;
  }

  /** fetch() against the API with the bearer token; a 401 gets one retry with a fresh token. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const send = async (forceNew: boolean) => {
      const token = await this.bearer(forceNew);
      const headers = new Headers(init.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      return fetch(`${this.baseUrl}${path}`, { ...init, headers, signal: AbortSignal.timeout(this.cfg.timeout * 1000) });
    };
    let res = await send(false);
    if (res.status === 401 && this.cfg.auth) {
      await res.arrayBuffer();
      res = await send(true);
    }
    return res;
  }

  async getJson(path: string): Promise<unknown> {
    const res = await this.request(path, { headers: { accept: "application/json" } });
    const text = await res.text();
    if (!res.ok) throw new ApiError(`GET ${path}: ${res.status} ${text.slice(0, 200)}`, res.status);
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(`GET ${path}: response is not JSON`);
    }
  }
}
