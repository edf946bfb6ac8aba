import type { ChildProcess } from "node:child_process";
import type { Readable } from "node:stream";

/**
 * What a child process prints, and waiting for a line of it: `until()` checks the output on every
 * chunk as it arrives (no polling) and settles as soon as it matches; it fails when the process
 * ends first or at the deadline, with what the process printed.
 */
export class ProcessOutput {
  private chunks = "";
  private ended?: string;
  private readonly checks = new Set<() => void>();

  constructor(proc: ChildProcess, streams: Readable[] = [proc.stdout!, proc.stderr!].filter(Boolean)) {
    for (const s of streams)
      s.on("data", (d: Buffer | string) => {
        this.chunks += d;
        this.wake();
      });
    // "close", not "exit": by then every stream is drained, so the last lines are in.
    proc.once("close", (code, signal) => {
      this.ended = code !== null ? `exit code ${code}` : `signal ${signal}`;
      this.wake();
    });
  }

  get text(): string {
    return this.chunks;
  }

  /** Resolves with the match once the output matches `pattern`. */
  until(pattern: RegExp | string, timeoutMs: number, what = String(pattern)): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const tail = () => this.chunks.slice(-4000);
      const settle = (f: () => void) => {
        clearTimeout(timer);
        this.checks.delete(check);
        f();
      };
      const check = () => {
        const m = typeof pattern === "string" ? (this.chunks.includes(pattern) ? [pattern] : null) : this.chunks.match(pattern);
        if (m) settle(() => resolve(m as RegExpMatchArray));
        else if (this.ended) settle(() => reject(new Error(`the process ended (${this.ended}) before ${what}; it printed:\n${tail()}`)));
      };
      const timer = setTimeout(
        () => settle(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the process printed:\n${tail()}`))),
        timeoutMs,
      );
      this.checks.add(check);
      check();
    });
  }

  private wake(): void {
    for (const check of [...this.checks]) check();
  }
}
