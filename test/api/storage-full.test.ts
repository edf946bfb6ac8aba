import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createApp } from "../../workers/app";
import { snapshotStats } from "../../workers/boot/snapshot/current";
import { storageFull } from "../../workers/db/storage-full";
import { historyStats } from "../../workers/history/recorder";
import { ochamiSend, send } from "./client";

/**
 * The worker's side of a full disk, in workerd with the real D1 behind a binding that refuses
 * writes the way D1 does when SQLite has no room (the message is what the runner's database
 * process answers on a full tmpfs: test/head-node/full-disk.test.ts runs that for real, as root).
 */
const FULL = "D1_ERROR: database or disk is full: SQLITE_FULL";
const WRITE = /\b(INSERT|UPDATE|DELETE|REPLACE)\b/i;

function fillableD1(d1: D1Database) {
  /** `full`: writes fail; `readsFail`: reads matching it fail too (a read in flight when a commit failed). */
  const disk: { full: boolean; readsFail?: RegExp } = { full: false };
  const refuse = () => Promise.reject(new Error(FULL, { cause: new Error("database or disk is full: SQLITE_FULL") }));
  const sqlOf = new WeakMap<object, string>();
  const statement = (stmt: D1PreparedStatement, query: string): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = (target as any)[prop];
        if (prop === "bind") return (...args: unknown[]) => statement(value.apply(target, args), query);
        if ((prop === "run" || prop === "all" || prop === "raw" || prop === "first") && disk.full && WRITE.test(query)) return refuse;
        if ((prop === "all" || prop === "raw" || prop === "first") && disk.readsFail?.test(query)) return refuse;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    sqlOf.set(proxy, query);
    real.set(proxy, stmt);
    return proxy;
  };
  const real = new WeakMap<object, D1PreparedStatement>();
  const db = new Proxy(d1, {
    get(target, prop) {
      const value = (target as any)[prop];
      if (prop === "prepare") return (q: string) => statement(value.call(target, q), q);
      if (prop === "batch")
        return (stmts: D1PreparedStatement[]) =>
          disk.full && stmts.some((s) => WRITE.test(sqlOf.get(s) ?? ""))
            ? refuse()
            : value.call(
                target,
                stmts.map((s) => real.get(s) ?? s),
              );
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, disk };
}

const { db, disk } = fillableD1(env.DB);
const vars = { ...env, DB: db };
const app = createApp();

async function call(method: string, path: string, body?: unknown, peer = "10.80.0.1") {
  const ctx = createExecutionContext();
  const init = { method, body: body === undefined ? undefined : JSON.stringify(body), cf: { clientIp: `${peer}:40000` } };
  const res = await app.fetch(new Request(`http://ochami.test${path}`, init as RequestInit), vars as any, ctx);
  const text = new TextDecoder().decode(await res.arrayBuffer());
  await waitOnExecutionContext(ctx);
  return { status: res.status, type: res.headers.get("content-type"), text, json: () => JSON.parse(text) };
}

beforeAll(async () => {
  expect((await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x6000c0s0b0n0", State: "Ready", NID: 1 }] })).status).toBe(
    204,
  );
  expect(
    (
      await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
        MACAddress: "02:60:00:00:00:01",
        ComponentID: "x6000c0s0b0n0",
        IPAddresses: [{ IPAddress: "10.80.0.1" }],
      })
    ).status,
  ).toBe(201);
  expect((await ochamiSend("PUT", "/boot/v1/bootparameters", { macs: ["02:60:00:00:00:01"], kernel: "http://k/full" })).status).toBe(200);
});

afterEach(() => {
  disk.full = false;
  disk.readsFail = undefined;
  vi.restoreAllMocks();
});

