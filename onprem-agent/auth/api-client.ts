import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../api-runner/wrangler-config";

/**
 * How commands on the head node reach the running API: tokens come over HTTP from the token
 * endpoint with the stored admin credential (the local D1 file is held by workerd while
 * `npm start` runs, so nothing may open it directly).
 */
export function stateDirOf(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.OCHAMI_STATE_DIR ?? path.join(repoRoot, ".state"));
}

const apiFile = (stateDir: string) => path.join(stateDir, "api.json");

/** Recorded by `npm start` once it serves, so commands find it whatever HOST and PORT it used. */
export function recordApiUrl(stateDir: string, url: string) {
  const u = new URL(url);
  if (u.hostname === "0.0.0.0") u.hostname = "127.0.0.1";
  if (u.hostname === "[::]") u.hostname = "[::1]";
  writeFileSync(apiFile(stateDir), JSON.stringify({ url: u.origin }) + "\n", { mode: 0o600 });
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

export class CommandError extends Error {}

async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
    throw new CommandError(`cannot reach the API at ${new URL(url).origin} (${cause}); is \`npm start\` running? (OCHAMI_URL selects another)`);
  }
}

/** A client-credentials grant; returns the token response. */
export async function requestToken(apiUrl: string, clientId: string, secret: string, scope?: string) {
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (scope) form.set("scope", scope);
  const res = await send(`${apiUrl}/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: form.toString(),
  });
  const body = (await res.json().catch(() => ({}))) as Record<string, any>;
  if (res.status !== 200) throw new CommandError(`token endpoint answered ${res.status}: ${body.error ?? ""} ${body.error_description ?? ""}`.trim());
  return body as { access_token: string; expires_in: number; scope: string; token_type: string };
}

/** A JSON request with a bearer token; problem+json errors become a CommandError with their detail. */
export async function apiJson(apiUrl: string, token: string, method: string, pathname: string, json?: unknown): Promise<any> {
  const res = await send(`${apiUrl}${pathname}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { "content-type": "application/json" }) },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const text = await res.text();
  const body = text ? JSON.parse(text) : undefined;
  if (!res.ok) throw new CommandError(`${method} ${pathname} answered ${res.status}: ${body?.detail ?? text}`);
  return body;
}
