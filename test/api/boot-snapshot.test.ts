import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import { beforeAll, describe, expect, it } from "vitest";
import { d1Reader } from "../../workers/boot/d1";
import { snapshotStats } from "../../workers/boot/snapshot/current";
import { loadSnapshot, readGeneration, SNAPSHOT_QUERIES } from "../../workers/boot/snapshot/load";
import { BootSnapshot, KEPT_ANSWER_BYTES, keptBytes, type SnapshotRows } from "../../workers/boot/snapshot/model";
import type { BootKey } from "../../workers/boot/types";
import { database } from "../../workers/db";
import worker from "../../workers/index";
import { waitFor } from "../support/wait";
import { ochamiSend, send } from "./client";

/**
 * The boot snapshot (workers/boot/snapshot): it must answer exactly what the D1 reader answers,
 * and never serve data older than a write that finished before the request. Real D1, real
 * triggers; "another process" is played by SQL written straight to the database.
 */

const sql = (q: string, ...args: unknown[]) =>
  env.DB.prepare(q)
    .bind(...args)
    .run();

beforeAll(async () => {
  // Written before SMD has the nodes, so the MAC and NID entries stay MAC and NID entries (a
  // write by a key of a Node in SMD is stored as the node's xname entry) and every precedence
  // level below is reached.
  const put = async (body: Record<string, unknown>) => expect((await ochamiSend("PUT", "/boot/v1/bootparameters", body)).status).toBe(200);
  await put({ hosts: ["Default"], kernel: "http://k/default", params: "quiet" });
  await put({ hosts: ["Compute"], kernel: "http://k/compute", initrd: "http://k/compute.img", params: "ds=x initrd=old" });
  await put({ nids: [2], kernel: "http://k/nid2" });
  await put({ macs: ["02:00:00:00:01:02"], kernel: "http://k/other-mac" });
  await put({ macs: ["02:00:00:00:01:01"], kernel: "http://k/mac" });
  await put({ hosts: ["x3000c0s3b0n0"], kernel: "http://k/xname" });
  const nodes = [
    { ID: "x3000c0s1b0n0", Role: "Compute", NID: 1 },
    { ID: "x3000c0s2b0n0", Role: "Compute", NID: 2 },
    { ID: "x3000c0s3b0n0", Role: "Service", NID: 3 },
    // The same NID twice: the lowest xname wins in both paths.
    { ID: "x3000c0s4b0n0", Role: "Compute", NID: 4 },
    { ID: "x3000c0s4b1n0", Role: "Compute", NID: 4 },
    { ID: "x3000c0s5b0n0", Role: "Storage", NID: 5, Enabled: false },
    { ID: "x3000c0s6b0n0", Role: "Compute" },
    { ID: "x3000c0s1b0", Role: "" },
  ];
  expect((await send("POST", "/hsm/v2/State/Components", { Components: nodes.map((n) => ({ State: "Ready", ...n })) })).status).toBe(204);
  const ifaces: Array<[string, string, string[]]> = [
    ["02:00:00:00:01:02", "x3000c0s1b0n0", ["10.1.0.1"]],
    ["02:00:00:00:01:01", "x3000c0s1b0n0", ["10.1.0.11", "fd00::1:1"]],
    ["02:00:00:00:02:01", "x3000c0s2b0n0", ["10.1.0.2"]],
    ["02:00:00:00:03:01", "x3000c0s3b0n0", []],
    ["02:00:00:00:04:01", "x3000c0s4b0n0", ["10.1.0.4"]],
    ["02:00:00:00:05:01", "x3000c0s5b0n0", ["10.1.0.5"]],
    ["02:00:00:00:06:01", "x3000c0s6b0n0", ["10.1.0.6"]],
    ["02:00:00:00:0b:01", "x3000c0s1b0", ["10.1.0.100"]],
    // An interface naming a component SMD does not have, and one naming none.
    ["02:00:00:00:09:01", "x3000c0s9b0n0", ["10.1.0.9"]],
    ["02:00:00:00:0a:01", "", ["10.1.0.10"]],
  ];
  for (const [mac, id, ips] of ifaces) {
    const r = await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
      MACAddress: mac,
      ComponentID: id,
      IPAddresses: ips.map((IPAddress) => ({ IPAddress })),
    });
    expect(r.status).toBe(201);
  }
  // An address stored in a spelling the API would have normalised (another writer did it).
  await sql(
    "INSERT INTO ethernet_interface_ips (interface_id, ip_address, position) VALUES (?, ?, 9)",
    "020000000201",
    "FD00:0:0:0:0:0:2:1",
  );
  for (const [label, ids] of [
    ["compute", ["x3000c0s1b0n0", "x3000c0s2b0n0", "x3000c0s4b0n0"]],
    ["slurm", ["x3000c0s1b0n0"]],
    ["nocidata", ["x3000c0s2b0n0"]],
  ] as const)
    expect((await send("POST", "/hsm/v2/groups", { label, members: { ids } })).status).toBe(201);
  await send("POST", "/cloud-init/admin/cluster-defaults", {
    "cluster-name": "demo",
    "short-name": "nid",
    "nid-length": 3,
    "public-keys": ["ssh-ed25519 AAAA"],
  });
  await send("POST", "/cloud-init/admin/groups", {
    name: "compute",
    description: "all compute",
    "meta-data": { syslog: "10.1.0.254" },
    file: { content: "#cloud-config\n", encoding: "plain" },
  });
  await send("POST", "/cloud-init/admin/groups", {
    name: "slurm",
    file: { content: btoa("#cloud-config\nruncmd: [x]\n"), encoding: "base64" },
  });
  await send("PUT", "/cloud-init/admin/instance-info/x3000c0s1b0n0", { hostname: "one.example", "public-keys": ["ssh-rsa BBBB"] });
});

