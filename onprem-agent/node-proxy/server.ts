/**
 * The node-facing proxy: forwards boot-script and cloud-init requests to the API, the way the
 * seed's HAProxy gateway does, with the node's address in X-Forwarded-For — the API identifies
 * cloud-init callers by it.
 *
 * Differences from HAProxy `option forwardfor`, on purpose:
 * - X-Forwarded-For is replaced, not appended to. The API (like upstream cloud-init) trusts the
 *   first element, so an appended header would let a node claim any other node's identity.
 *   `Forwarded` and `X-Real-IP` from the client are dropped for the same reason.
 * - Every forwarded request carries the proxy secret (X-Ochami-Proxy-Secret): the API believes
 *   X-Forwarded-For only with it, since any local user of the head node connects from the same
 *   loopback address as this proxy. A client-sent copy of that header is dropped.
 * - Only an allow-list of paths is forwarded (what nodes fetch, config.ts), GET and HEAD only,
 *   and paths with dot segments or encoded slashes are refused, so `/cloud-init/admin/...` and
 *   `/cloud-init/../hsm/v2/...` cannot reach the admin API.
 * - A request body (nodes send none) is counted as it streams, however it is framed, and refused
 *   with 413 once it passes maxBodyBytes; the API's answer is passed on only after the whole
 *   request body arrived within the limit, so the 413 cannot be pre-empted by it.
 * - Host is set to the API's host (a deployed worker routes by it); the node's Host goes in
 *   X-Forwarded-Host.
 *
 * Built on node:http (streaming both ways with stream.pipeline) rather than a proxy library:
 * the maintained ones are frameworks' plugins, and the whole job is a header filter and two pipes.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { pipeline, Transform, type TransformCallback } from "node:stream";
import type { z } from "zod";
import { FORWARD_DROPS_FROM_REQUEST, filterHeaders, HOP_BY_HOP, PROXY_SECRET_HEADER } from "../../shared/forwarding";
import { sendProblem } from "../../shared/http-problem";
import { closedUnderRequest, KEPT_ALIVE_IDLE_MS } from "../../shared/kept-alive";
import { metricFactory } from "../metrics";
import { plainIp, type ServiceDeps } from "../service-deps";
import { type NodeProxyConfig, nodeProxyConfigSchema } from "./config";

export type NodeProxyOptions = z.input<typeof nodeProxyConfigSchema>;

export interface NodeProxy {
  address: string;
  port: number;
  url: string;
  close(): Promise<void>;
}

/** The client's own fields, plus Host (the API's origin is the proxy's upstream). */
const DROP_REQUEST = new Set([...FORWARD_DROPS_FROM_REQUEST, "host"]);
const DROP_RESPONSE = new Set(HOP_BY_HOP);

/** How long a refused body may keep arriving (read and thrown away) before the connection is cut. */
const DISCARD_GRACE_MS = 2000;

/** The path part must not climb out of the forwarded prefix once the API decodes it. */
export function unsafePath(rawPath: string): string | undefined {
  for (const segment of rawPath.split("/")) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return "malformed percent-encoding in path";
    }
    if (decoded === "." || decoded === "..") return "dot segment in path";
    if (/[/\\\0]/.test(decoded) || segment.includes("\\")) return "encoded slash, backslash or NUL in path";
  }
  return undefined;
}

/** The allow-list as one matcher: exact paths, `*` = one or more characters within a segment. */
export function pathMatcher(patterns: readonly string[]): (rawPath: string) => boolean {
  const literal = (text: string) => text.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
  const source = patterns.map((p) => p.split("*").map(literal).join("[^/]+")).join("|");
  const re = new RegExp(`^(?:${source})$`);
  return (rawPath) => re.test(rawPath);
}

/** Counts a body as it passes and fails the stream the moment it exceeds `limit` bytes. */
class BodyLimit extends Transform {
  bytes = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) return done(Object.assign(new Error("request body too large"), { code: "EBODYLIMIT" }));
    done(null, chunk);
  }
}

function readSecretFile(file: string): string {
  let secret: string;
  try {
    secret = readFileSync(file, "utf8").trim();
  } catch (err) {
    throw new Error(`node proxy: cannot read secretFile ${file}: ${(err as Error).message}`);
  }
  if (secret.length < 32 || !/^[\x21-\x7e]+$/.test(secret))
    throw new Error(`node proxy: secretFile ${file} must hold at least 32 printable ASCII characters without spaces`);
  return secret;
}

