/** Shared by the TFTP and image-server tests: a log that records, real client processes, digests. */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Logger } from "../../onprem-agent/service-deps";

export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  obj: Record<string, unknown>;
}

/** A pino-shaped logger that keeps every line for assertions (and prints errors, which are bugs). */
export function captureLog(): { log: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry["level"]) => (obj: object, msg: string) => {
    entries.push({ level, msg, obj: obj as Record<string, unknown> });
    if (level === "error") console.error(msg, obj);
  };
  return { log: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") }, entries };
}

export interface RunResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** Runs a real client (curl, atftp) to completion; never rejects, so tests can assert on failures. */
export function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: "buffer", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout, stderr: stderr.toString() });
    });
  });
}

export function sha256(data: Buffer | string): string {
  return createHash("sha256").update(typeof data === "string" ? readFileSync(data) : data).digest("hex");
}

export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
