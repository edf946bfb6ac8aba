/**
 * One workerd process kept running: started, watched, and restarted with backoff when it exits
 * on its own (a crash, an OOM kill, someone's `kill -9`). Each exit is reported with its cause —
 * exit code or signal, and the last lines the process printed — and each return to service with
 * how long it was down. Only stop() ends it.
 */
import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { type Config, serializeConfig } from "miniflare";

const require = createRequire(import.meta.url);

/** Delays before restart n (1, 2, ...): doubling from 0.5 s up to 30 s. */
export const RESTART_DELAYS_MS = [500, 1000, 2000, 4000, 8000, 16_000, 30_000];
/** A process that served this long is healthy again: its next crash restarts it after the first delay. */
export const HEALTHY_AFTER_MS = 60_000;
/** Lines of output kept per process, to report with its exit. */
const TAIL_LINES = 12;

/**
 * workerd ends with its parent when the platform allows (Linux's parent-death signal, set through
 * util-linux's setpriv before exec): a runner killed with SIGKILL then leaves no workerd behind
 * holding its port and database. Where setpriv is missing, the next start sweeps them instead
 * (runtime-dir.ts).
 */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

export interface SupervisorOptions {
  /** "API" or "database": how messages name the process. */
  role: string;
  config: Config;
  /** Resolves once the process serves; rejects (or the process exits) when it cannot. */
  ready(child: ChildProcess): Promise<void>;
  /** Runs before each restart (e.g. removing a stale socket file). */
  beforeRestart?(): void;
  /** Each line the process prints. */
  onLog(line: string): void;
  /** What the supervisor has to say: exits, restarts, returns to service. */
  onNotice(line: string): void;
  /** After each (re)start, with the new process. */
  onStarted?(child: ChildProcess): void;
  /** How long stop() waits after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
  /** Listening sockets the runner holds, handed to each process for the config's socket of that name. */
  sockets?: Array<{ name: string; fd: number }>;
  /**
   * A ceiling on the process's resident memory, in MB, and the setting that sets it: over it, the
   * process is stopped (finishing what is in flight) and started again at once.
   */
  memoryLimit?: { mb: number; setting: string; everyMs?: number };
  /**
   * A process that runs but is stuck (a stalled disk under SQLite, a loop) never exits, and every
   * request that needs it waits for ever. `alive` is asked every LIVENESS_EVERY_MS (one at a time);
   * a process that has answered none for `stuckAfterMs` is killed (SIGKILL: a stuck process may not
   * act on SIGTERM) and restarted as after a crash.
   */
  liveness?: { alive(child: ChildProcess): Promise<boolean>; stuckAfterMs: number };
}

/** How often a process with a liveness probe is asked. */
const LIVENESS_EVERY_MS = 1_000;

/** How often the resident memory of a process with a ceiling is read. */
const MEMORY_CHECK_MS = 10_000;

/** Resident memory of a process in MB (VmRSS), or undefined when it is gone. */
export function residentMb(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return kb === undefined ? undefined : Math.round(Number(kb) / 1024);
  } catch {
    return undefined;
  }
}

export class WorkerdSupervisor {
  private current?: ChildProcess;
  private tail: string[] = [];
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  /** Crashes since the process last stayed up for HEALTHY_AFTER_MS. */
  private crashes = 0;
  private upSince = 0;
  private downSince = 0;
  private memoryTimer?: NodeJS.Timeout;
  /** The process being stopped for its memory: its exit is a planned restart, not a crash. */
  private recycling?: ChildProcess;
  private livenessTimer?: NodeJS.Timeout;
  /** The process killed for answering nothing, and for how long it had not. */
  private stuck?: { child: ChildProcess; seconds: number };

  constructor(private readonly opts: SupervisorOptions) {}

  get child(): ChildProcess {
    if (!this.current) throw new Error(`the ${this.opts.role} workerd has not started`);
    return this.current;
  }

  /** The process serving now, when one is (none between a crash and its restart). */
  running(): ChildProcess | undefined {
    const c = this.current;
    return c && c.exitCode === null && c.signalCode === null ? c : undefined;
  }

  /** The first start: rejects, with the process's own words, when it does not come up. */
  async start(): Promise<void> {
    const child = this.spawn();
    try {
      await this.opts.ready(child);
    } catch (err) {
      await this.kill(child);
      const output = this.tail.length ? `; it printed:\n${this.tail.map((l) => `  | ${l}`).join("\n")}` : "";
      throw new Error(`${(err as Error).message}${output}`, { cause: err });
    }
    this.watch(child);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    clearInterval(this.memoryTimer);
    clearInterval(this.livenessTimer);
    if (this.current) await this.kill(this.current, this.opts.stopGraceMs ?? 5000);
  }