export async function startNodeProxy(options: NodeProxyOptions, deps: ServiceDeps): Promise<NodeProxy> {
  const config: NodeProxyConfig = nodeProxyConfigSchema.parse(options);
  if (!config.apiUrl) throw new Error("node proxy: apiUrl is not set");
  const api = new URL(config.apiUrl);
  const basePath = api.pathname.replace(/\/+$/, "");
  const transport = api.protocol === "https:" ? https : http;
  // Idle API connections are closed here before the API closes them under a request (shared/kept-alive.ts).
  const agent = new transport.Agent({ keepAlive: true, timeout: KEPT_ALIVE_IDLE_MS });
  const log = deps.log;
  const secret = config.secretFile ? readSecretFile(config.secretFile) : config.secret;
  if (!secret)
    log.warn(
      { api: api.origin },
      "node proxy: no secret set (nodeProxy.secret): the API will not believe X-Forwarded-For, nodes go unrecognised",
    );
  const allowed = pathMatcher(config.paths);

  const m = metricFactory(deps.metrics);
  const responses = m.counter({
    name: "ochami_agent_node_proxy_requests_total",
    help: "Node proxy responses by status",
    labelNames: ["status"] as const,
  });
  const upstreamErrors = m.counter({
    name: "ochami_agent_node_proxy_upstream_errors_total",
    help: "API requests that failed or timed out",
    labelNames: ["kind"] as const,
  });

  const server = http.createServer((req, res) => {
    res.on("close", () => responses.inc({ status: String(res.statusCode) }));
    forward(req, res);
  });

  /** Answers 413 and stops reading the body: what is still in flight is discarded briefly, then the connection is cut. */
  function refuseBody(req: http.IncomingMessage, res: http.ServerResponse, ip: string, url: string, bytes: number | string) {
    log.warn({ ip, url, bytes, limit: config.maxBodyBytes }, "node proxy: request body too large, refused");
    req.unpipe();
    req.resume();
    const cut = setTimeout(() => req.socket.destroy(), DISCARD_GRACE_MS);
    req.socket.once("close", () => clearTimeout(cut));
    sendProblem(res, 413, `request body larger than ${config.maxBodyBytes} bytes`, { connection: "close" });
  }

  function forward(req: http.IncomingMessage, res: http.ServerResponse) {
    const ip = plainIp(req.socket.remoteAddress);
    const rawUrl = req.url ?? "";
    const rawPath = rawUrl.split("?", 1)[0];
    const declared = Number(req.headers["content-length"] ?? 0);
    // A refused request's body is never read: its connection closes after the answer.
    const close: Record<string, string> = req.headers["transfer-encoding"] !== undefined || declared > 0 ? { connection: "close" } : {};
    if (!rawUrl.startsWith("/")) return sendProblem(res, 400, "request target must be an absolute path", close);
    const unsafe = unsafePath(rawPath);
    if (unsafe) {
      log.warn({ ip, url: rawUrl, reason: unsafe }, "node proxy: request refused");
      return sendProblem(res, 400, unsafe, close);
    }
    if (!allowed(rawPath)) return sendProblem(res, 404, `${rawPath} is not served on this port`, close);
    if (req.method !== "GET" && req.method !== "HEAD")
      return sendProblem(res, 405, `method ${req.method} not allowed`, { ...close, allow: "GET, HEAD" });
    if (declared > config.maxBodyBytes) return refuseBody(req, res, ip, rawUrl, declared);

    const headers = filterHeaders(req.headers, DROP_REQUEST);
    // Re-framed for the API: a chunked body stays chunked (Node's server has decoded it), a
    // Content-Length one keeps its length, none stays none.
    if (req.headers["transfer-encoding"] !== undefined) headers["transfer-encoding"] = "chunked";
    headers["x-forwarded-for"] = ip;
    headers["x-forwarded-proto"] = "http";
    if (req.headers.host) headers["x-forwarded-host"] = req.headers.host;
    if (secret) headers[PROXY_SECRET_HEADER] = secret;
    headers.host = api.host;

    const started = Date.now();
    let answered = false;
    let bodyDone = false;
    let pending: (() => void) | undefined;
    // Nothing to send but the head: such a request may be sent again (below).
    const bodiless = req.headers["transfer-encoding"] === undefined && declared === 0;
    let retried = false;
    const open = () => {
      const u = transport.request(
        { protocol: api.protocol, hostname: api.hostname, port: api.port, method: req.method, path: basePath + rawUrl, headers, agent },
        (upRes) => {
          answered = true;
          clearTimeout(headerTimer);
          const relay = () => {
            res.writeHead(upRes.statusCode ?? 502, filterHeaders(upRes.headers, DROP_RESPONSE));
            pipeline(upRes, res, (err) => {
              if (err && !res.writableFinished) log.warn({ ip, url: rawUrl, err: err.message }, "node proxy: response stream broken");
            });
            log.debug({ ip, method: req.method, url: rawUrl, status: upRes.statusCode, ms: Date.now() - started }, "node proxy: forwarded");
          };
          // Only once the node's whole body is in (and within the limit): until then a 413 must stay possible.
          if (bodyDone) relay();
          else pending = relay;
        },
      );
      // Silence on the API connection while streaming (or before it answers).
      u.setTimeout(config.idleTimeoutMs, () => u.destroy(Object.assign(new Error("idle timeout"), { code: "ETIMEDOUT_IDLE" })));
      u.on("error", (err: NodeJS.ErrnoException) => {
        if (u !== upstream) return;
        // The API closed the kept-alive connection this request went out on: it never reached the
        // API, and one without a body goes again, once, on a new connection.
        if (bodiless && !answered && !retried && closedUnderRequest(u, err)) {
          retried = true;
          log.debug({ ip, url: rawUrl, err: err.code }, "node proxy: kept-alive API connection closed under the request; sending it again");
          upstream = open();
          upstream.end();
          return;
        }
        clearTimeout(headerTimer);
        if (err.code === "EBODYLIMIT") return; // answered by refuseBody
        if (answered || res.headersSent) {
          res.destroy();
          return;
        }
        const timedOut = err.code === "ETIMEDOUT_RESPONSE" || err.code === "ETIMEDOUT_IDLE";
        upstreamErrors.inc({ kind: timedOut ? "timeout" : "unreachable" });
        log.warn({ ip, url: rawUrl, api: api.origin, err: err.code ?? err.message }, "node proxy: API request failed");
        if (timedOut) sendProblem(res, 504, `the API at ${api.origin} did not answer within ${config.responseTimeoutMs} ms`);
        else sendProblem(res, 502, `the API at ${api.origin} is unreachable (${err.code ?? err.message})`);
      });
      return u;
    };
    let upstream = open();
    const headerTimer = setTimeout(
      () => upstream.destroy(Object.assign(new Error("response timeout"), { code: "ETIMEDOUT_RESPONSE" })),
      config.responseTimeoutMs,
    );
    req.setTimeout(config.idleTimeoutMs, () => req.destroy());
    // The node went away: stop the API request too.
    res.on("close", () => {
      clearTimeout(headerTimer);
      if (!res.writableFinished) upstream.destroy();
    });
    if (bodiless) {
      bodyDone = true;
      upstream.end();
      return;
    }
    const counted = new BodyLimit(config.maxBodyBytes);
    counted.on("end", () => {
      bodyDone = true;
      pending?.();
    });
    counted.on("error", (err: NodeJS.ErrnoException) => {
      upstream.destroy(err);
      if (err.code === "EBODYLIMIT") refuseBody(req, res, ip, rawUrl, counted.bytes);
    });
    // pipe, not pipeline: a failed API request must not destroy the node's connection before
    // the 502 is written on it.
    req.on("error", () => upstream.destroy());
    req.pipe(counted).pipe(upstream);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.address, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error({ err }, "node proxy: server error"));
  const bound = server.address() as AddressInfo;
  const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  log.info({ address: bound.address, port: bound.port, api: api.origin, paths: config.paths }, "node proxy: listening");

  return {
    address: bound.address,
    port: bound.port,
    url: `http://${host}:${bound.port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
      log.info({ port: bound.port }, "node proxy: stopped");
    },
  };
}
