/**
 * The agent's image server: kernels, initrds and root filesystems over HTTP for iPXE and dracut,
 * nginx-style: GET/HEAD, single ranges, ETag/Last-Modified with 304/412, If-Range, optional
 * directory listing. The decisions are in file-response.ts (pure), the streaming in pump.ts.
 *
 * Before any of that the name is decoded once and checked (no `..`, encoded or not, no NUL, no
 * hidden names), symlinks are resolved and must stay under the root, and only regular files are
 * opened — by their resolved path, and everything after is read from that one open handle.
 */
import { type FileHandle, open, readdir, stat } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { z } from "zod";
import { sendProblem } from "../../shared/http-problem";
import { metricFactory } from "../metrics";
import { ServedRoot, safeSegments } from "../served-root";
import { plainIp, reportBootEvent, type ServiceDeps } from "../service-deps";
import { classifier } from "./classify";
import { type ImagesConfig, imagesConfigSchema } from "./config";
import { answerFor, contentType } from "./file-response";
import { ChunkPool, pumpFile } from "./pump";

export type ImageServerOptions = z.input<typeof imagesConfigSchema>;

export interface ImageServer {
  address: string;
  port: number;
  /** http://address:port, for tests and logs. */
  url: string;
  close(): Promise<void>;
}

/** Read size, read-ahead per download, and the read-ahead budget shared by all downloads. */
const CHUNK_BYTES = 1024 * 1024;
const DEPTH = 4;
const READ_AHEAD_BUDGET_BYTES = 256 * 1024 * 1024;

type Target = { segments: string[]; path: string; trailingSlash: boolean } | { status: number; detail: string };

/** The request path, decoded once and checked; the query string is ignored. */
export function parseTarget(rawUrl: string | undefined): Target {
  if (!rawUrl?.startsWith("/")) return { status: 400, detail: "request target must be an absolute path" };
  const rawPath = rawUrl.split("?", 1)[0];
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { status: 400, detail: "malformed percent-encoding in path" };
  }
  const segments = safeSegments(decoded);
  if (!Array.isArray(segments)) {
    // A hidden name is simply not there; anything else is a malformed or hostile request.
    return segments.refused === "hidden name" ? { status: 404, detail: "not found" } : { status: 400, detail: segments.refused };
  }
  return { segments, path: `/${segments.join("/")}`, trailingSlash: decoded.endsWith("/") };
}

