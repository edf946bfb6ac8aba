/**
 * The real `npm start` for tests, as an admin runs it: npm in its own process group (so the test
 * can see everything it started), its output awaited line by line, the workerd processes it runs
 * found through its runtime directory's owner record, and a stop that reports what was left.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import { repoRoot } from "../../shared/head-node-state";
import { ProcessOutput } from "../support/output";
import { waitFor } from "../support/wait";

export interface NpmStart {
  proc: ChildProcess;
  out: ProcessOutput;
  output(): string;
  exited: Promise<number | null>;
}

/**
 * One API process unless a test says otherwise: the default follows the machine's cores, and the
 * tests name "the API workerd" and its pid.
 */
const withDefaults = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv => ({ OCHAMI_API_PROCESSES: "1", ...env });

/** `npm start`, until `ready` (by default its listener lines) is printed; killed if it is not. */
export async function npmStart(env: NodeJS.ProcessEnv, ready: RegExp = /^ {2}database\s+unix:/m): Promise<NpmStart> {
  const proc = spawn("npm", ["start"], { cwd: repoRoot, env: withDefaults(env), stdio: ["ignore", "pipe", "pipe"], detached: true });
  const out = new ProcessOutput(proc);
  const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
  try {
    await out.until(ready, 200_000, `npm start's ${ready}`);
  } catch (err) {
    process.kill(-proc.pid!, "SIGKILL");
    throw err;
  }
  return { proc, out, output: () => out.text, exited };
}

/** `npm start` to its end: exit code and everything it printed (for starts that must fail). */
export function npmStartToEnd(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn("npm", ["start"], { cwd: repoRoot, env: withDefaults(env), stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    proc.stdout.on("data", (d) => (output += d));
    proc.stderr.on("data", (d) => (output += d));
    proc.on("error", reject);
    proc.on("close", (code) => resolve({ code, output }));
  });
}

export interface Runtime {
  dir: string;
  socket: string;
  /** The runner (npm start's node process). */
  owner: number;
  api: number;
  database: number;
}

/** The runtime directory this start printed, and the processes its owner record names now. */
export function runtimeOf(started: NpmStart): Runtime {
  const socket = /^ {2}database\s+unix:(\S+)/m.exec(started.output())?.[1];
  if (!socket) throw new Error(`npm start printed no database socket:\n${started.output()}`);
  const dir = path.dirname(socket);
  const record = JSON.parse(readFileSync(path.join(dir, "owner.json"), "utf8"));
  return { dir, socket, owner: record.owner.pid, api: record.workerd.api.pid, database: record.workerd.database.pid };
}

export const isRunning = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readSafe(`/proc/${pid}/status`));

function readSafe(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

/**
 * Processes still running in the group (npm, node join it; workerd runs in groups of its own).
 * Zombies are left out: an exited child whose parent exited first (tsx's esbuild service) is
 * reaped by init, and on a container whose PID 1 does not reap it shows as <defunct> while
 * holding nothing.
 */
export function groupMembers(pgid: number): string[] {
  const ps = execFileSync("ps", ["-eo", "pgid=,pid=,args="], { encoding: "utf8" });
  return ps
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.split(/\s+/)[0] === String(pgid) && !l.endsWith("<defunct>"));
}

/**
 * Sends `signal` to npm (as a terminal's Ctrl-C or a service manager's stop does) and waits for
 * the end. `left`: processes of the group, and workerd processes of this start, still running
 * after it ended.
 */
export async function stopWith(started: NpmStart, signal: NodeJS.Signals): Promise<{ code: number | null; left: string[] }> {
  const pgid = started.proc.pid!;
  let workerd: number[] = [];
  try {
    const r = runtimeOf(started);
    workerd = [r.api, r.database];
  } catch {
    // it printed no runtime directory: it started no workerd
  }
  process.kill(pgid, signal);
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([started.exited, new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), 30_000)))]);
  clearTimeout(timer);
  // npm is gone; what it started must be too. A process still exiting (tsx's esbuild service
  // ends when its parent's pipe closes) gets until the deadline; one left running is still there
  // then, and is what this reports.
  let left: string[] = [];
  const emptied = () => {
    left = [...groupMembers(pgid), ...workerd.filter(isRunning).map((pid) => `workerd ${pid}`)];
    return left.length === 0;
  };
  await waitFor(emptied, 5_000, "npm start's processes to end").catch(() => {});
  if (left.length) {
    process.kill(-pgid, "SIGKILL");
    for (const pid of workerd.filter(isRunning)) process.kill(pid, "SIGKILL");
  }
  return { code: code === "hung" ? -1 : code, left };
}

/** How a new TCP connection to `port` fares: "refused", "reset", "answered" (an HTTP status line) or "timeout". */
export function connectOutcome(port: number, timeoutMs = 2000): Promise<{ outcome: string; ms: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let got = "";
    const done = (outcome: string) => {
      s.destroy();
      resolve({ outcome, ms: Date.now() - t0 });
    };
    s.setTimeout(timeoutMs, () => done("timeout"));
    s.on("connect", () => s.write("GET /hsm/v2/service/liveness HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n"));
    s.on("data", (d) => (got += d));
    s.on("error", (err: NodeJS.ErrnoException) =>
      done(err.code === "ECONNREFUSED" ? "refused" : err.code === "ECONNRESET" ? "reset" : String(err.code)),
    );
    s.on("close", () => done(/^HTTP\/1\.1 \d+/.test(got) ? "answered" : "closed"));
  });
}
