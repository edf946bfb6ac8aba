import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../workers/app";
import { ClientRate } from "../../workers/history/client-rate";
import { historyStats } from "../../workers/history/recorder";
import { pruneUnknownLatest } from "../../workers/history/store";
import { seededRandom } from "../support/random";
import { ochamiSend, send } from "./client";

const H = "/boot/v1/endpoint-history";
const NODES = Array.from({ length: 10 }, (_, i) => ({ id: `x5000c0s${i}b0n0`, mac: `02:50:00:00:00:${String(i).padStart(2, "0")}` }));

beforeAll(async () => {
  const comps = NODES.map((n, i) => ({ ID: n.id, State: "Ready", Role: "Compute", NID: 500 + i }));
  expect((await send("POST", "/hsm/v2/State/Components", { Components: comps })).status).toBe(204);
  for (const n of NODES) await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: n.mac, ComponentID: n.id });
  expect((await ochamiSend("PUT", "/boot/v1/bootparameters", { hosts: ["Compute"], kernel: "http://k/compute" })).status).toBe(200);
});

/** Requests through one app and env (the history bounds are read from it), each from its own TCP peer. */
function client(vars: Record<string, unknown>) {
  const app = createApp();
  const ctx = createExecutionContext();
  return {
    get: (path: string, peer: string) =>
      app.fetch(new Request(`http://ochami.test${path}`, { cf: { clientIp: `${peer}:40000` } } as RequestInit), vars as any, ctx),
    /** Waits for the background history writes, then reads through the same env. */
    async settle() {
      await waitOnExecutionContext(ctx);
      const read = createExecutionContext();
      const res = await app.fetch(new Request(`http://ochami.test${H}?limit=100000`), vars as any, read);
      await waitOnExecutionContext(read);
      return (await res.json()) as Array<{ name: string; mac: string; endpoint: string }>;
    },
  };
}

const randomMac = (random: () => number) =>
  [
    "02",
    ...Array.from({ length: 5 }, () =>
      Math.floor(random() * 256)
        .toString(16)
        .padStart(2, "0"),
    ),
  ].join(":");

