import type { ChildProcess } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { checkConfig } from "../../workers/config";
import { bundleWorker } from "./bundle";
import { ListenSocket } from "./listen-socket";
import { applyMigrations } from "./migrate";
import { RuntimeDir } from "./runtime-dir";
import { describeExit, WorkerdSupervisor } from "./supervisor";
import { API_SOCKET, buildApiConfig, buildDatabaseConfig, PEER_PATH } from "./workerd-config";
import { readWorkerSettings } from "./wrangler-config";

export interface ApiServerOptions {
  host?: string;
  port?: number;
  stateDir: string;
  /** Worker variables; merged over wrangler.toml's [vars]. */
  vars?: Record<string, string>;
  /**
   * Addresses the worker's fetch() may reach: "public" (workerd's default, against SSRF) or
   * "private" (also LAN and loopback, never Unix sockets or link-local: SITE_NETWORK_DENY), which
   * SCN subscribers and an external token issuer's JWKS URL on the site network need.
   */
  outbound?: "public" | "private";
  /** Called with each line workerd writes (its console.log and errors). */
  onLog?: (line: string) => void;
  /** Called with what the runner says about its processes: exits with their cause, restarts. Default: stderr. */
  onNotice?: (line: string) => void;
  /** A ceiling on the database process's resident memory (none by default); `setting` names it in messages. */
  databaseMemoryLimit?: { mb: number; setting: string };
  /** How long a workerd process (the database or an API) may answer nothing before it is killed and restarted (default STUCK_MS). */
  stuckMs?: number;
  /**
   * How many API workerd processes accept on the API's socket (default 1): each is one thread, and
   * the kernel hands each new connection to one of them. The database process stays one.
   */
  processes?: number;
}

/**
 * Worker settings this runner implies. OCHAMI_BOOT_SNAPSHOT=exclusive: the API process is the
 * database's only client (its one isolate writes through the API; a second workerd on the same
 * files is refused by SQLite's lock), so checking the snapshot after its own writes is exact.
 */
const RUNNER_DEFAULTS = { OCHAMI_BOOT_SNAPSHOT: "exclusive" };

/** How long the API may take to finish the requests in flight when stopped. */
const API_DRAIN_MS = 10_000;

export interface ApiServer {
  url: string;
  /** The first API workerd process now (a new one after each restart). */
  readonly process: ChildProcess;
  /** Every API workerd process now, in order (process i answers on peerSockets[i]). */
  readonly processes: ChildProcess[];
  /**
   * Each API process's private Unix socket (workerd-config.ts says what it serves): the way to
   * address one process, where the API's own socket hands a connection to whichever accepts it.
   */
  peerSockets: string[];
  /** The workerd process holding the database now. */
  readonly databaseProcess: ChildProcess;
  /** The database process's Unix socket. */
  databaseSocket: string;
  /**
   * Stops the API (it refuses new connections at once and finishes the requests in flight), then
   * the database, and removes the runtime directory.
   */
  stop(): Promise<void>;
}

/**
 * A workerd process answers its liveness probe between the work it has, so only one piece of work
 * running this long keeps it silent legitimately: D1 on Cloudflare stops any query at 30 s, and
 * Workers stop a request's CPU at 30 s by default. Longer, the process is taken for stuck (a
 * stalled disk, a loop) and killed and restarted: a stuck database held every API request that
 * needed it for ever (they answer 503 meanwhile), a stuck API process the connections the kernel
 * gave it (its socket's queue goes to the new process).
 */
const STUCK_MS = 30_000;

