import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient, retryAfterMs } from "../../shared/api-client/client";
import { closeConnections } from "../../shared/api-client/http";

/**
 * The API answers 503 with Retry-After while its database process restarts. The client sends an
 * idempotent request again after the wait it names; a POST or PATCH is answered as it came (it
 * may or may not have been stored), and so is a 503 that names no wait.
 */
describe("API client: 503 with Retry-After", () => {
  let server: http.Server;
  let base = "";
  const seen: string[] = [];
  /** How many more 503s each path gets before a 200. */
  const unavailable = new Map<string, number>();

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const left = unavailable.get(req.url!) ?? 0;
      if (left > 0) {
        unavailable.set(req.url!, left - 1);
        const retry = req.url!.includes("no-wait") ? {} : { "retry-after": req.url!.includes("slow") ? "1" : "0" };
        res.writeHead(503, { "content-type": "application/problem+json", ...retry }).end('{"detail":"restarting"}');
      } else res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    closeConnections();
    await new Promise((r) => server.close(r));
  });

  const client = new ApiClient({ baseUrl: () => base, timeoutMs: 5_000 });
  const statuses = async (method: string, path: string, answers: number) => {
    seen.length = 0;
    unavailable.set(path, answers);
    const res = await client.send("root", method, path, method === "GET" || method === "DELETE" ? {} : { body: {} });
    return { status: res.status, sent: seen.length };
  };

  it("a GET, PUT or DELETE goes again until it is answered", async () => {
    expect(await statuses("GET", "/get", 3)).toEqual({ status: 200, sent: 4 });
    expect(await statuses("PUT", "/put", 2)).toEqual({ status: 200, sent: 3 });
    expect(await statuses("DELETE", "/delete", 1)).toEqual({ status: 200, sent: 2 });
  });

  it("waits what Retry-After says", async () => {
    const started = Date.now();
    expect(await statuses("GET", "/slow", 1)).toEqual({ status: 200, sent: 2 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  });

  it("a POST or PATCH, or a 503 without Retry-After, is answered as it came", async () => {
    expect(await statuses("POST", "/post", 1)).toEqual({ status: 503, sent: 1 });
    expect(await statuses("PATCH", "/patch", 1)).toEqual({ status: 503, sent: 1 });
    expect(await statuses("GET", "/no-wait", 1)).toEqual({ status: 503, sent: 1 });
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2026-12-03T12:00:00Z");
    expect(retryAfterMs("1", now)).toBe(1000);
    expect(retryAfterMs("Thu, 03 Dec 2026 12:00:05 GMT", now)).toBe(5000);
    expect(retryAfterMs("Thu, 03 Dec 2026 11:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});
