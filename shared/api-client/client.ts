import { ApiError } from "./errors";
import { type HttpResponse, NetworkError, request, type TlsOptions } from "./http";
import type { Bearer, TokenSource } from "./tokens";

export type ApiService = "smd" | "bss" | "cloud-init" | "root";
export type Query = Record<string, string | number | boolean | ReadonlyArray<string | number> | undefined>;

export interface CallOptions {
  query?: Query;
  /** JSON-encoded as the body. */
  body?: unknown;
  /**
   * Send the bearer token. Default true; false for the routes upstream's ochami calls without one
   * (public collections, boot scripts), so they work with no token configured.
   */
  auth?: boolean;
  headers?: Record<string, string>;
  /** For a 2xx answer: the body's chunks as they arrive, not kept in the response (large lists). */
  onChunk?: (chunk: Buffer) => void;
}

/** An answer, the URL asked, and where the token sent with it came from (for 401/403 messages). */
export interface ApiResponse extends HttpResponse {
  url: string;
  tokenOrigin?: string;
}

export interface ApiClientSettings {
  /** Base URL of each service; a process that talks to one API root returns that for all. */
  baseUrl(service: ApiService): string;
  /** Undefined: no token is sent (an API without auth). */
  tokens?: TokenSource;
  tls?: TlsOptions;
  timeoutMs: number;
  userAgent?: string;
  /** Request traces (the CLI's `-l debug`); none by default. */
  log?: { debug(message: string): void; info(message: string): void };
}

/** Methods a client may send again without changing what one request would have done (RFC 9110 §9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"]);

/**
 * How long, in all, a request waits out 503s that say when to come back (Retry-After): the API
 * answers so while its database process restarts (0.5 s, up to 30 s when it keeps failing). Each
 * wait is at most RETRY_AFTER_MAX_MS.
 */
export const UNAVAILABLE_BUDGET_MS = 30_000;
const RETRY_AFTER_MAX_MS = 10_000;

/** A Retry-After header's wait in ms (delta-seconds or an HTTP date), or undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (!value) return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * THE client of the API, for the agent, the `ochami` CLI and `npm start`: service base URLs, the
 * bearer token from a TokenSource with one retry on a fresh token after a 401, idempotent requests
 * sent again after a 503 with Retry-After (for up to UNAVAILABLE_BUDGET_MS), JSON in and out, and
 * error answers as ApiError with the body's detail. A POST or PATCH that meets a 503 is the
 * caller's to judge: it may or may not have been stored.
 */
export class ApiClient {
  constructor(private readonly s: ApiClientSettings) {}

  url(service: ApiService, path: string, query?: Query): string {
    const u = new URL(this.s.baseUrl(service) + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v === undefined) continue;
      for (const item of Array.isArray(v) ? v : [v]) u.searchParams.append(k, String(item));
    }
    return u.toString();
  }

  /** The raw exchange, whatever the status (one retry with a fresh token after a 401). */
  async send(service: ApiService, method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse> {
    const url = this.url(service, path, opts.query);
    const headers: Record<string, string> = { accept: "application/json, */*", ...opts.headers };
    if (this.s.userAgent) headers["user-agent"] = this.s.userAgent;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) headers["content-type"] = "application/json";
    const tokens = opts.auth === false ? undefined : this.s.tokens;
    let bearer: Bearer | undefined = await tokens?.get();
    let renewed = false;
    let waited = 0;
    for (;;) {
      if (bearer) headers.authorization = `Bearer ${bearer.token}`;
      const res = await this.exchange(method, url, headers, body, opts.onChunk);
      if (res.status === 401 && bearer && !renewed) {
        renewed = true;
        const fresh = await tokens!.renewAfterRejection();
        if (fresh) {
          this.s.log?.info(`${method} ${url}: 401 with the cached token; retrying once with a fresh one`);
          bearer = fresh;
          continue;
        }
      }
      const after = res.status === 503 && IDEMPOTENT.has(method) ? retryAfterMs(res.headers["retry-after"]) : undefined;
      if (after !== undefined) {
        const wait = Math.min(Math.max(after, 100), RETRY_AFTER_MAX_MS);
        if (waited + wait <= UNAVAILABLE_BUDGET_MS) {
          this.s.log?.info(`${method} ${url}: 503 (${res.text().slice(0, 200)}); trying again in ${wait} ms`);
          await new Promise((r) => setTimeout(r, wait));
          waited += wait;
          continue;
        }
      }
      return { ...res, url, tokenOrigin: bearer?.origin };
    }
  }

  /** Like send, but a non-2xx answer is an ApiError. */
  async call(service: ApiService, method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse> {
    const res = await this.send(service, method, path, opts);
    if (res.status >= 200 && res.status < 300) return res;
    throw ApiError.answer(res);
  }

  async json<T = unknown>(service: ApiService, method: string, path: string, opts: CallOptions = {}): Promise<T> {
    const res = await this.call(service, method, path, opts);
    const text = res.text();
    if (!text.trim()) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ApiError(`${method} ${path}: the API answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`, {
        url: res.url,
        status: res.status,
        statusText: res.statusText,
      });
    }
  }

  private async exchange(
    method: string,
    url: string,
    headers: Record<string, string>,
    body: string | undefined,
    onChunk: ((chunk: Buffer) => void) | undefined,
  ): Promise<HttpResponse> {
    this.s.log?.debug(`${method} ${url}`);
    try {
      const res = await request(url, { method, headers, body, timeoutMs: this.s.timeoutMs, tls: this.s.tls, onChunk });
      this.s.log?.debug(`${method} ${url} → ${res.status}`);
      return res;
    } catch (err) {
      if (err instanceof NetworkError) throw ApiError.unreachable(method, url, err);
      throw err;
    }
  }
}
