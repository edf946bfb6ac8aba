import { describe, expect, it } from "vitest";
import { createApp } from "../../workers/app";
import { getJson } from "./client";

/** Hono's route path (`/x/:id`, `/:group{[^/]+\.yaml}`) in OpenAPI's form (`/x/{id}`, `/{group}.yaml`). */
function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)(\{[^}]*\})?/g, (_, name: string, pattern?: string) => {
    const suffix = pattern ? /^\{\[\^\/\]\+(.*)\}$/.exec(pattern)?.[1]?.replace(/\\(.)/g, "$1") : "";
    return `{${name}}${suffix ?? ""}`;
  });
}

describe("/openapi.json documents every route", () => {
  it("has every method and path the app registers (405 fallbacks and middleware aside)", async () => {
    const { status, body: doc } = await getJson("/openapi.json");
    expect(status).toBe(200);
    const routes = createApp().routes.filter((r) => r.method !== "ALL");
    expect(routes.length).toBeGreaterThan(100);
    const missing = routes
      .map((r) => ({ method: r.method.toLowerCase(), path: openApiPath(r.path) }))
      .filter((r) => !doc.paths?.[r.path]?.[r.method])
      .map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it("documents nothing the app does not serve", async () => {
    const { body: doc } = await getJson("/openapi.json");
    const served = new Set(
      createApp()
        .routes.filter((r) => r.method !== "ALL")
        .map((r) => `${r.method.toLowerCase()} ${openApiPath(r.path)}`),
    );
    const extra = Object.entries<Record<string, unknown>>(doc.paths).flatMap(([p, item]) =>
      Object.keys(item)
        .filter((m) => !served.has(`${m} ${p}`))
        .map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(extra).toEqual([]);
  });
});
