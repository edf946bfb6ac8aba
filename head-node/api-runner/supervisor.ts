/**
 * One workerd process kept running: started, watched, and restarted with backoff when it exits
 * on its own (a crash, an OOM kill, someone's `kill -9`). Each exit is reported with its cause —
 * exit code or signal, and the last lines the process printed — and each return to service with
 * how long it was down. Only stop() ends it.
 */
import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { existsSync } from "node:fs";
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

  /** Restarts the process when it exits on its own. */
  private watch(child: ChildProcess) {
    this.upSince = Date.now();
    // "close", not "exit": its output is drained by then, so the report has its last lines.
    child.once("close", (code, signal) => {
      if (this.stopping || child !== this.current) return;
      if (Date.now() - this.upSince >= HEALTHY_AFTER_MS) this.crashes = 0;
      if (!this.downSince) this.downSince = Date.now();
      this.crashed(`exited ${describeExit(code, signal)}`, child.pid);
    });
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
