import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { repoRoot } from "../../shared/head-node-state";
import { ProcessOutput } from "../support/output";

/** Helpers for tests that run `npm start` and the commands of the head node as real processes. */

/**
 * The environment without the caller's OCHAMI_*, *_ACCESS_TOKEN and XDG_* (the CLI's
 * configuration and token cache follow HOME: tests that run it pass their own), plus `extra`.
 * HTTPS listens on any free port (OCHAMI_TLS_PORT=0) unless `extra` says otherwise: 8443 may be
 * taken by another start on this machine.
 */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("OCHAMI_") && !k.endsWith("_ACCESS_TOKEN") && !k.startsWith("XDG_")) env[k] = v;
  return { ...env, OCHAMI_TLS_PORT: "0", ...extra };
}

export interface Started {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** `npm start` (its entry point under tsx), until it reports auth status; rejects if it exits first. */
export async function startHeadNode(env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Started> {
  const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");
  const proc = spawn(tsx, ["head-node/start.ts"], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  const output = new ProcessOutput(proc);
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await output.until(/auth: (on\.|OFF)/, timeoutMs, "npm start's auth status line");
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, output: () => output.text, stop };
}

/** Runs `npm run --silent <script> -- args` and returns its exit code and streams. */
export function npmRun(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn("npm", ["run", "--silent", script, ...(args.length ? ["--", ...args] : [])], {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (d) => (stdout += d));
    proc.stderr.on("data", (d) => (stderr += d));
    proc.on("error", reject);
    proc.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