/** A D1 binding that counts batches (each one round trip); everything else passes through. */
function countingBatches(d1: D1Database) {
  const batches = { count: 0 };
  const db = new Proxy(d1, {
    get(target, prop) {
      const value = (target as any)[prop];
      if (prop === "batch") batches.count++;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, batches };
}

async function count(where: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${where}`)
    .bind(...params)
    .first<{ n: number }>();
  return row!.n;
}

describe("boot history bounds against public requests", () => {
  it("3,000 bootscripts for random MACs leave both tables bounded, and every SMD node's latest step in place", async () => {
    const vars = { ...env, OCHAMI_HISTORY_MAX: "100", OCHAMI_HISTORY_UNKNOWN_MAX: "50" };
    const api = client(vars);
    // The nodes boot first, so their entries are the oldest when the flood comes.
    for (const [i, n] of NODES.entries()) expect((await api.get(`/boot/v1/bootscript?mac=${n.mac}`, `10.50.0.${i}`)).status).toBe(200);
    await api.settle();
    const overRate = historyStats.droppedOverRate;
    const random = seededRandom(14);
    const flood = Array.from({ length: 3000 }, (_, i) => ({ mac: randomMac(random), peer: `10.60.${i >> 8}.${i & 255}` }));
    for (let i = 0; i < flood.length; i += 250) {
      const answers = await Promise.all(flood.slice(i, i + 250).map((f) => api.get(`/boot/v1/bootscript?mac=${f.mac}`, f.peer)));
      expect(answers.every((r) => r.status === 200)).toBe(true);
    }
    const answer = await api.settle();

    expect(await count("boot_events")).toBe(100);
    expect(await count("boot_latest")).toBe(NODES.length + 50);
    expect(await count("boot_latest WHERE known = 0")).toBe(50);
    // The ones kept are the newest: every entry kept came from the flood's last requests.
    const kept = await env.DB.prepare("SELECT mac FROM boot_latest WHERE known = 0").all<{ mac: string }>();
    const last = new Set(flood.slice(-200).map((f) => f.mac));
    expect(kept.results.filter((r) => !last.has(r.mac))).toEqual([]);
    // Older than every unknown entry, and still there.
    const nodes = answer.filter((r) => r.name !== "");
    expect(nodes.map((r) => r.name).sort()).toEqual(NODES.map((n) => n.id).sort());
    expect(answer).toHaveLength(NODES.length + 50);
    // Spread over 3,000 addresses, no client was over its rate: the cap alone bounded the table.
    expect(historyStats.droppedOverRate).toBe(overRate);
  }, 60_000);

  it("one client's events beyond OCHAMI_HISTORY_CLIENT_RATE are answered, not recorded, and counted; its SMD node's are all kept", async () => {
    const vars = { ...env, OCHAMI_HISTORY_CLIENT_RATE: "5" };
    const api = client(vars);
    const random = seededRandom(5);
    const before = { overRate: historyStats.droppedOverRate, known: await count("boot_events WHERE name = ?", NODES[3].id) };
    const queries = [
      ...Array.from({ length: 200 }, () => `mac=${randomMac(random)}`),
      ...Array.from({ length: 30 }, (_, i) => `mac=${NODES[3].mac}&retry=${i}`),
    ];
    const answers = await Promise.all(queries.map((q) => api.get(`/boot/v1/bootscript?${q}`, "10.70.0.1")));
    expect(answers.every((r) => r.status === 200)).toBe(true);
    await api.settle();

    const perSecond = await env.DB.prepare(
      "SELECT time_ms / 1000 AS second, count(*) AS n FROM boot_events WHERE ip = '10.70.0.1' AND name = '' GROUP BY second",
    ).all<{ second: number; n: number }>();
    const recorded = perSecond.results.reduce((sum, r) => sum + r.n, 0);
    expect(perSecond.results.every((r) => r.n <= 5)).toBe(true);
    expect(recorded).toBeGreaterThanOrEqual(5);
    expect(historyStats.droppedOverRate - before.overRate).toBe(200 - recorded);
    expect(await count("boot_events WHERE name = ?", NODES[3].id)).toBe(before.known + 30);
  });

  it("a flush of SMD nodes' events is one round trip: the boot reader found their nodes, no lookup before the write", async () => {
    const fresh = Array.from({ length: 5 }, (_, i) => ({ id: `x5001c0s${i}b0n0`, mac: `02:51:00:00:00:0${i}` }));
    const comps = fresh.map((n) => ({ ID: n.id, State: "Ready", Role: "Compute" }));
    expect((await send("POST", "/hsm/v2/State/Components", { Components: comps })).status).toBe(204);
    for (const n of fresh) await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: n.mac, ComponentID: n.id });
    const { db, batches } = countingBatches(env.DB);
    const app = createApp();
    const vars = { ...env, DB: db };
    const boot = async () => {
      const ctx = createExecutionContext();
      const answers = await Promise.all(
        fresh.map((n, i) =>
          app.fetch(
            new Request(`http://ochami.test/boot/v1/bootscript?mac=${n.mac}`, { cf: { clientIp: `10.90.0.${i}:4000` } } as RequestInit),
            vars as any,
            ctx,
          ),
        ),
      );
      expect(answers.every((r) => r.status === 200)).toBe(true);
      const before = batches.count;
      await waitOnExecutionContext(ctx);
      return batches.count - before;
    };
    // First sight of these nodes too: the bootscript's handler found them in SMD (inSmd).
    expect(await boot()).toBe(1);
    expect(await boot()).toBe(1);
  });

  it("the on-prem agent's reports are not limited per client", async () => {
    const random = seededRandom(7);
    const macs = Array.from({ length: 50 }, () => randomMac(random));
    const report = await send("POST", H, { events: macs.map((mac) => ({ mac, endpoint: "dhcp", epoch_ms: Date.now() })) });
    expect(report.status).toBe(202);
    await send("GET", `${H}?limit=1`); // settles
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM boot_events WHERE mac IN (SELECT value FROM json_each(?))")
      .bind(JSON.stringify(macs))
      .first<{ n: number }>();
    expect(rows!.n).toBe(50);
  });

  it("a client's budget is per second, and a second holds a bounded number of clients", () => {
    const rate = new ClientRate(3);
    const t = 1_900_000_000_000;
    expect([1, 2, 3].map(() => rate.admit("a", t, 2))).toEqual([true, true, false]);
    expect(rate.admit("b", t + 999, 2)).toBe(true);
    expect(rate.admit("a", t - 5_000, 2)).toBe(false); // a late event counts in the current second
    expect(rate.admit("c", t, 2)).toBe(true);
    expect(rate.admit("d", t, 2)).toBe(false); // a fourth client in this second
    expect(rate.admit("d", t + 1000, 2)).toBe(true);
    expect(rate.admit("a", t + 1000, 2)).toBe(true);
    expect(rate.admit("e", t + 1000, 0)).toBe(false);
  });

  it("pruning the unknown entries walks their partial time index, never the whole table", async () => {
    const q = new SQLiteAsyncDialect().sqlToQuery(pruneUnknownLatest(50));
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
      .bind(...q.params)
      .all<{ detail: string }>();
    const steps = plan.results.map((r) => r.detail);
    expect(
      steps.some((d) => /SCAN boot_latest USING (COVERING )?INDEX boot_latest_unknown_time/.test(d)),
      steps.join("\n"),
    ).toBe(true);
    expect(steps.filter((d) => /^SCAN boot_latest$/.test(d) || /USE TEMP B-TREE/.test(d))).toEqual([]);
  });
});
