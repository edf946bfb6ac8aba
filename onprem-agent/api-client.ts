/**
 * The one HTTP client for the API, used by the agent (SMD reads, boot-event posts) and by the
 * head-node commands (`npm run token`, `clients`, `watch`). With auth configured it gets an OAuth2
 * client-credentials token (RFC 6749 §4.4): `POST <tokenUrl>` with `grant_type=client_credentials`
 * and the client's id/secret in HTTP Basic (§2.3.1). The token is cached until shortly before
 * `expires_in`, fetched once per expiry however many calls wait for it, and fetched anew once when
 * the API answers 401 (revoked or rotated key).
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
export type ApiConfigInput = z.input<typeof apiConfigSchema>;

/** Refresh this long before the token's stated expiry. */
const EXPIRY_MARGIN_MS = 30_000;

export class ApiError extends Error {
  constructor(
    message: string,
    /** The API's HTTP status; undefined when it could not be reached or answered nonsense. */
    readonly status?: number,
    readonly unreachable = false,
  ) {
    super(message);
  }
}

export interface TokenResponse {
  access_token: string;
  expires_in?: number;
  scope?: string;
  token_type?: string;
}

/** fetch() whose network failures become an ApiError naming the API's origin. */
async function send(url: string, init: RequestInit, timeoutSeconds: number): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutSeconds * 1000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new ApiError(`cannot reach the API at ${new URL(url).origin} (${cause})`, undefined, true);
  }
}

/** The RFC 7807 `detail` (or the text) of an error answer, for messages. */
function errorText(text: string): string {
  try {
    const body = JSON.parse(text);
    const parts = [body.error, body.error_description, body.detail].filter((p) => typeof p === "string" && p);
    if (parts.length) return parts.join(" ");
  } catch {
    /* not JSON */
  }
  return text.slice(0, 200);
}

/** One client-credentials grant. */
export async function requestToken(
  tokenUrl: string,
  clientId: string,
  secret: string,
  opts: { scope?: string; timeout?: number } = {},
): Promise<TokenResponse> {
  const body = new URLSearchParams({ grant_type: "client_credentials" });
  if (opts.scope) body.set("scope", opts.scope);
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
  const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64");
  const res = await send(
    tokenUrl,
    {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body,
    },
    opts.timeout ?? 10,
  );
  const text = await res.text();
  if (!res.ok) throw new ApiError(`token endpoint ${tokenUrl} answered ${res.status}: ${errorText(text)}`, res.status);
  let json: Partial<TokenResponse>;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(`token response from ${tokenUrl} is not JSON`);
  }
  if (typeof json.access_token !== "string") throw new ApiError(`token response from ${tokenUrl} has no access_token`);
  return json as TokenResponse;
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

  /** A client from a config section written as in YAML (defaults applied, validated). */
  static of(input: ApiConfigInput): ApiClient {
    return new ApiClient(apiConfigSchema.parse(input));
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
    const got = await requestToken(auth.tokenUrl ?? `${this.baseUrl}/token`, auth.clientId, this.secret!, {
      scope: auth.scope,
      timeout: this.cfg.timeout,
    });
    const lifetimeMs = typeof got.expires_in === "number" && got.expires_in > 0 ? got.expires_in * 1000 : 300_000;
    this.token = { value: got.access_token, refreshAt: this.now() + Math.max(lifetimeMs - EXPIRY_MARGIN_MS, lifetimeMs / 2) };
    return got.access_token;
  }

  /** fetch() against the API with the bearer token; a 401 gets one retry with a fresh token. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const attempt = async (forceNew: boolean) => {
      const token = await this.bearer(forceNew);
      const headers = new Headers(init.headers);
      if (token) headers.set("authorization", `Bearer ${token}`);
      return send(`${this.baseUrl}${path}`, { ...init, headers }, this.cfg.timeout);
    };
    let res = await attempt(false);
    if (res.status === 401 && this.cfg.auth) {
      await res.arrayBuffer();
      res = await attempt(true);
    }
    return res;
  }

  /** A JSON request; an error answer becomes an ApiError with the problem's detail. */
  async json(method: string, path: string, body?: unknown): Promise<any> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await this.request(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new ApiError(`${method} ${path} answered ${res.status}: ${errorText(text)}`, res.status);
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      throw new ApiError(`${method} ${path}: response is not JSON`);
    }
  }

  getJson(path: string): Promise<unknown> {
    return this.json("GET", path);
  }
}