export async function startImageServer(options: ImageServerOptions, deps: ServiceDeps): Promise<ImageServer> {
  const config: ImagesConfig = imagesConfigSchema.parse(options);
  const root = await ServedRoot.open(config.root, config.allowSymlinksTo);
  const classify = classifier(config.classify);
  const log = deps.log;
  const pool = new ChunkPool(CHUNK_BYTES, READ_AHEAD_BUDGET_BYTES);
  const cacheControl = config.maxAgeSeconds === undefined ? undefined : `public, max-age=${config.maxAgeSeconds}`;

  const m = metricFactory(deps.metrics);
  const requests = m.counter({
    name: "ochami_agent_images_requests_total",
    help: "Image server responses by status",
    labelNames: ["status"] as const,
  });
  const bytesSent = m.counter({
    name: "ochami_agent_images_bytes_sent_total",
    help: "Image bytes streamed, by boot endpoint",
    labelNames: ["endpoint"] as const,
  });
  const downloads = m.gauge({ name: "ochami_agent_images_downloads_active", help: "Image bodies being streamed" });

  const server = http.createServer((req, res) => {
    const started = Date.now();
    res.on("close", () => requests.inc({ status: String(res.statusCode) }));
    handle(req, res, started).catch((err) => {
      log.error({ err, url: req.url }, "images: request failed");
      sendProblem(res, 500, "internal error");
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, started: number) {
    if (req.method !== "GET" && req.method !== "HEAD") {
      return sendProblem(res, 405, `method ${req.method} not allowed`, { allow: "GET, HEAD" });
    }
    const ip = plainIp(req.socket.remoteAddress);
    const target = parseTarget(req.url);
    if ("status" in target) {
      log.warn({ ip, url: req.url, reason: target.detail }, "images: request refused");
      return sendProblem(res, target.status, target.detail);
    }
    const found = await root.lookup(target.segments);
    if (found.kind === "missing") return sendProblem(res, 404, `${target.path} not found`);
    if (found.kind === "forbidden") {
      log.warn({ ip, path: target.path, reason: found.reason }, "images: request refused");
      return sendProblem(res, 404, `${target.path} not found`);
    }
    if (found.kind === "file") {
      // `/vmlinuz/` names a directory: a file is not served under it (nginx answers 404 too).
      if (target.trailingSlash) return sendProblem(res, 404, `${target.path}/ not found`);
      return serveFile(req, res, found.path, target.path, ip, started);
    }

    // A directory: its index.html, else a listing when enabled, else nothing.
    const index = await root.lookup([...target.segments, "index.html"]);
    if (index.kind !== "file" && !config.listing) return sendProblem(res, 404, `${target.path} not found`);
    if (!target.trailingSlash) {
      const query = req.url!.includes("?") ? req.url!.slice(req.url!.indexOf("?")) : "";
      res.writeHead(301, { location: `${encodeURI(target.path === "/" ? "" : target.path)}/${query}`, "content-length": 0 });
      return res.end();
    }
    if (index.kind === "file") return serveFile(req, res, index.path, `${target.path}/index.html`, ip, started);
    const html = await listingHtml(found.path, target.path);
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "content-length": Buffer.byteLength(html) });
    res.end(req.method === "HEAD" ? undefined : html);
  }

  async function serveFile(req: http.IncomingMessage, res: http.ServerResponse, file: string, shown: string, ip: string, started: number) {
    let handle: FileHandle;
    try {
      handle = await open(file, "r");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return sendProblem(res, 404, `${shown} not found`);
      log.warn({ ip, path: shown, err: code }, "images: cannot open file");
      return sendProblem(res, 403, `${shown} cannot be read`);
    }
    let answer: ReturnType<typeof answerFor>;
    try {
      answer = answerFor(req.method!, req.headers, await handle.stat(), {
        contentType: contentType(path.posix.basename(shown)),
        cacheControl,
      });
    } catch (err) {
      await handle.close();
      throw err;
    }
    if (answer.status === 412 || answer.status === 416) {
      await handle.close();
      if (answer.status === 412) return sendProblem(res, 412, "precondition failed");
      return sendProblem(res, 416, "range not satisfiable", answer.headers as Record<string, string>);
    }
    if (!answer.body) {
      // 304, or HEAD: the headers of the answer, no body and no boot event.
      await handle.close();
      res.writeHead(answer.status, answer.headers);
      return void res.end();
    }
    const endpoint = classify(shown);
    const range = answer.status === 206 ? ` [${answer.headers["content-range"]}]` : "";
    reportBootEvent(deps, { ip, endpoint, detail: `${shown}${range}` });
    res.writeHead(answer.status, answer.headers);
    downloads.inc();
    const { bytes, complete } = await pumpFile(res, handle, answer.start, answer.end, pool, DEPTH);
    downloads.dec();
    bytesSent.inc({ endpoint }, bytes);
    const fields = { ip, path: shown, endpoint, status: answer.status, bytes, ms: Date.now() - started };
    if (complete) log.info(fields, "images: sent");
    else log.info(fields, "images: client closed the connection before the end");
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.address, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err) => log.error({ err }, "images: server error"));
  const bound = server.address() as AddressInfo;
  const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address;
  log.info({ address: bound.address, port: bound.port, root: root.dir, listing: config.listing }, "images: listening");

  return {
    address: bound.address,
    port: bound.port,
    url: `http://${host}:${bound.port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      log.info({ port: bound.port }, "images: stopped");
    },
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** nginx autoindex-like page: name, size, modification time; hidden names left out. */
async function listingHtml(dir: string, shownPath: string): Promise<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith("."));
  entries.sort((a, b) => a.name.localeCompare(b.name));
  const rows = await Promise.all(
    entries.map(async (e) => {
      const s = await stat(`${dir}/${e.name}`).catch(() => undefined);
      const isDir = s?.isDirectory() ?? e.isDirectory();
      const name = isDir ? `${e.name}/` : e.name;
      const href = encodeURIComponent(e.name) + (isDir ? "/" : "");
      const size = isDir || !s ? "-" : String(s.size);
      const when = s ? s.mtime.toISOString().replace("T", " ").slice(0, 19) : "";
      return `<a href="${escapeHtml(href)}">${escapeHtml(name)}</a>  ${when}  ${size}`;
    }),
  );
  const title = escapeHtml(shownPath === "/" ? "/" : `${shownPath}/`);
  return `<!DOCTYPE html>\n<html><head><title>Index of ${title}</title></head><body><h1>Index of ${title}</h1><pre>\n${
    shownPath === "/" ? "" : '<a href="../">../</a>\n'
  }${rows.join("\n")}\n</pre></body></html>\n`;
}
