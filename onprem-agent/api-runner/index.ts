import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { serializeConfig } from "miniflare";
import { bundleWorker } from "./bundle";
import { applyMigrations } from "./migrate";
import { buildWorkerdConfig } from "./workerd-config";
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

export interface ApiServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Serves the worker under workerd on a persisted local D1: bundle, migrate, spawn, wait until it
 * answers. Used by `npm start`, the node-side tests and the benchmarks, so all three run exactly
 * what production runs.
 */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const host = opts.host ?? "127.0.0.1";
  const port = opts.port ?? 8081;
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  const settings = readWorkerSettings();
  const [workerScript] = await Promise.all([bundleWorker(settings.main), applyMigrations(opts.stateDir, settings.d1Binding)]);
  const config = buildWorkerdConfig(settings, {
    host,
    port,
    stateDir: opts.stateDir,
    workerScript,
    vars: { ...settings.vars, ...opts.vars },
    outbound: opts.outbound,
  });
  const workerd: string = require("workerd").default ?? require("workerd");
  const child = spawn(workerd, ["serve", "--binary", "--experimental", "-"], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  child.stdin!.end(Buffer.from(serializeConfig(config as any)));
  const log = opts.onLog ?? ((line: string) => process.stderr.write(line + "\n"));
  for (const stream of [child.stdout!, child.stderr!]) {
    let buf = "";
    stream.on("data", (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        log(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
  }
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitUntilServing(url, exited);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, process: child, stop };
}

async function waitUntilServing(url: string, exited: Promise<number | null>, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let done = false;
  exited.then(() => (done = true));
  while (Date.now() < deadline) {
    if (done) throw new Error("workerd exited before it started serving (see its output above)");
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
