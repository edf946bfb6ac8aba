import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { apiClientOf } from "../../onprem-agent/agent";
import { BootEventReporter, bootEventsConfigSchema } from "../../onprem-agent/boot-events";
import { apiConfigSchema } from "../../onprem-agent/config";
import { ClientCredentialsTokens } from "../../shared/api-client/tokens";
import type { ReportedBootEvent } from "../../shared/boot-events";
import { ManualClock } from "../support/manual-clock";

/** A small API stand-in: /token (client credentials) and /boot/v1/endpoint-history. */
interface Recorded {
  posts: Array<{ at: number; auth?: string; events: ReportedBootEvent[] }>;
  tokenCalls: Array<{ auth?: string; body: string }>;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    let s = "";
    req.on("data", (d) => (s += d));
    req.on("end", () => resolve(s));
  });
}

let servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

/** `clock`: the time a post is recorded at (the reporter's own clock, when the test moves it). */
async function fakeApi(opts: { down?: () => boolean; expiresIn?: number; reject401Once?: boolean; clock?: ManualClock } = {}) {
  const rec: Recorded = { posts: [], tokenCalls: [] };
  let issued = 0;
  let rejected = false;
  const server = createServer(async (req, res) => {
    const text = await body(req);
    if (req.url === "/token" && req.method === "POST") {
      rec.tokenCalls.push({ auth: req.headers.authorization, body: text });
      const ok =
        req.headers.authorization === `Basic ${Buffer.from("agent:s3cret").toString("base64")}` &&
        new URLSearchParams(text).get("grant_type") === "client_credentials";
      res.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
      res.end(
        JSON.stringify(
          ok ? { access_token: `tok${++issued}`, token_type: "Bearer", expires_in: opts.expiresIn ?? 3600 } : { error: "invalid_client" },
        ),
      );
      return;
    }
    if (req.url === "/boot/v1/endpoint-history" && req.method === "POST") {
      if (opts.down?.()) {
        res.writeHead(503).end();
        return;
      }
      if (opts.reject401Once && !rejected && req.headers.authorization === "Bearer tok1") {
        rejected = true;
        res.writeHead(401).end();
        return;
      }
      rec.posts.push({ at: (opts.clock ?? Date).now(), auth: req.headers.authorization, events: JSON.parse(text).events });
      res.writeHead(202, { "content-type": "application/json" }).end('{"accepted":1}');
      return;
    }
    res.writeHead(404).end();
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { rec, url };
}

const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const ev = (i: number): ReportedBootEvent => ({
  mac: "52:54:00:00:00:01",
  ip: "10.61.0.5",
  endpoint: "dhcp",
  epoch_ms: 1_700_000_000_000 + i,
  detail: `ACK ${i}`,
});
/**
 * The reporter runs on a clock the test moves: `advance()` says how many timers fell due, and a
 * flush started by one is awaited by calling flush() (it returns the one in flight).
 */
describe("boot-event reporter", () => {
  it("batches events: at most one post per interval, sooner when a batch is full", async () => {
    const clock = new ManualClock();
    const { rec, url } = await fakeApi({ clock });
    const api = apiClientOf(apiConfigSchema.parse({ url }));
    const r = new BootEventReporter(api, bootEventsConfigSchema.parse({ interval: 0.5, batchSize: 500 }), quiet, clock);
    const t0 = clock.now();
    for (let i = 0; i < 10; i++) r.report(ev(i));
    expect(rec.posts.length).toBe(0); // report() never waits for the network
    expect(clock.pending()).toEqual([500]); // ten reports, one flush, an interval away
    expect(clock.advance(499)).toBe(0);
    expect(clock.advance(1)).toBe(1);
    await r.flush();
    expect(rec.posts.length).toBe(1);
    expect(rec.posts[0].events).toHaveLength(10);
    expect(rec.posts[0].at - t0).toBe(500);
    expect(rec.posts[0].events[3]).toEqual(ev(3));
    for (let i = 0; i < 1200; i++) r.report(ev(i));
    expect(clock.pending()).toEqual([0]); // a full batch does not wait for the interval
    expect(clock.advance(0)).toBe(1);
    await r.flush();
    expect(rec.posts.map((p) => p.events.length)).toEqual([10, 500, 500, 200]); // two full batches went out at once
    expect(rec.posts[1].at - t0).toBe(500);
    await r.close();
    expect(rec.posts.reduce((n, p) => n + p.events.length, 0)).toBe(1210);
  });

  it("keeps events while the API is down, drops the oldest beyond the bound, and delivers the rest later", async () => {
    let down = true;
    const clock = new ManualClock();
    const { rec, url } = await fakeApi({ down: () => down, clock });
    const warnings: string[] = [];
    const api = apiClientOf(apiConfigSchema.parse({ url }));
    const r = new BootEventReporter(
      api,
      bootEventsConfigSchema.parse({ interval: 0.05, batchSize: 50, maxQueued: 100 }),
      { ...quiet, warn: (_o, m) => void warnings.push(m) },
      clock,
    );
    for (let i = 0; i < 150; i++) r.report(ev(i));
    expect(clock.advance(0)).toBe(1);
    await r.flush();
    expect(r.failures).toBe(1);
    expect(r.dropped).toBe(50);
    expect(r.queued).toBe(100);
    expect(warnings.some((w) => w.includes("dropped"))).toBe(true);
    expect(warnings.some((w) => w.includes("posting failed"))).toBe(true);
    down = false;
    expect(clock.pending()).toEqual([50]); // the retry, an interval later
    expect(clock.advance(50)).toBe(1);
    await r.flush();
    const got = rec.posts.flatMap((p) => p.events.map((e) => e.detail));
    expect(got).toHaveLength(100);
    expect(got[0]).toBe("ACK 50"); // the oldest 50 were dropped
    expect(r.queued).toBe(0);
    await r.close();
  });

  it("does not block when the API does not answer at all", async () => {
    const clock = new ManualClock();
    const api = apiClientOf(apiConfigSchema.parse({ url: "http://127.0.0.1:9", timeout: 1 }));
    const r = new BootEventReporter(api, bootEventsConfigSchema.parse({ interval: 0.01 }), quiet, clock);
    // Measured on purpose: queuing 10,000 events costs well under the time a boot step allows.
    const t0 = performance.now();
    for (let i = 0; i < 10_000; i++) r.report(ev(i));
    expect(performance.now() - t0).toBeLessThan(500);
    expect(clock.advance(0)).toBe(1);
    await r.flush();
    expect(r.failures).toBeGreaterThan(0);
    expect(r.queued).toBe(10_000);
    await r.close();
  });
});

describe("API client credentials", () => {
  it("fetches a client-credentials token with HTTP Basic, caches it, and sends it as a bearer", async () => {
    const { rec, url } = await fakeApi();
    const api = apiClientOf(apiConfigSchema.parse({ url, auth: { clientId: "agent", clientSecret: "s3cret", scope: "boot:write" } }));
    // Flushed by the test alone: the clock it never moves keeps the interval's flush out of the way.
    const r = new BootEventReporter(api, bootEventsConfigSchema.parse({ interval: 0.01 }), quiet, new ManualClock());
    r.report(ev(1));
    await r.flush();
    r.report(ev(2));
    await r.flush();
    expect(rec.tokenCalls).toHaveLength(1);
    expect(new URLSearchParams(rec.tokenCalls[0].body).get("scope")).toBe("boot:write");
    expect(rec.posts.map((p) => p.auth)).toEqual(["Bearer tok1", "Bearer tok1"]);
    await r.close();
  });

  it("refreshes shortly before expires_in, and once on a 401", async () => {
    let now = 1_000_000;
    const { rec, url } = await fakeApi({ expiresIn: 60 });
    const tokens = new ClientCredentialsTokens(
      { tokenUrl: `${url}/token`, clientId: "agent", secret: "s3cret" },
      { timeoutMs: 10_000, now: () => now },
    );
    const bearer = async () => (await tokens.get()).token;
    expect(await bearer()).toBe("tok1");
    now += 20_000;
    expect(await bearer()).toBe("tok1");
    now += 15_000; // within 30 s of expiry
    expect(await bearer()).toBe("tok2");
    expect(rec.tokenCalls).toHaveLength(2);
    // Concurrent callers share one token request.
    now += 60_000;
    const got = await Promise.all([bearer(), bearer(), bearer()]);
    expect(new Set(got).size).toBe(1);
    expect(rec.tokenCalls).toHaveLength(3);

    const { rec: rec2, url: url2 } = await fakeApi({ reject401Once: true });
    const api2 = apiClientOf(apiConfigSchema.parse({ url: url2, auth: { clientId: "agent", clientSecret: "s3cret" } }));
    const res = await api2.send("root", "POST", "/boot/v1/endpoint-history", { body: { events: [ev(1)] } });
    expect(res.status).toBe(202);
    expect(rec2.tokenCalls).toHaveLength(2);
    expect(rec2.posts[0].auth).toBe("Bearer tok2");
  });

  it("reports a rejected client clearly", async () => {
    const { url } = await fakeApi();
    const api = apiClientOf(apiConfigSchema.parse({ url, auth: { clientId: "agent", clientSecret: "wrong" } }));
    await expect(api.json("root", "GET", "/hsm/v2/State/Components")).rejects.toThrow(/token endpoint .* refused client agent: 401/);
  });
});