  private spawn(): ChildProcess {
    const workerd: string = require("workerd").default ?? require("workerd");
    const sockets = this.opts.sockets ?? [];
    const args = ["serve", "--binary", "--experimental", ...sockets.map((s, i) => `--socket-fd=${s.name}=${3 + i}`), "-"];
    // detached: a terminal's Ctrl-C goes to the runner only, which stops the processes in order
    // (API, then database) instead of all at once.
    const options = { stdio: ["pipe", "pipe", "pipe", ...sockets.map((s) => s.fd)] as StdioOptions, detached: true };
    const child = SETPRIV ? spawn(SETPRIV, ["--pdeathsig", "SIGTERM", "--", workerd, ...args], options) : spawn(workerd, args, options);
    // A spawn that fails (no such program) is reported like an exit: in its output, then "exit".
    child.on("error", (err) => this.line(`cannot run ${workerd}: ${err.message}`));
    child.stdin!.on("error", () => {}); // a process that dies at once closes its stdin under us
    child.stdin!.end(Buffer.from(serializeConfig(this.opts.config)));
    this.tail = [];
    for (const stream of [child.stdout!, child.stderr!]) {
      let buf = "";
      stream.on("data", (d: Buffer) => {
        buf += d.toString();
        for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
          this.line(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
      stream.on("end", () => {
        if (buf) this.line(buf);
        buf = "";
      });
    }
    this.current = child;
    this.opts.onStarted?.(child);
    return child;
  }

  private line(text: string) {
    this.tail.push(text);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    this.opts.onLog(text);
  }

  /** Restarts the process when it exits on its own, or once it is over its memory ceiling. */
  private watch(child: ChildProcess) {
    this.upSince = Date.now();
    // "close", not "exit": its output is drained by then, so the report has its last lines.
    child.once("close", (code, signal) => {
      clearInterval(this.memoryTimer);
      clearInterval(this.livenessTimer);
      if (this.stopping || child !== this.current) return;
      if (!this.downSince) this.downSince = Date.now();
      if (this.recycling === child) {
        this.recycling = undefined;
        void this.restart();
        return;
      }
      if (Date.now() - this.upSince >= HEALTHY_AFTER_MS) this.crashes = 0;
      const stuck = this.stuck?.child === child ? this.stuck.seconds : undefined;
      this.crashed(
        stuck === undefined ? `exited ${describeExit(code, signal)}` : `was stuck: it answered nothing for ${stuck} s`,
        child.pid,
      );
    });
    this.watchLiveness(child);
    const limit = this.opts.memoryLimit;
    if (!limit?.mb) return;
    this.memoryTimer = setInterval(() => {
      const mb = child.pid === undefined ? undefined : residentMb(child.pid);
      if (mb === undefined || mb <= limit.mb || this.recycling || this.stopping) return;
      clearInterval(this.memoryTimer);
      this.recycling = child;
      this.opts.onNotice(
        `the ${this.opts.role} workerd (pid ${child.pid}) uses ${mb} MB, over its ceiling of ${limit.mb} MB (${limit.setting}): restarting it`,
      );
      void this.kill(child, this.opts.stopGraceMs ?? 5000);
    }, limit.everyMs ?? MEMORY_CHECK_MS);
    this.memoryTimer.unref();
  }

  private watchLiveness(child: ChildProcess) {
    const liveness = this.opts.liveness;
    if (!liveness) return;
    let answeredAt = Date.now();
    let asking = false;
    this.livenessTimer = setInterval(async () => {
      if (asking || this.stopping || child !== this.current) return;
      asking = true;
      const alive = await liveness.alive(child).catch(() => false);
      asking = false;
      if (alive) answeredAt = Date.now();
      const silent = Date.now() - answeredAt;
      if (alive || silent < liveness.stuckAfterMs || this.stopping || child !== this.current || this.stuck?.child === child) return;
      clearInterval(this.livenessTimer);
      this.stuck = { child, seconds: Math.round(silent / 1000) };
      this.opts.onNotice(`the ${this.opts.role} workerd (pid ${child.pid}) has answered nothing for ${this.stuck.seconds} s: killing it`);
      child.kill("SIGKILL");
    }, LIVENESS_EVERY_MS);
    this.livenessTimer.unref();
  }

  private crashed(what: string, pid: number | undefined) {
    this.crashes++;
    const delay = RESTART_DELAYS_MS[Math.min(this.crashes, RESTART_DELAYS_MS.length) - 1];
    const last = this.tail.length ? `; its last output:\n${this.tail.map((l) => `  | ${l}`).join("\n")}` : " (it printed nothing)";
    const repeat = this.crashes > 1 ? ` (${this.crashes} times in a row)` : "";
    this.opts.onNotice(`the ${this.opts.role} workerd (pid ${pid}) ${what}${repeat}${last}`);
    this.opts.onNotice(`restarting the ${this.opts.role} workerd in ${delay / 1000} s`);
    this.restartTimer = setTimeout(() => void this.restart(), delay);
  }

  private async restart() {
    if (this.stopping) return;
    this.opts.beforeRestart?.();
    const child = this.spawn();
    try {
      await this.opts.ready(child);
    } catch (err) {
      if (this.stopping) return;
      await this.kill(child);
      if (!this.stopping) this.crashed((err as Error).message, child.pid);
      return;
    }
    if (this.stopping) return;
    const down = ((Date.now() - this.downSince) / 1000).toFixed(1);
    this.downSince = 0;
    this.opts.onNotice(`the ${this.opts.role} workerd is back (pid ${child.pid}, down ${down} s)`);
    this.watch(child);
  }

  /** Ends `child` (SIGTERM, SIGKILL after `graceMs`) and resolves once its output is drained too. */
  private async kill(child: ChildProcess, graceMs = 5000) {
    const closed = new Promise<void>((resolve) => {
      if (child.stdout?.closed && child.stderr?.closed && (child.exitCode !== null || child.signalCode !== null)) resolve();
      else child.once("close", () => resolve());
    });
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await closed;
    clearTimeout(timer);
  }
}

export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `on signal ${signal}` : `with code ${code}`;
}