describe("the boot snapshot answers what D1 answers", () => {
  it("for every kind of bootscript key", async () => {
    const db = database(env.DB);
    const { snapshot } = await loadSnapshot(database(env.DB));
    const keys: BootKey[] = [
      ...["01:01", "01:02", "02:01", "03:01", "04:01", "05:01", "06:01", "0b:01", "09:01", "0a:01", "ff:ff"].map((m) => ({
        mac: `02:00:00:00:${m}`,
      })),
      ...[
        "x3000c0s1b0n0",
        "x3000c0s2b0n0",
        "x3000c0s3b0n0",
        "x3000c0s4b1n0",
        "x3000c0s5b0n0",
        "x3000c0s6b0n0",
        "x3000c0s1b0",
        "x3000c0s9b0n0",
      ].map((name) => ({ name })),
      ...[1, 2, 3, 4, 5, 6, 99].map((nid) => ({ nid })),
    ];
    const kinds = new Set<string>();
    for (const key of keys) {
      const fromD1 = await d1Reader(db).resolveBoot(key);
      expect(await snapshot.resolveBoot(key), JSON.stringify(key)).toEqual(fromD1);
      kinds.add(fromD1.matchedBy ?? (fromD1.component ? "nothing" : "unknown"));
    }
    // The data above reaches every precedence level, and the cases with no answer.
    expect([...kinds].sort()).toEqual(["default", "mac", "nid", "role", "unknown", "xname"]);
  });

  it("for every node address and group file", async () => {
    const d1 = d1Reader(database(env.DB));
    const { snapshot } = await loadSnapshot(database(env.DB));
    const ips = [
      "10.1.0.1",
      "10.1.0.11",
      "fd00::1:1",
      "FD00:0::1:1",
      "::ffff:10.1.0.2",
      "fd00::2:1",
      "10.1.0.4",
      "10.1.0.5",
      "10.1.0.9",
      "10.1.0.10",
      "10.1.0.100",
      "10.9.9.9",
      "not-an-ip",
    ];
    for (const ip of ips)
      for (const file of [undefined, "compute", "slurm", "nocidata"]) {
        expect(await snapshot.nodeByIp(ip, { file }), `${ip} ${file}`).toEqual(await d1.nodeByIp(ip, { file }));
      }
    for (const id of ["x3000c0s1b0n0", "x3000c0s9b0n0", "x3000c0s7b0n0"])
      expect(await snapshot.nodeById(id, { file: "slurm" })).toEqual(await d1.nodeById(id, { file: "slurm" }));
    const one = (await snapshot.nodeByIp("fd00::1:1"))!.view;
    expect(one).toMatchObject({ id: "x3000c0s1b0n0", inSmd: true, ip: "10.1.0.11", groups: ["compute", "slurm"] });
    expect(one.instance?.hostname).toBe("one.example");
  });
});

