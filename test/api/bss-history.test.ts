import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../workers/app";
import { bootLookupQuery } from "../../workers/boot/d1";
import type { BootKey } from "../../workers/boot/types";
import { api, getJson, ochamiSend, send } from "./client";

const H = "/boot/v1/endpoint-history";

beforeAll(async () => {
  const comps = Array.from({ length: 20 }, (_, i) => ({ ID: `x4000c0s${i}b0n0`, State: "Ready", Role: "Compute", NID: 100 + i }));
  expect((await send("POST", "/hsm/v2/State/Components", { Components: comps })).status).toBe(204);
  for (let i = 0; i < 20; i++)
    await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
      MACAddress: `02:40:00:00:00:${String(i).padStart(2, "0")}`,
      ComponentID: `x4000c0s${i}b0n0`,
    });
  expect((await ochamiSend("PUT", "/boot/v1/bootparameters", { hosts: ["Compute"], kernel: "http://k/compute" })).status).toBe(200);
});

/**
 * A D1 binding that counts round trips: each statement execution (all/first/raw/run) and each
 * batch is one. Statements are proxied so `bind` keeps counting; batches get the real ones.
 */
function countingD1(d1: D1Database) {
  const counter = { trips: 0 };
  const real = new WeakMap<object, D1PreparedStatement>();
  const wrap = (stmt: D1PreparedStatement): D1PreparedStatement => {
    const proxy = new Proxy(stmt, {
      get(target, prop) {
        const value = (target as any)[prop];
        if (prop === "bind") return (...args: unknown[]) => wrap(value.apply(target, args));
        if (prop === "all" || prop === "first" || prop === "raw" || prop === "run")
          return (...args: unknown[]) => {
            counter.trips++;
            return value.apply(target, args);
          };
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    real.set(proxy, stmt);
    return proxy;
  };
  const db = new Proxy(d1, {
    get(target, prop) {
      const value = (target as any)[prop];
      if (prop === "prepare") return (q: string) => wrap(value.call(target, q));
      if (prop === "batch")
        return (stmts: D1PreparedStatement[]) => {
          counter.trips++;
          return value.call(
            target,
            stmts.map((s) => real.get(s) ?? s),
          );
        };
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, counter };
}

describe("BSS boot history", () => {
  it("records every bootscript fetch per node, with the outcome; GET filters by name and endpoint", async () => {
    const before = Date.now();
    expect((await api("/boot/v1/bootscript?mac=02:40:00:00:00:01")).status).toBe(200);
    expect((await api("/apis/bss/boot/v1/bootscript?name=x4000c0s2b0n0&retry=1")).status).toBe(200);
    expect((await api("/boot/v1/bootscript?mac=02:40:00:00:00:99")).status).toBe(200); // unknown
    const latest = await getJson(`${H}?name=x4000c0s1b0n0&endpoint=bootscript`);
    expect(latest.status).toBe(200);
    expect(latest.body).toHaveLength(1);
    expect(latest.body[0]).toMatchObject({ name: "x4000c0s1b0n0", endpoint: "bootscript", mac: "02:40:00:00:00:01" });
    expect(latest.body[0].last_epoch_ms).toBeGreaterThanOrEqual(before);
    expect(latest.body[0].last_epoch).toBe(Math.floor(latest.body[0].last_epoch_ms / 1000));
    expect(latest.body[0].detail).toBe("http://k/compute (matched by role Compute; retry 0)");
    const log = await getJson(`/apis/bss/boot/v1/endpoint-history?name=x4000c0s2b0n0&history=true`);
    expect(log.body.map((e: any) => [e.name, e.endpoint, e.detail])).toEqual([
      ["x4000c0s2b0n0", "bootscript", "http://k/compute (matched by role Compute; retry 1)"],
    ]);
    const unknown = (await getJson(`${H}?endpoint=bootscript`)).body.find((r: any) => r.mac === "02:40:00:00:00:99");
    expect(unknown).toMatchObject({ name: "", detail: expect.stringMatching(/^retry: no Node in SMD has this MAC/) });
  });

  it("a bootscript costs one D1 round trip (the history write is batched off the response path)", async () => {
    const { db, counter } = countingD1(env.DB);
    const app = createApp();
    for (const q of ["mac=02:40:00:00:00:03", "name=x4000c0s4b0n0", "nid=105", "mac=02:40:00:00:00:98", "mac=02:40:00:00:00:06&json=1"]) {
      const ctx = createExecutionContext();
      counter.trips = 0;
      const res = await app.fetch(new Request(`http://ochami.test/boot/v1/bootscript?${q}`), { ...env, DB: db }, ctx);
      await res.text();
      expect(counter.trips, q).toBe(1);
      await waitOnExecutionContext(ctx);
    }
  });

  it("the lookup reads by index only: its cost does not grow with the number of nodes or MACs", async () => {
    const dialect = new SQLiteAsyncDialect();
    const keys: BootKey[] = [{ mac: "02:40:00:00:00:03" }, { name: "x4000c0s4b0n0" }, { nid: 105 }];
    for (const key of keys) {
      const q = dialect.sqlToQuery(bootLookupQuery(key));
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${q.sql}`)
        .bind(...q.params)
        .all<{ detail: string }>();
      const steps = plan.results.map((r) => r.detail);
      // Full scans only of the one-row `comp` CTE and the derived tables built from it.
      const scans = steps.filter((d) => /^SCAN /.test(d) && !/^SCAN (comp|best|\(subquery)/.test(d));
      expect(scans, JSON.stringify(key)).toEqual([]);
      // Assignments by their whole primary key (kind, key), except the single Default row.
      const byKindOnly = steps.filter((d) => /USING INDEX sqlite_autoindex_boot_assignments_1 \(kind=\?\)$/.test(d));
      expect(byKindOnly, `${JSON.stringify(key)}:\n${steps.join("\n")}`).toHaveLength(1);
    }
  });

  it("a boot storm keeps the history log within OCHAMI_HISTORY_MAX rows, and every node's latest step", async () => {
    await getJson(H); // settle what earlier tests recorded under the default bound
    const vars = { ...env, OCHAMI_HISTORY_MAX: "100" };
    const app = createApp();
    const ctx = createExecutionContext();
    const storm = Array.from(
      { length: 400 },
      (_, i) => `mac=02:40:00:00:00:${String(i % 20).padStart(2, "0")}&retry=${Math.floor(i / 20)}`,
    );
    const responses = await Promise.all(storm.map((q) => app.fetch(new Request(`http://ochami.test/boot/v1/bootscript?${q}`), vars, ctx)));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    await waitOnExecutionContext(ctx);
    const settle = createExecutionContext();
    const names = Array.from({ length: 20 }, (_, i) => `x4000c0s${i}b0n0`).join(",");
    const latest = await app.fetch(new Request(`http://ochami.test${H}?endpoint=bootscript&name=${names}`), vars, settle);
    expect(((await latest.json()) as unknown[]).length).toBe(20);
    // The newest 100 events are kept, the older ones pruned.
    const rows = await env.DB.prepare("SELECT count(*) AS n, MIN(id) AS lo, MAX(id) AS hi FROM boot_events").first<{
      n: number;
      lo: number;
      hi: number;
    }>();
    expect(rows).toMatchObject({ n: 100, lo: rows!.hi - 99 });
    expect(rows!.hi).toBeGreaterThanOrEqual(400);
  });
});
