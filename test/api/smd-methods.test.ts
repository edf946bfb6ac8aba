import { describe, expect, it } from "vitest";
import { createApp } from "../../workers/app";
import { samplePath } from "./auth-routes";
import { send } from "./client";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/**
 * A known path with a method it does not serve is a 405 naming the methods it does, in an `Allow`
 * header and in the problem's detail (`allow GET,POST`), as upstream SMD's router answers it for
 * every one of its routes (its MethodNotAllowed handler); an unknown path stays a 404.
 */
describe("SMD: a wrong method on a known path", () => {
  it("replays upstream's CT stages: POST, PATCH, PUT and DELETE on /service/{ready,liveness,values} are 405", async () => {
    for (const path of ["/hsm/v2/service/ready", "/hsm/v2/service/liveness", "/hsm/v2/service/values"]) {
      for (const method of ["POST", "PATCH", "PUT", "DELETE"]) {
        const r = await send(method, path, method === "DELETE" ? undefined : { fake: "payload" });
        expect(r.status, `${method} ${path}`).toBe(405);
        expect(r.res.headers.get("allow"), `${method} ${path}`).toBe("GET");
        expect(r.res.headers.get("content-type")).toBe("application/problem+json");
        expect(r.body).toMatchObject({ status: 405, title: "Method Not Allowed", detail: "allow GET" });
      }
    }
  });

  it("answers 405 with the path's methods for every SMD path, and 404 for a path SMD does not have", async () => {
    const byPath = new Map<string, Set<string>>();
    for (const r of createApp().routes) {
      if (r.method === "ALL" || !r.path.startsWith("/hsm/v2/")) continue;
      const methods = byPath.get(r.path) ?? new Set<string>();
      methods.add(r.method);
      byPath.set(r.path, methods);
    }
    expect(byPath.size).toBeGreaterThan(50);
    for (const [pattern, methods] of byPath) {
      const missing = METHODS.find((m) => !methods.has(m));
      if (!missing) continue;
      const r = await send(missing, samplePath(pattern), missing === "GET" || missing === "DELETE" ? undefined : {});
      // A more specific path registered earlier may own a sample path (`/groups/labels` before `/groups/{label}`).
      if (r.status !== 405) continue;
      const allow = (r.res.headers.get("allow") ?? "").split(",");
      expect(allow.length, pattern).toBeGreaterThan(0);
      for (const m of allow) expect(METHODS, `${pattern}: ${m}`).toContain(m);
      expect(allow, pattern).not.toContain(missing);
    }
    expect((await send("GET", "/hsm/v2/service/nothing")).status).toBe(404);
    expect((await send("POST", "/hsm/v2/NoSuchCollection")).status).toBe(404);
  });
});
