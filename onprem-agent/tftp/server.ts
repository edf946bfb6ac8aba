/**
 * The agent's read-only TFTP server: iPXE binaries and chain scripts for firmware that cannot
 * fetch over HTTP yet.
 *
 * Hand-written rather than the `tftp` npm package (gagle/node-tftp 0.1.2, unmaintained since
 * 2018), which failed our robustness checks: a 1-byte datagram sent to a transfer's port throws
 * an uncaught RangeError that kills the process; a request for a missing file crashes it through
 * an unhandled "error" event; a packet from a foreign address/port is accepted as an ACK; a
 * duplicate ACK resends the window (Sorcerer's Apprentice); symlinks out of the root are followed;
 * the RFC 2349 `timeout` option is ignored; there is no limit on concurrent transfers.
 *
 * The main socket only receives requests; each transfer gets its own socket (see transfer.ts).
 * Replies that refuse a request (WRQ, missing file, bad name) go out from the main socket, so a
 * flood of bad requests costs no sockets.
 */
import dgram from "node:dgram";
import { type FileHandle, open } from "node:fs/promises";
import { type AddressInfo, isIP } from "node:net";
import type { z } from "zod";
import { metricFactory } from "../metrics";
import { ServedRoot, safeSegments } from "../served-root";
import { plainIp, reportBootEvent, type ServiceDeps } from "../service-deps";
import { type TftpConfig, tftpConfigSchema } from "./config";
import { FileCache } from "./file-cache";
import { negotiate } from "./options";
import { ErrorCode, errorPacket, parsePacket, type Request } from "./packet";
import { bufferSource, ChunkBuffers, fileSource, type Source, toNetascii } from "./source";
import { type Outcome, Transfer } from "./transfer";

export interface FileRequest {
  ip: string;
  port: number;
  filename: string;
}

/**
 * Content generated per request (a per-node chain script, say); `undefined` falls through to the
 * next source (configured files, then the root directory).
 */
export type DynamicFile = (req: FileRequest) => string | Buffer | undefined | Promise<string | Buffer | undefined>;

export type TftpServerOptions = z.input<typeof tftpConfigSchema> & {
  /** Checked before `files` and `root`, by normalised name (`/config.ipxe` = `config.ipxe`). */
  dynamicFiles?: Record<string, DynamicFile>;
};

export interface TftpServer {
  address: string;
  port: number;
  /** Transfers in progress, including ones still opening their file. */
  activeTransfers(): number;
  close(): Promise<void>;
}

interface Active {
  ip: string;
  filename: string;
  transfer?: Transfer;
  /** Set when the server or a restarted request ends the transfer before it began. */
  cancelled?: boolean;
}

