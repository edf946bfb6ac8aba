import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { apiClientOf } from "../../onprem-agent/agent";
import { apiConfigSchema } from "../../onprem-agent/config";
import { buildReservations, inventoryConfigSchema, renderHostname, SmdInventory } from "../../onprem-agent/inventory";
import { freePort } from "../head-node/ports";
import { ManualClock } from "../support/manual-clock";
import { seedNodes } from "./smd-seed";

describe("SMD inventory cache against the real API", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "dh-inv-"));
  let api: ApiServer;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    api = await startApiServer({ port, stateDir: dir, vars: { OCHAMI_AUTH: "off" }, onLog: () => {} });
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("joins EthernetInterfaces and Components into reservations with hostnames", async () => {
    await seedNodes(api.url, [
      { xname: "x1000c1s7b0n0", nid: 1, mac: "EC:E7:A7:05:A1:FC", ip: "172.16.0.1" },
      { xname: "x1000c1s7b1n0", nid: 12, mac: "ec:e7:a7:05:a1:fd", ip: "172.16.0.2" },
    ]);
    // A BMC: no NID, hostname falls back to the xname.
    await fetch(`${api.url}/hsm/v2/State/Components`, {
      method: "POST",
      body: JSON.stringify({ Components: [{ ID: "x1000c1s7b0", State: "Ready" }] }),
    });
    await fetch(`${api.url}/hsm/v2/Inventory/EthernetInterfaces`, {
      method: "POST",
      body: JSON.stringify({ MACAddress: "c2:77:05:e2:03:48", ComponentID: "x1000c1s7b0", IPAddresses: [{ IPAddress: "172.16.0.101" }] }),
    });
    // No IP: not a reservation.
    await fetch(`${api.url}/hsm/v2/Inventory/EthernetInterfaces`, {
      method: "POST",
      body: JSON.stringify({ MACAddress: "c2:77:05:e2:03:49", ComponentID: "x1000c1s7b0" }),
    });
    const inv = new SmdInventory(apiClientOf(apiConfigSchema.parse({ url: api.url })), inventoryConfigSchema.parse({}));
    await inv.refresh("test");
    expect(inv.size).toBe(3);
    expect(inv.lookup("ec:e7:a7:05:a1:fc")).toEqual({
      mac: "ec:e7:a7:05:a1:fc",
      ips: ["172.16.0.1"],
      xname: "x1000c1s7b0n0",
      nid: 1,
      type: "Node",
      hostname: "nid0001",
    });
    expect(inv.lookup("ec:e7:a7:05:a1:fd")?.hostname).toBe("nid0012");
    expect(inv.lookup("c2:77:05:e2:03:48")).toMatchObject({ type: "NodeBMC", hostname: "x1000c1s7b0", ips: ["172.16.0.101"] });
    expect(inv.lookup("c2:77:05:e2:03:49")).toBeUndefined();
  });

  it("keeps serving the last good copy while the API is down, and picks up changes when it is back", async () => {
    const errors: string[] = [];
    const inv = new SmdInventory(apiClientOf(apiConfigSchema.parse({ url: api.url, timeout: 2 })), inventoryConfigSchema.parse({}), {
      onError: (e) => errors.push(e.message),
    });
    await inv.refresh("test");
    const before = inv.size;
    expect(before).toBeGreaterThan(0);
    await api.stop();
    await inv.refresh("test");
    expect(errors).toHaveLength(1);
    expect(inv.size).toBe(before);
    expect(inv.lookup("ec:e7:a7:05:a1:fc")?.ips).toEqual(["172.16.0.1"]);
    api = await startApiServer({ port, stateDir: dir, vars: { OCHAMI_AUTH: "off" }, onLog: () => {} });
    await seedNodes(api.url, [{ xname: "x1000c1s7b0n1", nid: 2, mac: "ec:e7:a7:05:a1:fe", ip: "172.16.0.3" }]);
    await inv.refresh("test");
    expect(inv.size).toBe(before + 1);
  });

  it("parses nothing when SMD answers what the copy in place was built from, and rebuilds on any change", async () => {
    const refreshes: Array<{ size: number; unchanged: boolean }> = [];
    const inv = new SmdInventory(apiClientOf(apiConfigSchema.parse({ url: api.url })), inventoryConfigSchema.parse({}), {
      onRefresh: ({ size, unchanged }) => refreshes.push({ size, unchanged }),
    });
    await inv.refresh("test");
    await inv.refresh("test");
    const size = refreshes[0].size;
    expect(refreshes).toEqual([
      { size, unchanged: false },
      { size, unchanged: true },
    ]);
    expect(inv.lookup("ec:e7:a7:05:a1:fe")?.ips).toEqual(["172.16.0.3"]);
    // A component's NID changes (the interfaces stay the same): rebuilt, with the new hostname.
    const put = await fetch(`${api.url}/hsm/v2/State/Components/BulkNID`, {
      method: "PATCH",
      body: JSON.stringify({ Components: [{ ID: "x1000c1s7b0n1", NID: 7 }] }),
    });
    expect(put.status).toBeLessThan(300);
    await inv.refresh("test");
    expect(refreshes[2]).toEqual({ size, unchanged: false });
    expect(inv.lookup("ec:e7:a7:05:a1:fe")?.hostname).toBe("nid0007");
    await inv.refresh("test");
    expect(refreshes[3]).toEqual({ size, unchanged: true });
    expect(inv.lookup("ec:e7:a7:05:a1:fe")?.hostname).toBe("nid0007");
  });
});