describe("a full disk under the database", () => {
  it("refuses writes with 507 saying so, keeps booting and reads, logs once, and recovers without a restart", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    const dropped = historyStats.droppedUnwritten;
    disk.full = true;

    const post = await call("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x6000c0s1b0n0", State: "Ready" }] });
    expect(post.status).toBe(507);
    expect(post.type).toBe("application/problem+json");
    expect(post.json()).toMatchObject({ status: 507, title: "Insufficient Storage", detail: expect.stringMatching(/disk is full/) });
    // A delete needs room too (SQLite writes its log first): the same answer, not a 500.
    expect((await call("DELETE", "/hsm/v2/State/Components/x6000c0s0b0n0")).status).toBe(507);
    expect((await call("PUT", "/boot/v1/bootparameters", { macs: ["02:60:00:00:00:01"], kernel: "http://k/other" })).status).toBe(507);

    for (let i = 0; i < 5; i++) {
      const script = await call("GET", "/boot/v1/bootscript?mac=02:60:00:00:00:01");
      expect(script.status).toBe(200);
      expect(script.text).toContain("http://k/full");
      expect((await call("GET", "/cloud-init/meta-data")).text).toContain("instance-id:");
    }
    expect((await call("GET", "/hsm/v2/State/Components/x6000c0s0b0n0")).status).toBe(200);
    expect((await call("GET", "/boot/v1/endpoint-history?name=x6000c0s0b0n0")).status).toBe(200);
    // The boot events could not be written: dropped and counted, not retried in a loop.
    expect(historyStats.droppedUnwritten).toBeGreaterThan(dropped);
    expect(storageFull).toMatchObject({ refused: 3 });

    const lines = log.mock.calls.map((args) => args.join(" "));
    expect(lines.filter((l) => /disk is full/.test(l))).toHaveLength(1);
    expect(lines.filter((l) => /unhandled error/.test(l))).toEqual([]);

    disk.full = false;
    expect((await call("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x6000c0s1b0n0", State: "Ready" }] })).status).toBe(204);
    const after = log.mock.calls.map((args) => args.join(" "));
    expect(after.filter((l) => /writes succeed again/.test(l))).toEqual([
      expect.stringMatching(/writes succeed again after \d+ s of a full disk \(3 requests refused, \d+ boot-history events dropped\)/),
    ]);
    expect(storageFull.since).toBe(0);

    // History is written again at once, not after the retry pause.
    await call("GET", "/boot/v1/bootscript?mac=02:60:00:00:00:01&retry=7");
    const history = (await call("GET", "/boot/v1/endpoint-history?name=x6000c0s0b0n0&history=true")).json();
    expect(history.some((e: { detail: string }) => e.detail.includes("retry 7"))).toBe(true);
  });

  it("a second episode is logged again, once", async () => {
    await call("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x6000c0s1b0n0", State: "Ready" }] });
    const log = vi.spyOn(console, "error").mockImplementation(() => {});
    disk.full = true;
    for (let i = 0; i < 3; i++) expect((await call("DELETE", "/hsm/v2/State/Components/x6000c0s1b0n0")).status).toBe(507);
    disk.full = false;
    expect((await call("DELETE", "/hsm/v2/State/Components/x6000c0s1b0n0")).status).toBe(200);
    const lines = log.mock.calls.map((args) => args.join(" "));
    expect(lines.filter((l) => /disk is full|writes succeed again/.test(l))).toEqual([
      expect.stringMatching(/^storage: the database's disk is full/),
      expect.stringMatching(
        /^storage: writes succeed again after \d+ s of a full disk \(3 requests refused, 0 boot-history events dropped\)$/,
      ),
    ]);
  });

  it("while the disk is full, a boot whose snapshot check fails is answered from the snapshot", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const boot = () => call("GET", "/boot/v1/bootscript?mac=02:60:00:00:00:01");
    expect((await boot()).status).toBe(200); // builds the snapshot in the background
    expect((await boot()).status).toBe(200);
    disk.full = true;
    expect((await call("PUT", "/boot/v1/bootparameters", { macs: ["02:60:00:00:00:01"], kernel: "http://k/other" })).status).toBe(507);
    disk.readsFail = /boot_generation/;
    const served = snapshotStats.served;
    const script = await boot();
    expect(script.status).toBe(200);
    expect(script.text).toContain("http://k/full");
    expect(snapshotStats.served).toBe(served + 1);
  });
});
