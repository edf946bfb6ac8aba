/**
 * Where `npm start` keeps its state on the head node, and how other processes on it (the `ochami`
 * CLI) find that head node: the state directory (`OCHAMI_STATE_DIR`, default `<checkout>/.state`),
 * `api.json` (the URL `npm start` serves and when it started, written at each start) and the
 * bootstrap admin client in `auth/admin-client.json`. head-node/ writes them; cli/ reads them.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * The checkout `npm start` runs from. Sources run from it (this file is in <checkout>/shared); the
 * CLI runs as a bundle elsewhere (dist/cli/…, or the user's cache), so its build defines the path.
 */
declare const OCHAMI_CHECKOUT: string | undefined;
export const repoRoot = typeof OCHAMI_CHECKOUT === "string" ? OCHAMI_CHECKOUT : path.resolve(import.meta.dirname, "..");

export function stateDirOf(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.OCHAMI_STATE_DIR || path.join(repoRoot, ".state"));
}

export const authDirOf = (stateDir: string) => path.join(stateDir, "auth");
export const adminCredentialFile = (stateDir: string) => path.join(authDirOf(stateDir), "admin-client.json");
const apiFile = (stateDir: string) => path.join(stateDir, "api.json");

/** The bootstrap admin client `npm start` creates on its first start (0600). */
export interface AdminCredential {
  client_id: string;
  client_secret: string;
  secret_hash: string;
  scope: string;
  created_at: string;
}

export function readAdminCredential(stateDir: string): AdminCredential {
  const file = adminCredentialFile(stateDir);
  try {
    return JSON.parse(readFileSync(file, "utf8")) as AdminCredential;
  } catch (err) {
    throw new Error(`cannot read the head node's admin client ${file}: ${(err as Error).message}`);
  }
}

/** Recorded by `npm start` once it serves. */
export function recordApiUrl(stateDir: string, url: string, startedAt = new Date()) {
  writeFileSync(apiFile(stateDir), `${JSON.stringify({ url: localUrl(url), started_at: startedAt.toISOString() })}\n`, { mode: 0o600 });
}

/** A listen URL as a local client reaches it: the wildcard address becomes loopback. */
export function localUrl(url: string): string {
  const u = new URL(url);
  if (u.hostname === "0.0.0.0") u.hostname = "127.0.0.1";
  if (u.hostname === "[::]") u.hostname = "[::1]";
  return u.origin;
}

export interface LocalHeadNode {
  stateDir: string;
  /** OCHAMI_URL, else what `npm start` recorded. */
  url: string;
  /** Epoch ms of the last start: keys rotated or pruned since (npm run keys) apply from then on. */
  startedAt: number;
}

/** The head node of this machine, when `npm start` has run here (its api.json exists and is readable). */
export function findHeadNode(env: NodeJS.ProcessEnv = process.env): LocalHeadNode | undefined {
  const stateDir = stateDirOf(env);
  let recorded: { url?: unknown; started_at?: unknown };
  try {
    recorded = JSON.parse(readFileSync(apiFile(stateDir), "utf8"));
  } catch {
    return undefined;
  }
  if (typeof recorded.url !== "string") return undefined;
  const startedAt = typeof recorded.started_at === "string" ? Date.parse(recorded.started_at) : Number.NaN;
  return {
    stateDir,
    url: env.OCHAMI_URL ? env.OCHAMI_URL.replace(/\/+$/, "") : recorded.url,
    startedAt: Number.isFinite(startedAt) ? startedAt : 0,
  };
}