/**
 * Serves the worker under workerd on a persisted local D1: bundle, migrate, spawn the database
 * process and the API process (workerd-config.ts says why two), wait until it answers. Both are
 * supervised: one that exits on its own is restarted, on the same socket or port, while the other
 * keeps running. Used by `npm start`, the node-side tests and the benchmarks, so all three run
 * exactly what production runs.
 */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? 8081;
  const settings = readWorkerSettings();
  const vars = { ...RUNNER_DEFAULTS, ...settings.vars, ...opts.vars };
  // The worker parses its variables per request; a bad one would make every request a 500, so
  // refuse to start instead, naming the variable.
  checkConfig(vars);
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const [workerScript] = await Promise.all([bundleWorker(settings.main), applyMigrations(opts.stateDir, settings.d1Binding)]);
  const onLog = opts.onLog ?? ((line: string) => process.stderr.write(`${line}\n`));
  const onNotice = opts.onNotice ?? ((line: string) => process.stderr.write(`${line}\n`));
  const runtime = new RuntimeDir();
  const socket = runtime.socket;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;

  const database = new WorkerdSupervisor({
    role: "database",
    config: buildDatabaseConfig(settings, { stateDir: opts.stateDir, socket }),
    ready: (child) => waitForSocket(socket, child),
    // A process killed outright leaves its socket file behind, and workerd will not listen over it.
    beforeRestart: () => rmSync(socket, { force: true }),
    onLog,
    onNotice,
    onStarted: (child) => runtime.noteWorkerd("database", child.pid),
    memoryLimit: opts.databaseMemoryLimit,
    // Its entry answers this itself (d1-entry.worker.js): silence means the process is stuck.
    liveness: { alive: () => answersOnSocket(socket), stuckAfterMs: opts.stuckMs ?? STUCK_MS },
  });
  let listen: ListenSocket;
  try {
    listen = await ListenSocket.open(host, port);
  } catch (err) {
    runtime.remove();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE")
      throw new Error(`port ${port}/tcp on ${host} (API) is already in use by another process: set PORT to a free port`);
    throw err;
  }
  const count = opts.processes ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new Error(`API processes: expected a whole number of at least 1, got ${count}`);
  const peerSockets = Array.from({ length: count }, (_, i) => runtime.peerSocket(i));
  const apis = peerSockets.map(
    (peerSocket, i) =>
      new WorkerdSupervisor({
        role: count === 1 ? "API" : `API ${i + 1}/${count}`,
        config: buildApiConfig(settings, {
          host,
          port,
          workerScript,
          vars,
          outbound: opts.outbound,
          databaseSocket: socket,
          process: { index: i, peerSockets },
        }),
        sockets: [{ name: API_SOCKET, fd: listen.fd }],
        ready: (child) => waitUntilServing(url, peerSocket, child),
        // As the database's: workerd will not listen over a socket file a killed process left.
        beforeRestart: () => rmSync(peerSocket, { force: true }),
        onLog,
        onNotice,
        onStarted: (child) => runtime.noteWorkerd(i === 0 ? "api" : `api-${i + 1}`, child.pid),
        stopGraceMs: API_DRAIN_MS,
        // Answered by the worker on the process's own socket: silence means its one thread is stuck.
        liveness: { alive: () => answersOnSocket(peerSocket), stuckAfterMs: opts.stuckMs ?? STUCK_MS },
      }),
  );
  const stop = async () => {
    await stopApi(apis, peerSockets, listen);
    await database.stop();
    runtime.remove();
  };
  try {
    await database.start();
    await Promise.all(apis.map((api) => api.start()));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url,
    get process() {
      return apis[0].child;
    },
    get processes() {
      return apis.map((api) => api.child);
    },
    peerSockets,
    get databaseProcess() {
      return database.child;
    },
    databaseSocket: socket,
    stop,
  };
}

/**
 * Stops the API so that new connections are refused at once while the requests in flight finish:
 * SIGTERM (workerd stops accepting and finishes what is in flight), and the listening socket shut
 * down as soon as every API process has stopped accepting (listen-socket.ts says why not before).
 * That moment shows on an idle keep-alive connection to each process's own socket: workerd closes
 * those when it stops accepting, on every socket at once. When no such connection can be had (the
 * process is not up, or too busy to answer within a second), the socket is shut down once that
 * process has exited.
 */
async function stopApi(apis: WorkerdSupervisor[], peerSockets: string[], listen: ListenSocket) {
  const idle = await Promise.all(apis.map((api, i) => (api.running() ? idleConnection(peerSockets[i], 1000) : undefined)));
  // In flight before the stop, so workerd keeps each process until its boot events are written.
  const drains = await Promise.all(apis.map((api, i) => (api.running() ? drainRequest(peerSockets[i], 1000) : undefined)));
  const stopped = apis.map((api) => api.stop());
  await Promise.all(
    stopped.map((done, i) => {
      const conn = idle[i];
      return conn ? Promise.race([new Promise((r) => conn.once("close", r)), done]) : done;
    }),
  );
  listen.refuse();
  await Promise.all(stopped);
  for (const conn of [...idle, ...drains]) conn?.destroy();
  listen.close();
}

