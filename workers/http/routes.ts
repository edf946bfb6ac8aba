import type { Context, Handler, Hono } from "hono";
import { problemResponse } from "../../shared/problem";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD";

/**
 * Registers the handlers of one path and answers any other method with 405 and an `Allow`
 * header (SMD's behaviour; Hono alone would say 404). HEAD follows GET.
 */
export function resource<E extends object>(app: Hono<any>, path: string, handlers: Partial<Record<Exclude<Method, "HEAD">, Handler<any>>>) {
  const methods = Object.keys(handlers) as Method[];
  for (const m of methods) app.on(m, path, handlers[m as Exclude<Method, "HEAD">]!);
  const allow = methods.join(",");
  app.all(path, (c: Context) => problemResponse(405, `allow ${allow}`, { headers: { allow } }));
}

/** Path parameter, percent-decoded by Hono; undefined becomes "". */
export function param(c: Context, name: string): string {
  return c.req.param(name) ?? "";
}