describe("inventory refresh on a miss", () => {
  let server: Server;
  let gets = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      gets++;
      res.writeHead(200, { "content-type": "application/json" });
      res.end(req.url?.includes("EthernetInterfaces") ? "[]" : '{"Components":[]}');
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });
  afterAll(() => new Promise((r) => server.close(r)));

  /**
   * On a clock the test moves: `advance()` says how many timers fell due, so "no refresh yet" is
   * known, not waited for; a refresh a timer started is awaited through missRefresh(), which hands
   * out the one in flight.
   */
  it("is rate-limited to one per missRefreshInterval and coalesced", async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const clock = new ManualClock();
    const inv = new SmdInventory(
      apiClientOf(apiConfigSchema.parse({ url })),
      inventoryConfigSchema.parse({ missRefreshInterval: "300ms", refreshInterval: "1h" }),
      {},
      clock,
    );
    await inv.start();
    expect(clock.pending()).toEqual([3_600_000]); // the interval refresh
    gets = 0;
    for (let i = 0; i < 100; i++) inv.onMiss(`02:00:00:00:00:${i.toString(16).padStart(2, "0")}`);
    // The start-up refresh was less than 300 ms ago: one is scheduled for when it may run, no sooner.
    expect(clock.pending()).toEqual([300, 3_600_000]);
    expect(clock.advance(299)).toBe(0);
    expect(gets).toBe(0);
    expect(clock.advance(1)).toBe(1);
    await inv.missRefresh("02:00:00:00:00:01");
    expect(gets).toBe(2); // one refresh = two GETs
    for (let i = 0; i < 100; i++) inv.onMiss("02:00:00:00:00:01");
    expect(clock.advance(299)).toBe(0);
    expect(gets).toBe(2);
    expect(clock.advance(1)).toBe(1);
    await inv.missRefresh("02:00:00:00:00:01");
    expect(gets).toBe(4);
    // missRefresh() hands DHCP a refresh to wait for when one is due, none when not.
    clock.advance(300);
    const due = inv.missRefresh("02:00:00:00:00:01");
    expect(due).toBeInstanceOf(Promise);
    expect(inv.missRefresh("02:00:00:00:00:01")).toBe(due); // the same one, still running
    await due;
    expect(gets).toBe(6);
    expect(inv.missRefresh("02:00:00:00:00:01")).toBeUndefined();
    expect(clock.pending()[0]).toBe(300); // ...and one is scheduled instead
    inv.stop();
    expect(clock.pending()).toEqual([]);
  });
});

describe("reservation building", () => {
  it("renders hostname patterns as coresmd does, with fallbacks", () => {
    expect(renderHostname("nid{04d}", { nid: 7, xname: "x1c0s0b0n0" })).toBe("nid0007");
    expect(renderHostname("nid{03d}", { nid: 7 })).toBe("nid007");
    expect(renderHostname("{id}-n{nid}", { nid: 7, xname: "x1c0s0b0n0" })).toBe("x1c0s0b0n0-n7");
    expect(renderHostname("nid{04d}", { xname: "x1c0s0b0" })).toBe("x1c0s0b0");
    expect(renderHostname("nid{04d}", {})).toBeUndefined();
  });

  it("skips malformed entries and rejects malformed lists", () => {
    const m = buildReservations(
      [
        { MACAddress: "not-a-mac", IPAddresses: [{ IPAddress: "10.0.0.1" }] },
        { MACAddress: "02:00:00:00:00:01", IPAddresses: [{ IPAddress: "fd00::1" }, { IPAddress: "10.0.0.2" }] },
        null,
        5,
      ],
      { Components: [] },
      { default: "{id}" },
    );
    expect([...m.keys()]).toEqual(["02:00:00:00:00:01"]);
    expect(m.get("02:00:00:00:00:01")!.ips).toEqual(["10.0.0.2"]);
    expect(() => buildReservations({}, { Components: [] }, {})).toThrow(/not an array/);
    expect(() => buildReservations([], [], {})).toThrow(/Components/);
  });
});