/**
 * POST /drain on a process's own socket (workers/boot/snapshot/peers.ts), resolved once it is
 * answered: from then on it is a request in flight until the process has written its last boot
 * events. Undefined when it is not answered within `timeoutMs`.
 */
function drainRequest(socket: string, timeoutMs: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let got = "";
    const give = (ok: boolean) => {
      clearTimeout(timer);
      s.removeAllListeners("data");
      s.on("data", () => {}); // the rest of the body: read and dropped
      if (!ok) s.destroy();
      resolve(ok ? s : undefined);
    };
    const timer = setTimeout(() => give(false), timeoutMs);
    s.on("error", () => give(false));
    s.on("connect", () => s.write(`POST ${PEER_PATH.drain} HTTP/1.1\r\nHost: runner\r\nContent-Length: 0\r\n\r\n`));
    s.on("data", (d) => {
      got += d;
      if (got.includes("draining\n")) give(/^HTTP\/1\.1 200/.test(got));
    });
  });
}

/** A connection to `socket` that has had one request answered and waits, idle, for the next; undefined if none within `timeoutMs`. */
function idleConnection(socket: string, timeoutMs: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let got = "";
    const give = (socket: Socket | undefined) => {
      clearTimeout(timer);
      s.removeAllListeners("data");
      if (!socket) s.destroy();
      resolve(socket);
    };
    const timer = setTimeout(() => give(undefined), timeoutMs);
    s.on("error", () => give(undefined));
    s.on("connect", () => s.write(`GET ${PEER_PATH.alive} HTTP/1.1\r\nHost: runner\r\n\r\n`));
    s.on("data", (d) => {
      got += d;
      const end = got.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/^content-length:\s*(\d+)/im.exec(got.slice(0, end))?.[1] ?? 0);
      if (got.length - end - 4 >= length) give(/^HTTP\/1\.1 2\d\d/.test(got) ? s : undefined);
    });
  });
}

/** Rejects when `child` exits: a process that is gone will not become ready. */
function exitOf(child: ChildProcess): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new Error(`exited ${describeExit(child.exitCode, child.signalCode)} before it started serving`));
    if (child.exitCode !== null || child.signalCode !== null) fail();
    else child.once("exit", fail).once("error", fail);
  });
}

async function until(child: ChildProcess, what: string, timeoutMs: number, probe: () => Promise<boolean>) {
  const exited = exitOf(child);
  exited.catch(() => {});
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.race([probe(), exited])) return;
    await Promise.race([new Promise((r) => setTimeout(r, 50)), exited]);
  }
  throw new Error(`did not ${what} within ${timeoutMs / 1000} s`);
}

/** Ready once the socket accepts connections (a file left by a killed process does not count). */
function waitForSocket(socket: string, child: ChildProcess, timeoutMs = 30_000) {
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const s = connect(socket);
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
  return until(child, `open ${socket}`, timeoutMs, accepts);
}

/**
 * Ready once the process answers on its own socket, and the API answers on its socket (the
 * latter may be another process's answer: it is the former that says this one serves).
 */
function waitUntilServing(url: string, peerSocket: string, child: ChildProcess, timeoutMs = 30_000) {
  const answers = async () => {
    try {
      if (!(await answersOnSocket(peerSocket))) return false;
      const res = await fetch(`${url}/hsm/v2/service/liveness`, { signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      return res.status < 500;
    } catch {
      return false; // not listening yet
    }
  };
  return until(child, `answer on ${url}`, timeoutMs, answers);
}

/** One request to a process's own socket: true when it is answered with a 2xx. */
function answersOnSocket(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let got = "";
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(5000, () => done(false));
    s.on("error", () => done(false));
    s.on("connect", () => s.write(`GET ${PEER_PATH.alive} HTTP/1.1\r\nHost: runner\r\nConnection: close\r\n\r\n`));
    s.on("data", (d) => {
      got += d;
      if (got.includes("\r\n")) done(/^HTTP\/1\.1 2\d\d/.test(got));
    });
    s.on("end", () => done(false));
  });
}