export async function startTftpServer(options: TftpServerOptions, deps: ServiceDeps): Promise<TftpServer> {
  const { dynamicFiles = {}, ...section } = options;
  const config: TftpConfig = tftpConfigSchema.parse(section);
  const root = await ServedRoot.open(config.root, config.allowSymlinksTo);
  const family = isIP(config.address) === 6 ? "udp6" : "udp4";
  const log = deps.log;
  const dynamic = new Map(Object.entries(dynamicFiles).map(([name, fn]) => [normalName(name), fn]));
  const configured = new Map(Object.entries(config.files).map(([name, text]) => [normalName(name), Buffer.from(text)]));

  const m = metricFactory(deps.metrics);
  const requests = m.counter({
    name: "ochami_agent_tftp_requests_total",
    help: "TFTP requests by result",
    labelNames: ["result"] as const,
  });
  const transfersActive = m.gauge({ name: "ochami_agent_tftp_transfers_active", help: "TFTP transfers in progress" });
  const transfersEnded = m.counter({
    name: "ochami_agent_tftp_transfers_total",
    help: "Finished TFTP transfers by outcome",
    labelNames: ["outcome"] as const,
  });
  const bytesSent = m.counter({ name: "ochami_agent_tftp_bytes_sent_total", help: "TFTP payload bytes sent (first transmissions)" });
  const retransmissions = m.counter({ name: "ochami_agent_tftp_retransmissions_total", help: "TFTP windows sent again after a timeout" });
  const dropped = m.counter({ name: "ochami_agent_tftp_dropped_packets_total", help: "Datagrams that were not usable TFTP packets" });

  const chunkBuffers = new ChunkBuffers();
  const cache = new FileCache(config.cacheFileMaxBytes, config.cacheTotalBytes);
  /** Keyed by client ip:port (the client's TID). */
  const active = new Map<string, Active>();
  const perClient = new Map<string, number>();
  let lastBusyLog = 0;
  let closed = false;

  const socket = dgram.createSocket({ type: family, reuseAddr: false });
  socket.on("error", (err) => log.error({ err }, "tftp: socket error"));
  socket.on("message", (msg, rinfo) => {
    try {
      onDatagram(msg, rinfo);
    } catch (err) {
      // Nothing a datagram contains may take the server down; this is a bug if it ever logs.
      log.error({ err, from: rinfo.address }, "tftp: request handler failed");
    }
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind(config.port, config.address, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  const bound = socket.address() as AddressInfo;
  log.info({ address: bound.address, port: bound.port, root: root.dir }, "tftp: listening");

  function reject(rinfo: dgram.RemoteInfo, code: number, message: string) {
    socket.send(errorPacket(code, message), rinfo.port, rinfo.address, () => {});
  }

  function onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo) {
    if (closed) return;
    const packet = parsePacket(msg);
    const ip = plainIp(rinfo.address);
    if (packet.kind !== "request") {
      dropped.inc();
      const reason = packet.kind === "malformed" ? packet.reason : `${packet.kind} packet on the request port`;
      log.debug({ ip, port: rinfo.port, reason }, "tftp: dropped datagram");
      return;
    }
    if (packet.op === "WRQ") {
      requests.inc({ result: "denied" });
      log.info({ ip, file: packet.filename }, "tftp: write request refused (read-only server)");
      return reject(rinfo, ErrorCode.ACCESS_VIOLATION, "Read-only server: writes are not accepted");
    }
    const key = `${rinfo.address}:${rinfo.port}`;
    const existing = active.get(key);
    if (existing) {
      // The client resent its request before our first reply reached it: the running transfer
      // answers it. A different file from the same port means the client restarted.
      if (existing.filename === packet.filename) return;
      cancel(key, existing, "client sent a new request from the same port");
    }
    if (active.size >= config.maxTransfers || (perClient.get(ip) ?? 0) >= config.maxTransfersPerClient) {
      // Silence rather than an error: PXE firmware retries a request that gets no answer, but
      // gives up the boot on an error packet.
      requests.inc({ result: "busy" });
      const now = Date.now();
      if (now - lastBusyLog > 1000) {
        lastBusyLog = now;
        log.warn({ ip, active: active.size, max: config.maxTransfers }, "tftp: transfer limit reached, request dropped");
      }
      return;
    }
    const entry: Active = { ip, filename: packet.filename };
    active.set(key, entry);
    perClient.set(ip, (perClient.get(ip) ?? 0) + 1);
    transfersActive.set(active.size);
    begin(key, entry, packet, rinfo).catch((err) => {
      log.error({ err, ip, file: packet.filename }, "tftp: could not start transfer");
      reject(rinfo, ErrorCode.NOT_DEFINED, "Internal error");
      release(key, entry);
    });
  }

  function release(key: string, entry: Active) {
    if (active.get(key) !== entry) return;
    active.delete(key);
    const left = (perClient.get(entry.ip) ?? 1) - 1;
    if (left > 0) perClient.set(entry.ip, left);
    else perClient.delete(entry.ip);
    transfersActive.set(active.size);
  }

  function cancel(key: string, entry: Active, why: string) {
    entry.cancelled = true;
    entry.transfer?.close(why);
    release(key, entry);
  }

  type Refusal = { refuse: [code: number, message: string, result: string, level: "debug" | "info" | "warn", why?: string] };
  type Content = { content: Buffer } | { handle: FileHandle; size: number };

  /** What a request names: generated content, a configured file, or a file under the root. */
  async function openContent(req: Request, segments: string[], ip: string, port: number): Promise<Content | Refusal> {
    if (req.mode !== "octet" && req.mode !== "netascii") {
      return { refuse: [ErrorCode.ILLEGAL_OPERATION, `Transfer mode '${req.mode}' is not supported`, "bad_request", "info"] };
    }
    const name = segments.join("/");
    const generate = dynamic.get(name);
    const made = generate ? await generate({ ip, port, filename: name }) : undefined;
    if (made !== undefined) return { content: typeof made === "string" ? Buffer.from(made) : made };
    const configuredContent = configured.get(name);
    if (configuredContent) return { content: configuredContent };

    const found = await root.lookup(segments);
    if (found.kind === "missing") return { refuse: [ErrorCode.FILE_NOT_FOUND, "File not found", "not_found", "debug"] };
    if (found.kind === "directory") return { refuse: [ErrorCode.FILE_NOT_FOUND, "Not a file", "not_found", "debug"] };
    if (found.kind === "forbidden") return { refuse: [ErrorCode.ACCESS_VIOLATION, "Access violation", "forbidden", "warn", found.reason] };
    try {
      const cached = await cache.get(found.path, found.stats);
      if (cached) return { content: cached };
      const handle = await open(found.path, "r");
      return { handle, size: (await handle.stat()).size };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return { refuse: [ErrorCode.FILE_NOT_FOUND, "File not found", "not_found", "debug"] };
      return { refuse: [ErrorCode.ACCESS_VIOLATION, "Access violation", "forbidden", "warn", `cannot read: ${code}`] };
    }
  }

  /** netascii is converted in memory, so only up to maxNetasciiBytes. */
  async function asNetascii(opened: Content): Promise<Buffer | Refusal> {
    const size = "content" in opened ? opened.content.length : opened.size;
    if (size > config.maxNetasciiBytes) {
      if ("handle" in opened) await opened.handle.close();
      return { refuse: [ErrorCode.ILLEGAL_OPERATION, "File too large for netascii; use octet mode", "bad_request", "info"] };
    }
    if ("content" in opened) return toNetascii(opened.content);
    try {
      return toNetascii(await opened.handle.readFile());
    } finally {
      await opened.handle.close();
    }
  }

  /** The transfer's own socket (its TID), connected to the client. */
  function transferSocket(rinfo: dgram.RemoteInfo): Promise<dgram.Socket> {
    const tsock = dgram.createSocket(family);
    return new Promise<dgram.Socket>((resolve, reject) => {
      tsock.once("error", reject);
      tsock.bind(0, config.address, () =>
        tsock.connect(rinfo.port, rinfo.address, () => {
          tsock.off("error", reject);
          resolve(tsock);
        }),
      );
    }).catch((err) => {
      tsock.close();
      throw err;
    });
  }

  async function begin(key: string, entry: Active, req: Request, rinfo: dgram.RemoteInfo) {
    const { ip } = entry;
    // The socket is set up while the file is looked up: both take a few event-loop turns.
    const socketReady = transferSocket(rinfo);
    socketReady.catch(() => {}); // awaited below; a refused request never looks at it
    // Backslashes are path separators for some PXE clients (Windows-built NBPs).
    const segments = safeSegments(req.filename.replaceAll("\\", "/"));
    let opened: Content | Refusal = Array.isArray(segments)
      ? await openContent(req, segments, ip, rinfo.port)
      : { refuse: [ErrorCode.ACCESS_VIOLATION, "Access violation", "forbidden", "warn", segments.refused] };
    if (req.mode === "netascii" && !("refuse" in opened)) {
      const converted = await asNetascii(opened);
      opened = Buffer.isBuffer(converted) ? { content: converted } : converted;
    }
    if ("refuse" in opened) {
      void socketReady.then(
        (tsock) => tsock.close(),
        () => {},
      );
      const [code, message, result, level, why = message] = opened.refuse;
      requests.inc({ result });
      log[level]({ ip, file: req.filename, reason: why }, "tftp: request refused");
      reject(rinfo, code, message);
      return release(key, entry);
    }
    const name = (segments as string[]).join("/");
    const size = "content" in opened ? opened.content.length : opened.size;
    const terms = negotiate(req.options, size, config);
    const source: Source =
      "content" in opened ? bufferSource(opened.content, terms.blockSize) : fileSource(opened.handle, size, terms.blockSize, chunkBuffers);
    let tsock: dgram.Socket;
    try {
      tsock = await socketReady;
    } catch (err) {
      await source.close();
      throw err;
    }
    if (entry.cancelled || closed) {
      tsock.close();
      return void source.close();
    }

    const started = Date.now();
    const details = { ip, file: name, size, blksize: terms.blockSize, windowsize: terms.windowSize };
    if (terms.ignored.length) log.debug({ ...details, ignored: terms.ignored }, "tftp: options not accepted");
    requests.inc({ result: "started" });
    entry.transfer = new Transfer(
      {
        socket: tsock,
        source,
        blockSize: terms.blockSize,
        windowSize: terms.windowSize,
        timeoutMs: terms.timeoutMs ?? config.timeoutMs,
        retries: config.retries,
        oack: terms.oack,
      },
      {
        onFirstData: () => reportBootEvent(deps, { ip, endpoint: "tftp", detail: name }),
        onRetransmit: () => retransmissions.inc(),
        onDropped: (reason) => {
          dropped.inc();
          log.debug({ ...details, reason }, "tftp: dropped datagram");
        },
        onEnd: (outcome: Outcome, detail: string) => {
          const transfer = entry.transfer!;
          bytesSent.inc(transfer.bytesSent);
          transfersEnded.inc({ outcome });
          release(key, entry);
          const ms = Date.now() - started;
          const fields = { ...details, outcome, detail, ms, bytes: transfer.bytesSent };
          if (outcome === "complete") log.info(fields, "tftp: transfer complete");
          else if (outcome === "timeout" || outcome === "error") log.warn(fields, "tftp: transfer failed");
          else log.debug(fields, "tftp: transfer ended early");
        },
      },
    );
    entry.transfer.start();
  }

  return {
    address: bound.address,
    port: bound.port,
    activeTransfers: () => active.size,
    async close() {
      if (closed) return;
      closed = true;
      for (const [key, entry] of [...active]) cancel(key, entry, "server closing");
      await new Promise<void>((resolve) => socket.close(() => resolve()));
      log.info({ port: bound.port }, "tftp: stopped");
    },
  };
}

/** The lookup key of a served name: what safeSegments keeps of it. */
function normalName(name: string): string {
  const segments = safeSegments(name.replaceAll("\\", "/"));
  if (!Array.isArray(segments)) throw new Error(`TFTP file name '${name}' is not servable: ${segments.refused}`);
  return segments.join("/");
}