describe("the boot snapshot is never stale", () => {
  const BS = "/boot/v1/bootscript";
  /** A bootscript fetch, and whether the snapshot (not D1) answered it. */
  async function kernel(q: string, vars: Record<string, string> = {}) {
    const before = snapshotStats.served;
    const ctx = createExecutionContext();
    const res = await worker.fetch(new Request(`http://ochami.test${BS}?${q}&arch=x86_64`) as any, { ...env, ...vars } as any, ctx);
    await waitOnExecutionContext(ctx);
    const line = (await res.text()).split("\n")[1] ?? "";
    return { kernel: /^kernel --name kernel (\S+)/.exec(line)?.[1], fromSnapshot: snapshotStats.served > before };
  }
  /**
   * Fetches until a rebuild has landed: the first fetch after a change falls back to D1 and starts
   * one, unless one ran less than twice its own duration ago (the rebuild rate limit), and then
   * a later fetch does.
   */
  async function warm(q: string, vars: Record<string, string> = {}) {
    await waitFor(async () => (await kernel(q, vars)).fromSnapshot, 2_000, `the snapshot to answer ${q}`);
  }

  it("serves from memory once built, and sees an API write at once", async () => {
    await warm("mac=02:00:00:00:02:01");
    expect(await kernel("mac=02:00:00:00:02:01")).toEqual({ kernel: "http://k/nid2", fromSnapshot: true });
    expect((await ochamiSend("PUT", "/boot/v1/bootparameters", { nids: [2], kernel: "http://k/nid2-new" })).status).toBe(200);
    expect((await kernel("mac=02:00:00:00:02:01")).kernel).toBe("http://k/nid2-new");
    await warm("mac=02:00:00:00:02:01");
    expect(await kernel("mac=02:00:00:00:02:01")).toEqual({ kernel: "http://k/nid2-new", fromSnapshot: true });
  });

  it("sees a write another process made straight to the database", async () => {
    await warm("name=x3000c0s6b0n0");
    expect((await kernel("name=x3000c0s6b0n0")).kernel).toBe("http://k/compute");
    await sql("UPDATE components SET role = 'Storage' WHERE id = 'x3000c0s6b0n0'");
    expect((await kernel("name=x3000c0s6b0n0")).kernel).toBe("http://k/default");
    await sql("UPDATE components SET enabled = 0 WHERE id = 'x3000c0s6b0n0'");
    expect((await kernel("name=x3000c0s6b0n0")).kernel).toBeUndefined();
    await sql("UPDATE components SET enabled = 1, role = 'Compute' WHERE id = 'x3000c0s6b0n0'");
  });

  it("in exclusive mode, checks D1 only after this isolate's own writes", async () => {
    const vars = { OCHAMI_BOOT_SNAPSHOT: "exclusive" };
    await warm("mac=02:00:00:00:04:01", vars);
    const checks = snapshotStats.checks;
    for (let i = 0; i < 5; i++)
      expect(await kernel("mac=02:00:00:00:04:01", vars)).toEqual({ kernel: "http://k/compute", fromSnapshot: true });
    expect(snapshotStats.checks).toBe(checks);
    await ochamiSend("PUT", "/boot/v1/bootparameters", { macs: ["02:00:00:00:04:01"], kernel: "http://k/four" });
    expect((await kernel("mac=02:00:00:00:04:01", vars)).kernel).toBe("http://k/four");
    expect(snapshotStats.checks).toBeGreaterThan(checks);
  });

  it("in exclusive mode, a snapshot built after the last write is used with no check; one built during a write is checked", async () => {
    const vars = { OCHAMI_BOOT_SNAPSHOT: "exclusive" };
    const q = "mac=02:00:00:00:06:01";
    await ochamiSend("PUT", "/boot/v1/bootparameters", { macs: ["02:00:00:00:06:01"], kernel: "http://k/five" });
    const rebuilds = snapshotStats.rebuilds;
    // The read after the write checks, finds the snapshot stale and starts a rebuild (D1 answers it).
    expect((await kernel(q, vars)).kernel).toBe("http://k/five");
    await waitFor(async () => snapshotStats.rebuilds > rebuilds || (await kernel(q, vars)).fromSnapshot, 2_000, "a rebuild");
    const checks = snapshotStats.checks;
    expect(await kernel(q, vars)).toEqual({ kernel: "http://k/five", fromSnapshot: true });
    expect(snapshotStats.checks).toBe(checks);

    // A write while a rebuild runs, after its load read the database: the rebuilt snapshot predates
    // it, and the next read must check. The database binding here writes it at that very moment.
    await ochamiSend("PUT", "/boot/v1/bootparameters", { macs: ["02:00:00:00:06:01"], kernel: "http://k/before" });
    let written = false;
    const DB = new Proxy(env.DB, {
      get(target, key) {
        if (key === "batch")
          return async (statements: D1PreparedStatement[]) => {
            const results = await target.batch(statements);
            // The snapshot's load: the generation and every table, in one batch.
            if (statements.length === Object.keys(SNAPSHOT_QUERIES).length + 1 && !written) {
              written = true;
              expect(
                (await ochamiSend("PUT", "/boot/v1/bootparameters", { macs: ["02:00:00:00:06:01"], kernel: "http://k/during" })).status,
              ).toBe(200);
            }
            return results;
          };
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    await waitFor(
      async () => {
        await kernel(q, { ...vars, DB } as any);
        return written;
      },
      2_000,
      "a rebuild through the hooked binding",
    );
    expect((await kernel(q, vars)).kernel).toBe("http://k/during");
  });

  it("in shared mode, reads in flight together share checks, and each sees the writes finished before it began", async () => {
    const vars = { OCHAMI_BOOT_SNAPSHOT: "shared" };
    const node = "name=x3000c0s3b0n0"; // its own xname entry: http://k/xname
    // Another process's write: that entry's kernel, straight to the database.
    const setKernel = (kernel: string) =>
      sql(
        "UPDATE boot_configs SET kernel = ? WHERE id = (SELECT config_id FROM boot_assignments WHERE kind = 'xname' AND key = 'x3000c0s3b0n0')",
        kernel,
      );
    await warm(node, vars);
    expect((await kernel(node, vars)).kernel).toBe("http://k/xname");
    const checks = snapshotStats.checks;
    const wave = () => Array.from({ length: 8 }, () => kernel(node, vars));
    for (let round = 1; round <= 20; round++) {
      const before = round === 1 ? "http://k/xname" : `http://k/x-${round - 1}`;
      const during = wave(); // under way, their checks too, while the write is made: either answer
      await setKernel(`http://k/x-${round}`);
      const after = wave();
      for (const r of await Promise.all(during)) expect([before, `http://k/x-${round}`]).toContain(r.kernel);
      for (const r of await Promise.all(after)) expect(r.kernel).toBe(`http://k/x-${round}`);
    }
    expect(snapshotStats.checks - checks).toBeLessThan(20 * 16);
    await setKernel("http://k/xname");
  });

  it("keeps a known node's answer by its whole URL", async () => {
    await warm("mac=02:00:00:00:02:01");
    const chain = async (q: string) => {
      const ctx = createExecutionContext();
      const res = await worker.fetch(new Request(`http://ochami.test${BS}?${q}`) as any, env as any, ctx);
      await waitOnExecutionContext(ctx);
      return (await res.text()).split("\n").find((l) => l.startsWith("chain "));
    };
    for (let i = 0; i < 2; i++) {
      expect(await chain("mac=02:00:00:00:02:01")).toBe("chain http://ochami.test/boot/v1/bootscript?mac=02:00:00:00:02:01&retry=1");
      expect(await chain("mac=02:00:00:00:02:01&retry=2")).toBe(
        "chain http://ochami.test/boot/v1/bootscript?mac=02:00:00:00:02:01&retry=3",
      );
    }
  });

  it("keeps answers up to KEPT_ANSWER_BYTES, the least recently used going first, none larger than that", async () => {
    const empty: SnapshotRows = {
      components: [],
      interfaces: [],
      ips: [],
      members: [],
      assignments: [],
      configs: [],
      ciGroups: [],
      instances: [],
      defaults: [],
    };
    const snapshot = new BootSnapshot(empty);
    let computed = 0;
    const remember = (key: string, keep = true) => snapshot.remember(key, async () => ({ value: `${key} #${++computed}`, keep }));
    expect(await remember("first")).toBe("first #1");
    expect(await remember("first")).toBe("first #1");
    expect(await remember("passing", false)).toBe("passing #2");
    expect(await remember("passing")).toBe("passing #3");
    // An answer may be anything, nothing included: a kept undefined is not computed again.
    let empties = 0;
    const nothing = () =>
      snapshot.remember("nothing", async () => {
        empties++;
        return { value: undefined, keep: true };
      });
    expect([await nothing(), await nothing(), empties]).toEqual([undefined, undefined, 1]);

    // Large answers (an object holding text and bytes, as the routes keep) fill the budget: the
    // one that does not fit beside the others pushes out the least recently used, whatever their number.
    const body = "x".repeat(1 << 20);
    const large = (i: number) =>
      snapshot.remember(`large ${String(i).padStart(2, "0")}`, async () => ({
        value: { body, bytes: new Uint8Array(8), n: ++computed },
        keep: true,
      }));
    const small = keptBytes("first", "first #1") + keptBytes("passing", "passing #3") + keptBytes("nothing", undefined);
    const fitting = Math.floor((KEPT_ANSWER_BYTES - small) / keptBytes("large 00", { body, bytes: new Uint8Array(8) }));
    expect(fitting).toBeLessThan(100);
    for (let i = 0; i < fitting; i++) await large(i);
    expect(await remember("first")).toBe("first #1"); // kept beside them all, and now the most recent
    await large(fitting);
    expect(await remember("first")).toBe("first #1");
    expect(await remember("passing")).toBe(`passing #${computed}`);
    // An answer larger than the whole budget is computed every time, and pushes nothing out.
    const huge = "y".repeat(KEPT_ANSWER_BYTES);
    const n = computed;
    for (let i = 0; i < 2; i++) await snapshot.remember("huge", async () => ({ value: { huge, n: ++computed }, keep: true }));
    expect(computed).toBe(n + 2);
    expect(await remember("first")).toBe("first #1");
  });

  it("off: every read goes to D1", async () => {
    const r = await kernel("mac=02:00:00:00:04:01", { OCHAMI_BOOT_SNAPSHOT: "off" });
    expect(r).toEqual({ kernel: "http://k/four", fromSnapshot: false });
  });

  it("serves meta-data from the snapshot, with a group change seen at once", async () => {
    const meta = async () => {
      const ctx = createExecutionContext();
      const req = new Request("http://ochami.test/cloud-init/vendor-data", { cf: { clientIp: "10.1.0.2:40000" } } as RequestInit);
      const res = await worker.fetch(req as any, env as any, ctx);
      await waitOnExecutionContext(ctx);
      return res.text();
    };
    await warm("mac=02:00:00:00:02:01");
    const served = snapshotStats.served;
    expect(await meta()).toBe("#include\nhttp://ochami.test/cloud-init/compute.yaml\n");
    expect(snapshotStats.served).toBe(served + 1);
    expect((await send("POST", "/hsm/v2/groups/slurm/members", { id: "x3000c0s2b0n0" })).status).toBe(201);
    expect(await meta()).toBe("#include\nhttp://ochami.test/cloud-init/compute.yaml\nhttp://ochami.test/cloud-init/slurm.yaml\n");
  });
});

describe("the generation triggers", () => {
  const gen = async () => (await readGeneration(database(env.DB))).generation;
  const bumps = async (what: string) => {
    const before = await gen();
    await sql(what);
    return (await gen()) > before;
  };

  it("count every write to a table the boot path reads, and nothing else", async () => {
    expect(await bumps("UPDATE components SET nid = 77 WHERE id = 'x3000c0s6b0n0'")).toBe(true);
    expect(await bumps("UPDATE components SET state = 'Off', flag = 'Alert' WHERE id = 'x3000c0s6b0n0'")).toBe(false);
    expect(await bumps("UPDATE ethernet_interfaces SET description = 'x' WHERE id = '020000000601'")).toBe(false);
    expect(await bumps("UPDATE ethernet_interfaces SET component_id = '' WHERE id = '020000000601'")).toBe(true);
    expect(
      await bumps("INSERT INTO ethernet_interface_ips (interface_id, ip_address, position) VALUES ('020000000601', '10.1.0.66', 1)"),
    ).toBe(true);
    expect(await bumps("INSERT INTO groups (label) VALUES ('gone')")).toBe(false);
    expect(await bumps("INSERT INTO group_members (group_label, component_id) VALUES ('gone', 'x3000c0s6b0n0')")).toBe(true);
    // A cascade from a table the snapshot does not read still counts.
    expect(await bumps("DELETE FROM groups WHERE label = 'gone'")).toBe(true);
    expect(await bumps("UPDATE boot_configs SET params = 'x' WHERE kernel = 'http://k/default'")).toBe(true);
    expect(await bumps("DELETE FROM boot_assignments WHERE kind = 'mac' AND key = '02:00:00:00:01:02'")).toBe(true);
    expect(await bumps("UPDATE cloud_init_groups SET description = 'd' WHERE name = 'compute'")).toBe(true);
    expect(await bumps("DELETE FROM cloud_init_instances")).toBe(true);
    expect(await bumps("UPDATE cloud_init_cluster_defaults SET region = 'r'")).toBe(true);
    expect(await bumps("INSERT INTO boot_events (name, endpoint, time_ms) VALUES ('x', 'bootscript', 1)")).toBe(false);
  });

  it("cover every table the snapshot loads", async () => {
    const dialect = new SQLiteAsyncDialect();
    const src = Object.values(SNAPSHOT_QUERIES)
      .map((q) => dialect.sqlToQuery(q).sql)
      .join("\n");
    const tables = new Set([...src.matchAll(/FROM "(\w+)"/g)].map((m) => m[1]));
    expect(tables.size).toBeGreaterThan(5);
    tables.delete("boot_generation");
    const triggers = await env.DB.prepare("SELECT tbl_name AS t, name FROM sqlite_master WHERE type = 'trigger'").all<{
      t: string;
      name: string;
    }>();
    for (const t of tables)
      for (const op of ["insert", "update", "delete"])
        expect(
          triggers.results.map((r) => r.name),
          `${t} ${op}`,
        ).toContain(`boot_generation_${t}_${op}`);
  });
});
