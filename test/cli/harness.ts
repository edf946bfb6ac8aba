import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { authVars, ensureAuthState } from "../../head-node/auth-state";
import { repoRoot } from "../../shared/head-node-state";
import { freePort } from "../head-node/ports";

/**
 * Test support for the `ochami` CLI: a real API (workerd + D1, auth on) on loopback, and the CLI
 * run as an admin runs it — `node bin/ochami.mjs` (what `npx ochami` execs) as a child process
 * with its own HOME, so configuration, credentials and the token cache are the test's.
 */
export const OCHAMI_BIN = path.join(repoRoot, "bin", "ochami.mjs");

export interface TestApi {
  url: string;
  stateDir: string;
  admin: { client_id: string; client_secret: string };
  stop(): Promise<void>;
}

export async function startTestApi(vars: Record<string, string> = {}): Promise<TestApi> {
  const stateDir = mkdtempSync(path.join(tmpdir(), "cl-api-"));
  const auth = await ensureAuthState(stateDir);
  let api: ApiServer;
  try {
    api = await startApiServer({ port: await freePort(), stateDir, vars: { ...authVars(auth), ...vars }, onLog: () => {} });
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: api.url,
    stateDir,
    admin: { client_id: auth.admin.client_id, client_secret: auth.admin.client_secret },
    stop: async () => {
      await api.stop();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface Home {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Writes a file under the home directory; returns its path. */
  file(rel: string, text: string, mode?: number): string;
  remove(): void;
}

/**
 * A fresh HOME (and system config path) with nothing of the caller's OCHAMI_* or *_ACCESS_TOKEN,
 * and a state directory with no head node in it: the checkout's own `npm start` state must not
 * stand in for the cluster a test configures (or leaves unconfigured).
 */
export function makeHome(extra: Record<string, string> = {}): Home {
  const dir = mkdtempSync(path.join(tmpdir(), "cl-home-"));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("OCHAMI_") && !k.endsWith("_ACCESS_TOKEN") && !k.startsWith("XDG_") && k !== "rf_pass") env[k] = v;
  Object.assign(
    env,
    {
      HOME: dir,
      OCHAMI_SYSTEM_CONFIG: path.join(dir, "etc", "ochami", "config.yaml"),
      OCHAMI_STATE_DIR: path.join(dir, "no-head-node"),
      NO_COLOR: "1",
    },
    extra,
  );
  return {
    dir,
    env,
    file(rel, text, mode = 0o644) {
      const p = path.join(dir, rel);
      mkdirSync(path.dirname(p), { recursive: true });
      writeFileSync(p, text, { mode });
      return p;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `ochami <args>`; `prefix` runs it under another program (e.g. faketime). */
export function ochami(
  args: string[],
  opts: { env: NodeJS.ProcessEnv; input?: string; prefix?: string[]; cwd?: string; timeoutMs?: number },
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const argv = [...(opts.prefix ?? []), process.execPath, OCHAMI_BIN, ...args];
    const proc = spawn(argv[0], argv.slice(1), {
      env: opts.env,
      cwd: opts.cwd ?? opts.env.HOME,
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    proc.stdout!.on("data", (d) => (stdout += d));
    proc.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs ?? 30_000);
    proc.on("error", reject);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) proc.stdin!.end(opts.input);
  });
}

/** A home configured for `api` as cluster demo, logged in with the admin client (tokens automatic). */
export async function loggedInHome(api: TestApi, extra: Record<string, string> = {}): Promise<Home> {
  const home = makeHome(extra);
  const set = await ochami(["config", "cluster", "set", "--default", "demo", "cluster.uri", api.url], { env: home.env });
  if (set.code !== 0) throw new Error(`config cluster set failed: ${set.stderr}`);
  const secret = home.file("admin.secret", `${api.admin.client_secret}\n`, 0o600);
  const login = await ochami(["auth", "login", "--client-id", api.admin.client_id, "--secret-file", secret], { env: home.env });
  if (login.code !== 0) throw new Error(`auth login failed: ${login.stderr}`);
  return home;
}
