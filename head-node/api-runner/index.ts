import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Config, serializeConfig } from "miniflare";
import { checkConfig } from "../../workers/config";
import { bundleWorker } from "./bundle";
import { applyMigrations } from "./migrate";
import { buildApiConfig, buildDatabaseConfig } from "./workerd-config";
import { readWorkerSettings } from "./wrangler-config";

const require = createRequire(import.meta.url);

export interface ApiServerOptions {
  host?: string;
  port?: number;
  stateDir: string;
  /** Worker variables; merged over wrangler.toml's [vars]. */
  vars?: Record<string, string>;
  /**
   * Addresses the worker's fetch() may reach: "public" (workerd's default, against SSRF) or
   * "private" (also LAN and loopback), needed when an external token issuer's JWKS URL is on the
   * site network.
   */
  outbound?: "public" | "private";
  /** Called with each line workerd writes (its console.log and errors). */
  onLog?: (line: string) => void;
}

/**
 * Worker settings this runner implies. OCHAMI_BOOT_SNAPSHOT=exclusive: the API process is the
 * database's only client (its one isolate writes through the API; a second workerd on the same
 * files is refused by SQLite's lock), so checking the snapshot after its own writes is exact.
 */
const RUNNER_DEFAULTS = { OCHAMI_BOOT_SNAPSHOT: "exclusive" };

export interface ApiServer {
  url: string;
  /** The workerd process serving the API. */
  process: ChildProcess;
  /** The workerd process holding the database. */
  databaseProcess: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Serves the worker under workerd on a persisted local D1: bundle, migrate, spawn the database
 * process and the API process (workerd-config.ts says why two), wait until it answers. Used by
 * `npm start`, the node-side tests and the benchmarks, so all three run exactly what production runs.
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
  const log = opts.onLog ?? ((line: string) => process.stderr.write(`${line}\n`));
  // A socket path must stay under ~100 bytes, so it lives in a private temp directory rather than
  // under a state directory of any length; mode 0700 keeps other users from connecting.
  const socketDir = mkdtempSync(path.join(tmpdir(), "ochami-d1-"));
  const socket = path.join(socketDir, "d1.sock");
  const database = spawnWorkerd(buildDatabaseConfig(settings, { stateDir: opts.stateDir, socket }), log);
  let api: Workerd | undefined;
  const stop = async () => {
    await api?.stop();
    await database.stop();
    rmSync(socketDir, { recursive: true, force: true });
  };
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  try {
    await waitForSocket(socket, database);
    api = spawnWorkerd(buildApiConfig(settings, { host, port, workerScript, vars, outbound: opts.outbound, databaseSocket: socket }), log);
    await waitUntilServing(url, api);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, process: api.child, databaseProcess: database.child, stop };
}

interface Workerd {
  child: ChildProcess;
  done(): boolean;
  stop(): Promise<void>;
}

function spawnWorkerd(config: Config, log: (line: string) => void): Workerd {
  const workerd: string = require("workerd").default ?? require("workerd");
  const child = spawn(workerd, ["serve", "--binary", "--experimental", "-"], { stdio: ["pipe", "pipe", "pipe"] });
  child.stdin!.end(Buffer.from(serializeConfig(config)));
  for (const stream of [child.stdout!, child.stderr!]) {
    let buf = "";
    stream.on("data", (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        log(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  let finished = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      finished = true;
      resolve(code);
    }),
  );
  return {
    child,
    done: () => finished,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function waitForSocket(socket: string, owner: Workerd, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(socket)) {
    if (owner.done()) throw new Error("the database workerd exited before it started serving (see its output above)");
    if (Date.now() > deadline) throw new Error(`the database workerd did not open ${socket} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function waitUntilServing(url: string, api: Workerd, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (api.done()) throw new Error("workerd exited before it started serving (see its output above)");
    try {
      const res = await fetch(`${url}/hsm/v2/service/liveness`);
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`workerd did not answer on ${url} within ${timeoutMs} ms`);
}
