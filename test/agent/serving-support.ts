/** Shared by the TFTP and image-server tests: a log that records, real client processes, digests. */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import type { Logger } from "../../onprem-agent/log";

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
  return createHash("sha256")
    .update(typeof data === "string" ? readFileSync(data) : data)
    .digest("hex");
}

export interface CurlResponse {
  code: number;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  stderr: string;
}

let dumpCounter = 0;

/** One HTTP exchange made by curl; headers lower-cased (the last response's, if several). */
export async function curlHttp(url: string, args: string[] = [], timeoutMs = 60_000): Promise<CurlResponse> {
  const dir = mkdtempSync(`${tmpdir()}/ti-curl-${dumpCounter++}-`);
  try {
    const r = await run("curl", ["-sS", "--dump-header", `${dir}/h`, ...args, url], timeoutMs);
    let raw = "";
    try {
      raw = readFileSync(`${dir}/h`, "latin1");
    } catch {
      // no response at all
    }
    const blocks = raw.split(/\r\n\r\n/).filter((b) => b.trim());
    const last = blocks.at(-1) ?? "";
    const [statusLine, ...lines] = last.split("\r\n");
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const i = line.indexOf(":");
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    return { code: r.code, status: Number(statusLine?.split(" ")[1] ?? 0), headers, body: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
