import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../workers/index";

/**
 * Calls the worker's fetch handler (the module workerd serves) inside workerd, with the test
 * env, and waits for its `waitUntil` work (e.g. boot-history writes) before returning.
 * Not `exports.default.fetch`: in pool-workers 0.15 each such call leaves state behind and
 * requests slow down from ~2 ms to ~60 ms after a few hundred.
 */
export async function api(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const { json, ...rest } = init;
  const body = json === undefined ? rest.body : typeof json === "string" ? json : JSON.stringify(json);
  return dispatch(new Request(`http://ochami.test${path}`, { ...rest, body }));
}

export async function dispatch(req: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(req as any, env as any, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export async function getJson<T = any>(path: string, init?: RequestInit): Promise<{ status: number; body: T; res: Response }> {
  const res = await api(path, init);
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body, res };
}

export async function send<T = any>(method: string, path: string, json?: unknown, headers: Record<string, string> = {}) {
  const res = await api(path, { method, json, headers });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: body as T, res, text };
}

/** Asserts an RFC 7807 body with the given status and (exact) detail. */
export function problemOf(r: { status: number; body: any; res: Response }) {
  return {
    status: r.status,
    type: r.res.headers.get("content-type"),
    title: r.body?.title,
    detail: r.body?.detail,
  };
}

/**
 * A request as the `ochami` CLI makes it: raw JSON bytes and no Content-Type header (a string
 * body would make fetch add `text/plain`).
 */
export async function ochamiSend(method: string, path: string, json?: unknown) {
  const body = json === undefined ? undefined : new TextEncoder().encode(JSON.stringify(json));
  const req = new Request(`http://ochami.test${path}`, { method, body, headers: { "user-agent": "ochami/0.5.4" } });
  if (req.headers.has("content-type")) throw new Error("ochamiSend must not send a Content-Type");
  const res = await dispatch(req);
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status as number, body: parsed, res: res as Response, text };
}
