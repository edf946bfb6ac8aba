/**
 * The API over HTTPS: a Node TLS server in the runner that terminates TLS 1.2+ and forwards each
 * request to the API's plain listener on this machine.
 *
 * Why here and not in workerd: workerd's config takes a keypair only at start, so a renewal would
 * restart the API; `setSecureContext()` swaps the certificate for the next handshakes while the
 * connections already open go on with the one they negotiated. A request in flight never notices,
 * and no connection is refused during the switch.
 *
 * Why HTTP and not a TCP pipe: the API must learn the client's address (the /token throttle
 * counts failures per address, cloud-init identifies nodes by it), and every connection from here
 * reaches it from loopback. So each request carries X-Forwarded-For with the TLS peer's address,
 * and the proxy secret, which makes the API believe it (workers/http/client-ip.ts; `npm start`
 * lists this front's source address in OCHAMI_TRUSTED_PROXIES). A client's own X-Forwarded-For,
 * Forwarded, X-Real-IP and X-Ochami-Proxy-Secret are dropped, never passed on: this is the edge.
 *
 * HSTS (RFC 6797) goes on HTTPS answers to a request that named the head node by a DNS name, when
 * the plain API is not reachable from other machines: a browser that once used HTTPS then never
 * sends a token to that name in clear. Not for an IP address or `localhost` (browsers ignore it for
 * the first, and the second would break the plain http://localhost:8081 on the head node itself).
 */
import http from "node:http";
import https from "node:https";
import { isIP } from "node:net";
import { pipeline } from "node:stream";
import type { SecureContextOptions } from "node:tls";
import { FORWARD_DROPS_FROM_REQUEST, filterHeaders, HOP_BY_HOP, PROXY_SECRET_HEADER } from "../../shared/forwarding";
import { sendProblem } from "../../shared/http-problem";
import { closedUnderRequest, KEPT_ALIVE_IDLE_MS } from "../../shared/kept-alive";
import type { KeyPair } from "./ca";

/** The client's own fields; Host is kept (the API's URLs and HSTS follow the name the client used). */
const DROP_REQUEST = new Set(FORWARD_DROPS_FROM_REQUEST);
const DROP_RESPONSE = new Set(HOP_BY_HOP);

const HSTS = "max-age=31536000";

/** Both ends agree on modern suites only: TLS 1.2 with ECDHE and AEAD, and TLS 1.3. */
const TLS_OPTIONS: SecureContextOptions = {
  minVersion: "TLSv1.2",
  ciphers: [
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
  ].join(":"),
};

export interface TlsFrontOptions {
  host: string;
  port: number;
  /** The plain API, e.g. http://127.0.0.1:8081. */
  upstream: string;
  /** Sent with every forwarded request, so the API believes X-Forwarded-For. */
  proxySecret: string;
  keyPair: KeyPair;
  /** Whether HSTS may be sent at all (the plain API listens on loopback only). */
  hsts: boolean;
  onNotice?: (line: string) => void;
}

export interface TlsFront {
  address: string;
  port: number;
  /** New handshakes use this pair from now on; open connections keep theirs. */
  setKeyPair(pair: KeyPair): void;
  /** Refuses new connections at once; requests in flight finish (idle keep-alive connections are closed). */
  close(): Promise<void>;
}

const plainIp = (address: string | undefined) => (address?.startsWith("::ffff:") ? address.slice(7) : (address ?? ""));

function hostnameOf(hostHeader: string | undefined): string {
  if (!hostHeader) return "";
  const h = hostHeader.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]"));
  return h.replace(/:\d+$/, "");
}

export async function startTlsFront(opts: TlsFrontOptions): Promise<TlsFront> {
  const api = new URL(opts.upstream);
  const notice = opts.onNotice ?? ((line: string) => process.stderr.write(`${line}\n`));
  // Requests without a body reuse connections to the API (closed here when idle, before the API
  // closes them: shared/kept-alive.ts); one that finds its pooled connection closed by the API
  // meanwhile is sent again on a new one. A request with a body cannot be sent twice, so it gets
  // a connection of its own, which nothing can have closed.
  const pooled = new http.Agent({ keepAlive: true, timeout: KEPT_ALIVE_IDLE_MS, maxSockets: 256 });
  const fresh = new http.Agent({ keepAlive: false });

  const server = https.createServer({ ...TLS_OPTIONS, ...opts.keyPair }, (req, res) => forward(req, res));

  function forward(req: http.IncomingMessage, res: http.ServerResponse, retry = true) {
    const rawUrl = req.url ?? "";
    const hasBody = req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
    if (!rawUrl.startsWith("/"))
      return sendProblem(res, 400, "request target must be an absolute path", hasBody ? { connection: "close" } : {});
    const headers = filterHeaders(req.headers, DROP_REQUEST);
    if (req.headers["transfer-encoding"] !== undefined) headers["transfer-encoding"] = "chunked";
    headers["x-forwarded-for"] = plainIp(req.socket.remoteAddress);
    headers["x-forwarded-proto"] = "https";
    headers[PROXY_SECRET_HEADER] = opts.proxySecret;
    const name = hostnameOf(req.headers.host);
    const hsts = opts.hsts && name !== "" && isIP(name) === 0 && name !== "localhost";

    const upstream = http.request(
      { hostname: api.hostname, port: api.port, method: req.method, path: rawUrl, headers, agent: hasBody ? fresh : pooled },
      (upRes) => {
        const out = filterHeaders(upRes.headers, DROP_RESPONSE);
        if (hsts) out["strict-transport-security"] = HSTS;
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, out);
        pipeline(upRes, res, () => {});
      },
    );
    upstream.on("error", (err: NodeJS.ErrnoException) => {
      if (res.headersSent) return void res.destroy();
      if (retry && !hasBody && closedUnderRequest(upstream, err)) return forward(req, res, false);
      notice(`https: ${req.method} ${rawUrl}: the API at ${api.host} did not answer (${err.code ?? err.message})`);
      sendProblem(res, 502, `the API behind this HTTPS port did not answer (${err.code ?? err.message})`);
    });
    // The client went away: stop the API request too.
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    if (hasBody) pipeline(req, upstream, () => {});
    else upstream.end();
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // A failed handshake (an untrusting client, a scanner) is the client's business, not a crash.
  server.on("tlsClientError", () => {});
  const bound = server.address() as { address: string; port: number };
  return {
    address: bound.address,
    port: bound.port,
    setKeyPair(pair) {
      server.setSecureContext({ ...TLS_OPTIONS, ...pair });
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => {
          pooled.destroy();
          fresh.destroy();
          resolve();
        });
        server.closeIdleConnections();
      });
    },
  };
}
