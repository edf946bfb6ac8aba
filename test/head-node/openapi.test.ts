import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { compileErrors, validate } from "@readme/openapi-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { freePort } from "./ports";

/** The API's description as the runner serves it: valid OpenAPI 3.1, and a page that needs nothing from elsewhere. */
describe("GET /openapi.json and /docs", () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "ochami-openapi-"));
  let api: ApiServer;
  let doc: any;

  beforeAll(async () => {
    api = await startApiServer({ port: await freePort(), stateDir, onLog: () => {} });
    const res = await fetch(`${api.url}/openapi.json`);
    expect(res.status).toBe(200);
    doc = await res.json();
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("is a valid OpenAPI 3.1 document (@readme/openapi-parser, schema and spec rules)", async () => {
    const result = await validate(structuredClone(doc));
    expect(result.valid, result.valid ? "" : compileErrors(result).slice(0, 4000)).toBe(true);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: api.url }]);
  });

  it("states the access of every operation from the policy: public, or the scope a token needs", () => {
    const access = new Map<string, string>();
    for (const [p, item] of Object.entries<any>(doc.paths))
      for (const [method, op] of Object.entries<any>(item)) access.set(`${method.toUpperCase()} ${p}`, op["x-access"]);
    expect(access.get("GET /boot/v1/bootscript")).toBe("public");
    expect(access.get("PUT /boot/v1/bootparameters")).toBe("bss:write");
    expect(access.get("GET /cloud-init/{group}.yaml")).toBe("public");
    expect(access.get("POST /auth/clients")).toBe("admin");
    const put = doc.paths["/boot/v1/bootparameters"].put;
    expect(put.security).toEqual([{ oauth2: ["bss:write"] }]);
    expect(doc.paths["/boot/v1/bootscript"].get.security).toEqual([]);
    expect(doc.components.securitySchemes.oauth2.flows.clientCredentials.tokenUrl).toBe(`${api.url}/token`);
  });

  it("/docs lists every operation and loads nothing from another origin", async () => {
    const res = await fetch(`${api.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const page = await res.text();
    const operations = Object.values<any>(doc.paths).flatMap((item) => Object.keys(item));
    expect(page.match(/<article /g)?.length).toBe(operations.length);
    expect(page).toContain("<code>/hsm/v2/State/Components</code>");
    expect(page).not.toMatch(/<(script|link|img|iframe)\b/i);
    expect(page).not.toMatch(/url\(/i);
  });
});
