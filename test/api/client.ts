import { exports } from "cloudflare:workers";

/** Calls the worker's real fetch handler (the same module workerd serves) inside workerd. */
export async function api(path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const { json, ...rest } = init;
  const body = json === undefined ? rest.body : typeof json === "string" ? json : JSON.stringify(json);
  return (exports as any).default.fetch(new Request(`http://ochami.test${path}`, { ...rest, body }));
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
