import type { Hono } from "hono";
import { type Access, decide, POLICY } from "../../workers/auth/policy";

/** A concrete request path for a policy pattern or a Hono route path (params and `*` filled in). */
export function samplePath(pattern: string): string {
  return pattern
    .split("/")
    .map((seg) => {
      if (seg === "*") return "probe/deeper";
      const param = /^:[A-Za-z_][A-Za-z0-9_]*(?:\{[^}]*\})?\??(.*)$/.exec(seg);
      return param ? `probe1${param[1]}` : seg;
    })
    .join("/");
}

const ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

export interface RouteCase {
  method: string;
  path: string;
  /** The pattern it came from (a policy rule or a registered route). */
  pattern: string;
  access: Access;
}

/** Every (method, path) the app registers, with params filled in (405 fallbacks and middleware excluded). */
export function concreteRoutes(app: Hono<any>): RouteCase[] {
  return app.routes
    .filter((r) => r.method !== "ALL")
    .map((r) => {
      const path = samplePath(r.path);
      return { method: r.method, path, pattern: r.path, access: decide(r.method, path).access };
    });
}

/**
 * The requests the auth matrix runs: one per method of every policy rule, every registered route,
 * and a few routes nobody listed (the default). Derived, so new rules and routes are covered.
 */
export function policyCases(app: Hono<any>): RouteCase[] {
  const cases: RouteCase[] = [];
  for (const rule of POLICY) {
    for (const method of rule.methods === "*" ? ALL_METHODS : rule.methods) {
      const path = samplePath(rule.path);
      cases.push({ method, path, pattern: rule.path, access: decide(method, path).access });
    }
  }
  cases.push(...concreteRoutes(app));
  for (const [method, path] of [
    ["GET", "/unlisted"],
    ["POST", "/hsm/v3/anything"],
    ["GET", "/cloud-init-secure/x"],
  ]) {
    cases.push({ method, path, pattern: "(default)", access: decide(method, path).access });
  }
  const seen = new Set<string>();
  return cases.filter((c) => {
    const key = `${c.method} ${c.path}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
