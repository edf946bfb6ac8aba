import { CliError, EXIT } from "./errors";
import { NetworkError, request, type HttpResponse, type TlsOptions } from "./http";
import { log } from "./log";
import type { TokenProvider } from "./auth/tokens";

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
}

/** An answer, and where the token sent with it came from (for 401/403 messages). */
export interface ApiResponse extends HttpResponse {
  tokenOrigin?: string;
}

/** A non-2xx answer, shown as `error: 409 Conflict: <detail>`. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly statusText: string,
    readonly detail: string,
    hint = "",
  ) {
    super(`${status} ${statusText}${detail ? `: ${detail}` : ""}${hint}`, status === 401 || status === 403 ? EXIT.AUTH : EXIT.REQUEST);
  }
}

/** The detail of an error body: problem+json `detail` (or `title`), an OAuth `error_description`, else the text. */
export function errorDetail(res: HttpResponse): string {
  const text = res.text().trim();
  if (!text) return "";
  try {
    const body = JSON.parse(text);
    if (body && typeof body === "object") {
      const d = body.detail ?? body.error_description ?? body.message ?? body.title ?? body.error;
      if (typeof d === "string" && d) return d;
    }
  } catch {
    /* not JSON */
  }
  return text.length > 500 ? `${text.slice(0, 500)}…` : text;
}

export interface ApiSettings {
  baseUrl(service: ApiService): string;
  /** Undefined = send no token (--no-token, enable-auth: false). */
  tokens?: TokenProvider;
  tls: TlsOptions;
  timeoutMs: number;
  userAgent: string;
}

/** The API of one cluster: service base URLs, the bearer token, and errors made readable. */
export class ApiClient {
  constructor(private readonly s: ApiSettings) {}

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
    const headers: Record<string, string> = { "user-agent": this.s.userAgent, accept: "application/json, */*", ...opts.headers };
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    if (body !== undefined) headers["content-type"] = "application/json";
    const wantsAuth = opts.auth !== false && this.s.tokens !== undefined;
    let current = wantsAuth ? await this.s.tokens!.get() : undefined;
    for (let attempt = 0; ; attempt++) {
      if (current) headers.authorization = `Bearer ${current.token}`;
      const res = await this.exchange(method, url, headers, body);
      if (res.status === 401 && current && attempt === 0) {
        const renewed = await this.s.tokens!.renewAfterRejection();
        if (renewed) {
          log.info(`${method} ${url}: 401 with the cached token; retrying once with a fresh one`);
          current = renewed;
          continue;
        }
      }
      return current ? { ...res, tokenOrigin: current.origin } : res;
    }
  }

  /** Like send, but a non-2xx answer is an ApiError. */
  async call(service: ApiService, method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse> {
    const res = await this.send(service, method, path, opts);
    if (res.status >= 200 && res.status < 300) return res;
    throw this.errorOf(res, opts);
  }

  async json<T = any>(service: ApiService, method: string, path: string, opts: CallOptions = {}): Promise<T> {
    const res = await this.call(service, method, path, opts);
    const text = res.text();
    if (!text.trim()) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(`${method} ${path}: the API answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
    }
  }

  errorOf(res: ApiResponse, opts: CallOptions = {}): ApiError {
    const origin = res.tokenOrigin;
    let hint = "";
    if (res.status === 401 && origin) hint = ` (token from ${origin})`;
    else if (res.status === 401 && (opts.auth === false || !this.s.tokens))
      hint = " (no token was sent; drop --no-token or set enable-auth: true)";
    else if (res.status === 403 && origin) hint = ` (token from ${origin} lacks the scope; see \`ochami auth status\`)`;
    return new ApiError(res.status, res.statusText, errorDetail(res), hint);
  }

  private async exchange(method: string, url: string, headers: Record<string, string>, body?: string): Promise<HttpResponse> {
    log.debug(`${method} ${url}`);
    try {
      const res = await request(url, { method, headers, body, timeoutMs: this.s.timeoutMs, tls: this.s.tls });
      log.debug(`${method} ${url} → ${res.status}`);
      return res;
    } catch (err) {
      if (err instanceof NetworkError)
        throw new CliError(`cannot reach ${new URL(url).origin} (${method} ${new URL(url).pathname}): ${err.message}`, EXIT.REQUEST);
      throw err;
    }
  }
}
