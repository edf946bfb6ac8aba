import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
import { closedUnderRequest, KEPT_ALIVE_IDLE_MS } from "../kept-alive";

/**
 * The HTTP(S) transport of the API client, and of the CLI's Redfish reads, on node:http/https
 * rather than fetch: it takes a CA bundle and an "insecure" switch per connection (fetch needs an
 * undici dispatcher for that), and node:http loads in a fraction of the time fetch's first call
 * costs, which a CLI pays on every run.
 */
export interface TlsOptions {
  /** PEM bundle of CAs to trust instead of the system's. */
  ca?: string | Buffer;
  /** Skip certificate verification (self-signed BMCs, lab clusters). */
  insecure?: boolean;
}

export interface HttpRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** One deadline for the whole exchange: connect, TLS, headers and the whole body. */
  timeoutMs: number;
  tls?: TlsOptions;
  /**
   * For a 2xx answer: body chunks go here as they arrive instead of into `body` (large lists are
   * parsed while they stream in). Other answers are read whole, for their error detail.
   */
  onChunk?: (chunk: Buffer) => void;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  /** Empty when the chunks went to `onChunk`. */
  body: Buffer;
  text(): string;
}

/** The request did not get an HTTP answer: connection refused, timeout, TLS failure, DNS... */
export class NetworkError extends Error {
  constructor(
    readonly url: string,
    readonly code: string,
    message: string,
    /** The request went out on a kept-alive connection the server closed before any answer: it never reached the server's handler. */
    readonly staleConnection = false,
  ) {
    super(message);
  }
}

const agents = new Map<string, http.Agent>();

function agentFor(url: URL, tls: TlsOptions | undefined): http.Agent {
  const secure = url.protocol === "https:";
  const key = secure ? `https|${tls?.insecure ? "k" : ""}|${tls?.ca ? String(tls.ca) : ""}` : "http";
  let agent = agents.get(key);
  if (!agent) {
    agent = secure
      ? new https.Agent({ keepAlive: true, timeout: KEPT_ALIVE_IDLE_MS, maxSockets: 64, ca: tls?.ca, rejectUnauthorized: !tls?.insecure })
      : new http.Agent({ keepAlive: true, timeout: KEPT_ALIVE_IDLE_MS, maxSockets: 64 });
    agents.set(key, agent);
  }
  return agent;
}

/** Closes kept-alive connections so the process can exit at once. */
export function closeConnections() {
  for (const agent of agents.values()) agent.destroy();
  agents.clear();
}

/**
 * One HTTP exchange. A GET or HEAD that went out on a kept-alive connection the server closed
 * under it goes again, once, on a new connection (shared/kept-alive.ts); a request with other
 * effects is left to its caller.
 */
export async function request(target: string, req: HttpRequest): Promise<HttpResponse> {
  try {
    return await exchange(target, req);
  } catch (err) {
    const method = req.method ?? "GET";
    if (err instanceof NetworkError && err.staleConnection && (method === "GET" || method === "HEAD")) return exchange(target, req);
    throw err;
  }
}

function exchange(target: string, req: HttpRequest): Promise<HttpResponse> {
  const url = new URL(target);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return Promise.reject(new NetworkError(target, "EPROTO", `unsupported URL scheme '${url.protocol}' (use http or https)`));
  }
  const mod = url.protocol === "https:" ? https : http;
  const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
  const headers: Record<string, string> = { ...req.headers };
  if (body) headers["content-length"] = String(body.length);
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
      r.destroy();
    };
    let answered = false;
    const r = mod.request(url, { method: req.method ?? "GET", headers, agent: agentFor(url, req.tls) }, (res) => {
      answered = true;
      const status = res.statusCode ?? 0;
      const sink = status >= 200 && status < 300 ? req.onChunk : undefined;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => {
        if (!sink) return void chunks.push(c);
        try {
          sink(c);
        } catch (err) {
          fail(err as Error);
        }
      });
      res.on("error", (err: NodeJS.ErrnoException) => fail(new NetworkError(target, err.code ?? "EIO", err.message)));
      res.on("close", () => {
        if (!res.complete) fail(new NetworkError(target, "ECONNRESET", "the connection closed before the answer was complete"));
      });
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const buf = Buffer.concat(chunks);
        resolve({
          status,
          statusText: res.statusMessage ?? http.STATUS_CODES[status] ?? "",
          headers: res.headers,
          body: buf,
          text: () => buf.toString("utf8"),
        });
      });
    });
    const timer = setTimeout(
      () => fail(new NetworkError(target, "ETIMEDOUT", `no answer within ${formatMs(req.timeoutMs)}`)),
      req.timeoutMs,
    );
    r.on("error", (err: NodeJS.ErrnoException) => {
      fail(new NetworkError(target, err.code ?? "EIO", describeNetworkError(err), !answered && closedUnderRequest(r, err)));
    });
    r.end(body);
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Short, actionable wording for the errors admins meet. */
function describeNetworkError(err: NodeJS.ErrnoException): string {
  const code = err.code ?? "";
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "EHOSTUNREACH" || code === "ENETUNREACH") return "host unreachable";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return `name not resolved (${err.message.replace(/^getaddrinfo \w+ /, "")})`;
  if (code === "ECONNRESET") return "connection reset by peer";
  if (code === "CERT_HAS_EXPIRED") return `the server's TLS certificate has expired (${err.message})`;
  if (code === "CERT_NOT_YET_VALID")
    return `the server's TLS certificate is not valid yet: is this machine's clock right? (${err.message})`;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return `the server's TLS certificate is not for this name: ${err.message}`;
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code))
    return `TLS certificate not trusted: ${err.message} (use --cacert <pem>, or --insecure)`;
  return err.message || code;
}
