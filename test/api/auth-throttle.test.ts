import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ADDRESS_BUCKET, CLIENT_BUCKET, LoginThrottle, tokenThrottle } from "../../workers/auth/throttle";
import worker from "../../workers/index";
import { createClient, envFor } from "./auth-helpers";

/**
 * The token endpoint throttles failed client authentications per source address and per client
 * id (workers/auth/throttle.ts), on a clock moved by hand.
 */

let now = 1_000_000;
beforeAll(() => tokenThrottle.useClock(() => now));
afterAll(() => tokenThrottle.useClock(() => Date.now()));
beforeEach(() => {
  tokenThrottle.addresses.clear();
  tokenThrottle.clients.clear();
});

/** POST /token with HTTP Basic from `address` (the TCP peer workerd reports). */
async function token(clientId: string, secret: string, address: string) {
  const req = new Request("http://ochami.test/token", {
    method: "POST",
    headers: { authorization: `Basic ${btoa(`${clientId}:${secret}`)}`, "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
  });
  Object.defineProperty(req, "cf", { value: { clientIp: `${address}:40000` } });
  const res = await worker.fetch!(req as any, envFor() as any, { waitUntil() {}, passThroughOnException() {}, props: {} } as any);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

describe("token endpoint throttling", () => {
  let client: { id: string; secret: string };
  beforeAll(async () => {
    client = await createClient("smd:read", "throttled-client");
  });

  it("after 10 wrong secrets from one address answers 429 with Retry-After, and forgives one failure a second", async () => {
    for (let i = 0; i < ADDRESS_BUCKET.capacity; i++) expect((await token(client.id, "wrong", "10.1.0.1")).status).toBe(401);
    const refused = await token(client.id, "wrong", "10.1.0.1");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(refused.body).toMatchObject({
      title: "Too Many Requests",
      status: 429,
      detail: "too many failed client authentications from 10.1.0.1; try again in 1 s",
    });
    // The address is throttled for every client and secret, the right one too.
    expect((await token(client.id, client.secret, "10.1.0.1")).status).toBe(429);
    expect((await token("ghost", "x", "10.1.0.1")).status).toBe(429);
    now += 1000;
    expect((await token(client.id, "wrong", "10.1.0.1")).status).toBe(401); // verified again: one forgiven
    expect((await token(client.id, "wrong", "10.1.0.1")).status).toBe(429);
    now += 1000;
    expect((await token(client.id, client.secret, "10.1.0.1")).status).toBe(200);
  });

  it("a client id under attack from many addresses still gets its token from an address that does not fail", async () => {
    // Three attacking addresses exhaust the client id's bucket (20 failures); the last one has failed once.
    for (const [address, times] of [
      ["10.2.0.1", 10],
      ["10.2.0.2", 9],
      ["10.2.0.3", 1],
    ] as const) {
      for (let i = 0; i < times; i++) expect((await token(client.id, "guess", address)).status).toBe(401);
    }
    const attacker = await token(client.id, "guess", "10.2.0.3");
    expect(attacker.status).toBe(429);
    expect(attacker.body.detail).toBe("too many failed authentications for client 'throttled-client'; try again in 1 s");
    // The real client, from its own address: verified, and its secret works, again and again.
    for (let i = 0; i < 3; i++) expect((await token(client.id, client.secret, "10.2.9.9")).status).toBe(200);
    // A fresh address gets one verification for this client id; after a failure it is refused too.
    expect((await token(client.id, "guess", "10.2.0.4")).status).toBe(401);
    expect((await token(client.id, "guess", "10.2.0.4")).status).toBe(429);
    expect((await token(client.id, client.secret, "10.2.9.9")).status).toBe(200);
    // Other client ids are not affected.
    const other = await createClient("smd:read", "throttled-other");
    expect((await token(other.id, other.secret, "10.2.0.4")).status).toBe(200);
  });

  it("successes do not count", async () => {
    for (let i = 0; i < 3 * ADDRESS_BUCKET.capacity; i++) expect((await token(client.id, client.secret, "10.3.0.1")).status).toBe(200);
    expect(tokenThrottle.addresses.isFull("10.3.0.1")).toBe(true);
  });

  it("concurrent wrong secrets cannot all slip through before the first failure is counted", async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, () => token(client.id, "wrong", "10.4.0.1")));
    const statuses = answers.map((a) => a.status).sort();
    expect(statuses.filter((s) => s === 401)).toHaveLength(ADDRESS_BUCKET.capacity);
    expect(statuses.filter((s) => s === 429)).toHaveLength(30 - ADDRESS_BUCKET.capacity);
  });

  it("behind a trusted proxy, counts the address the proxy names", async () => {
    const PROXY_SECRET = "proxy-secret-for-tests-0123456789abcdefghijk";
    const viaProxy = async (forwardedFor: string) => {
      const req = new Request("http://ochami.test/token", {
        method: "POST",
        headers: {
          authorization: `Basic ${btoa(`${client.id}:wrong`)}`,
          "content-type": "application/x-www-form-urlencoded",
          "x-forwarded-for": forwardedFor,
          "x-ochami-proxy-secret": PROXY_SECRET,
        },
        body: "grant_type=client_credentials",
      });
      Object.defineProperty(req, "cf", { value: { clientIp: "127.0.0.1:40000" } });
      const env = envFor({ OCHAMI_TRUSTED_PROXIES: "127.0.0.1", OCHAMI_PROXY_SECRET: PROXY_SECRET });
      return (await worker.fetch!(req as any, env as any, { waitUntil() {}, passThroughOnException() {}, props: {} } as any)).status;
    };
    for (let i = 0; i < ADDRESS_BUCKET.capacity; i++) expect(await viaProxy("10.5.0.1")).toBe(401);
    expect(await viaProxy("10.5.0.1")).toBe(429);
    expect(await viaProxy("10.5.0.2")).toBe(401); // another node behind the same proxy is not throttled
  });
});

describe("the throttle's memory", () => {
  it("holds at most its key limit, however many addresses and client ids fail", () => {
    const t = new LoginThrottle(ADDRESS_BUCKET, CLIENT_BUCKET, 100);
    for (let i = 0; i < 5000; i++) t.begin(`client-${i}`, `10.6.${i >> 8}.${i & 255}`);
    expect(t.addresses.size).toBe(100);
    expect(t.clients.size).toBe(100);
  });

  it("a success leaves no entry behind; a forgiven failure reads as a full bucket", () => {
    let clock = 0;
    const t = new LoginThrottle();
    t.useClock(() => clock);
    const v = t.begin("c", "10.7.0.1");
    expect(v.ok && t.addresses.size).toBe(1);
    if (v.ok) v.attempt.succeeded();
    expect(t.addresses.size + t.clients.size).toBe(0);
    t.begin("c", "10.7.0.1");
    clock += ADDRESS_BUCKET.refillMs;
    t.begin("d", "10.7.0.2");
    expect(t.addresses.isFull("10.7.0.1")).toBe(true);
  });
});
