/**
 * Where things are on the head node: the state directory `npm start` keeps (D1, keys, client
 * credentials) and the URL of the API it serves, so commands (`npm run token`, `clients`,
 * `watch`) find it whatever HOST and PORT it used.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../head-node/api-runner/wrangler-config";

export function stateDirOf(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.OCHAMI_STATE_DIR ?? path.join(repoRoot, ".state"));
}

const apiFile = (stateDir: string) => path.join(stateDir, "api.json");

/** Recorded by `npm start` once it serves. */
export function recordApiUrl(stateDir: string, url: string) {
  writeFileSync(apiFile(stateDir), JSON.stringify({ url: localUrl(url) }) + "\n", { mode: 0o600 });
}

/** A listen URL as a local client reaches it: the wildcard address becomes loopback. */
export function localUrl(url: string): string {
  const u = new URL(url);
  if (u.hostname === "0.0.0.0") u.hostname = "127.0.0.1";
  if (u.hostname === "[::]") u.hostname = "[::1]";
  return u.origin;
}

/** OCHAMI_URL, else what `npm start` recorded, else the default listen address. */
export function apiUrlOf(stateDir: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.OCHAMI_URL) return env.OCHAMI_URL.replace(/\/+$/, "");
  if (existsSync(apiFile(stateDir))) {
    try {
      return JSON.parse(readFileSync(apiFile(stateDir), "utf8")).url;
    } catch {
      /* fall through */
    }
  }
  return `http://127.0.0.1:${env.PORT ?? 8081}`;
}
