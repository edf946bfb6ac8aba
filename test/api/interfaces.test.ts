import { describe, expect, it, vi } from "vitest";
import { getJson, problemOf, send } from "./client";

const BASE = "/hsm/v2/Inventory/EthernetInterfaces";

describe("SMD /Inventory/EthernetInterfaces", () => {
  it("creates an interface from an upper-case dashed MAC and normalises ID and MAC", async () => {
    const r = await send("POST", BASE, {
      Description: "node01 mgmt",
      MACAddress: "DE-AD-BE-EE-EE-F1",
      ComponentID: "x1000c1s7b0n0",
      IPAddresses: [{ IPAddress: "172.16.0.1", Network: "mgmt" }, { IPAddress: "10.0.0.1" }],
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({ URI: `${BASE}/deadbeeeeef1` });
    expect(r.res.headers.get("location")).toBe(`${BASE}/deadbeeeeef1`);
    const got = await getJson(`${BASE}/DEADBEEEEEF1`);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({
      ID: "deadbeeeeef1",
      Description: "node01 mgmt",
      MACAddress: "de:ad:be:ee:ee:f1",
      ComponentID: "x1000c1s7b0n0",
      Type: "Node",
      IPAddresses: [{ IPAddress: "172.16.0.1", Network: "mgmt" }, { IPAddress: "10.0.0.1" }],
    });
    expect(got.body.LastUpdate).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  it("lists publicly as a bare array, with case-insensitive filters and a trailing slash", async () => {
    await send("POST", BASE, { MACAddress: "de:ca:fc:0f:ee:ee", ComponentID: "x1000c1s7b0", IPAddresses: [{ IPAddress: "172.16.0.101" }] });
    const all = await getJson(`${BASE}/`);
    expect(all.status).toBe(200);
    expect(all.body.map((i: any) => i.ID).sort()).toEqual(["deadbeeeeef1", "decafc0feeee"]);
    expect((await getJson(`${BASE}?macaddress=DE:CA:FC:0F:EE:EE`)).body.map((i: any) => i.ID)).toEqual(["decafc0feeee"]);
    expect((await getJson(`${BASE}?IPAddress=10.0.0.1`)).body.map((i: any) => i.ID)).toEqual(["deadbeeeeef1"]);
    expect((await getJson(`${BASE}?type=NodeBMC`)).body.map((i: any) => i.ID)).toEqual(["decafc0feeee"]);
    expect((await getJson(`${BASE}?ComponentID=x1000c1s7b0n0&Network=mgmt`)).body).toHaveLength(1);
    expect((await getJson(`${BASE}?Network=nope`)).body).toEqual([]);
    expect(problemOf(await getJson(`${BASE}?Type=Booster`))).toMatchObject({ status: 400, detail: "Invalid HMS type." });
    expect(problemOf(await getJson(`${BASE}?ComponentID=foo`))).toMatchObject({ status: 400, detail: "Invalid CompID." });
    expect(problemOf(await getJson(`${BASE}?OlderThan=yesterday`))).toMatchObject({
      status: 400,
      detail: "bad query param: Argument was not in a valid RFC3339 time format",
    });
    expect((await getJson(`${BASE}?NewerThan=2000-01-01T00:00:00Z`)).body).toHaveLength(2);
    expect((await getJson(`${BASE}?OlderThan=2000-01-01T00:00:00Z`)).body).toHaveLength(0);
  });

  it("rejects bad MACs, IPs, component IDs and duplicate MACs", async () => {
    expect(problemOf(await send("POST", BASE, { MACAddress: "zz:zz" }))).toMatchObject({
      status: 400,
      detail: "MAC string has invalid length",
    });
    expect(problemOf(await send("POST", BASE, { MACAddress: "02:00:00:00:00:01", ComponentID: "nonsense" }))).toMatchObject({
      status: 400,
      detail: "Invalid CompEthInterface component ID",
    });
    expect(problemOf(await send("POST", BASE, { MACAddress: "02:00:00:00:00:01", IPAddresses: [{ IPAddress: "" }] }))).toMatchObject({
      status: 400,
      detail: "Invalid CompEthInterface IP Address",
    });
    expect((await send("POST", BASE, { MACAddress: "02:00:00:00:00:01", IPAddresses: [{ IPAddress: "300.1.1.1" }] })).status).toBe(400);
    expect(problemOf(await send("POST", BASE, { MACAddress: "DE:AD:BE:EE:EE:F1" }))).toMatchObject({
      status: 409,
      type: "application/problem+json",
      detail: "operation would conflict with an existing component ethernet interface that has the same MAC address.",
    });
    expect((await send("POST", BASE, "{not json")).status).toBe(400);
  });

  it("patches description, component and the IP list; IP changes bump LastUpdate", async () => {
    const before = (await getJson(`${BASE}/deadbeeeeef1`)).body;
    // The API's clock (the handlers run in this isolate), set a minute past the stored time: a
    // PATCH that bumped LastUpdate could not leave it unchanged by landing in the same millisecond.
    const later = Date.parse(before.LastUpdate) + 60_000;
    vi.useFakeTimers({ toFake: ["Date"], now: later });
    let ips: { body: any };
    try {
      const d = await send("PATCH", `${BASE}/deadbeeeeef1`, { Description: "renamed" });
      expect(d.status).toBe(200);
      expect(d.body.Description).toBe("renamed");
      expect(d.body.LastUpdate).toBe(before.LastUpdate);
      ips = await send("PATCH", `${BASE}/deadbeeeeef1`, { IPAddresses: [{ IPAddress: "172.16.0.9", Network: "hsn" }] });
    } finally {
      vi.useRealTimers();
    }
    expect(ips.body.IPAddresses).toEqual([{ IPAddress: "172.16.0.9", Network: "hsn" }]);
    expect(ips.body.LastUpdate > before.LastUpdate).toBe(true);
    expect(Date.parse(ips.body.LastUpdate)).toBe(later); // bumped to the time of the change
    const comp = await send("PATCH", `${BASE}/deadbeeeeef1`, { ComponentID: "x1000c1s7b0" });
    expect(comp.body).toMatchObject({ ComponentID: "x1000c1s7b0", Type: "NodeBMC" });
    expect(problemOf(await send("PATCH", `${BASE}/deadbeeeeef1`, { foo: 1 }))).toMatchObject({
      status: 400,
      detail: "Request must have at least one patch field.",
    });
    expect(problemOf(await send("PATCH", `${BASE}/000000000000`, { Description: "x" }))).toMatchObject({
      status: 404,
      detail: "no such component ethernet interface.",
    });
  });

  it("manages the IPAddresses sub-resource", async () => {
    const add = await send("POST", `${BASE}/deadbeeeeef1/IPAddresses`, { IPAddress: "99.9.9.8", Network: "net" });
    expect(add.status).toBe(201);
    expect(add.body).toEqual({ URI: `${BASE}/deadbeeeeef1/IPAddresses/99.9.9.8` });
    expect((await send("POST", `${BASE}/deadbeeeeef1/IPAddresses`, { IPAddress: "99.9.9.8" })).status).toBe(409);
    expect((await send("POST", `${BASE}/000000000000/IPAddresses`, { IPAddress: "99.9.9.7" })).status).toBe(404);
    expect((await getJson(`${BASE}/deadbeeeeef1/IPAddresses`)).body).toEqual([
      { IPAddress: "172.16.0.9", Network: "hsn" },
      { IPAddress: "99.9.9.8", Network: "net" },
    ]);
    const patch = await send("PATCH", `${BASE}/deadbeeeeef1/IPAddresses/99.9.9.8`, { Network: "new" });
    expect(patch.body).toEqual({ IPAddress: "99.9.9.8", Network: "new" });
    expect((await send("PATCH", `${BASE}/deadbeeeeef1/IPAddresses/1.1.1.1`, { Network: "x" })).status).toBe(404);
    expect((await send("PATCH", `${BASE}/deadbeeeeef1/IPAddresses/99.9.9.8`, {})).status).toBe(400);
    expect((await send("DELETE", `${BASE}/deadbeeeeef1/IPAddresses/99.9.9.8`)).body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect(problemOf(await send("DELETE", `${BASE}/deadbeeeeef1/IPAddresses/99.9.9.8`))).toMatchObject({
      status: 404,
      detail: "component ethernet interface has no such ip address.",
    });
  });

  it("deletes one and all, and answers 405 for unknown methods", async () => {
    expect((await send("PUT", BASE, {})).status).toBe(405);
    expect((await send("DELETE", `${BASE}/deadbeeeeef1`)).body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect((await send("DELETE", `${BASE}/deadbeeeeef1`)).status).toBe(404);
    expect((await getJson(BASE)).body.map((i: any) => i.ID)).toEqual(["decafc0feeee"]);
    expect((await send("DELETE", BASE)).body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect(problemOf(await send("DELETE", BASE))).toMatchObject({ status: 404, detail: "no entries to delete" });
  });
});

describe("IP spellings", () => {
  it("stores IPv6 in one canonical spelling and finds it however it is written", async () => {
    const r = await send("POST", BASE, {
      MACAddress: "02:00:00:00:00:06",
      ComponentID: "x1000c1s7b0n6",
      IPAddresses: [{ IPAddress: "FD63:0:0::0005" }],
    });
    expect(r.status).toBe(201);
    expect((await getJson(`${BASE}/020000000006`)).body.IPAddresses).toEqual([{ IPAddress: "fd63::5" }]);
    expect((await getJson(`${BASE}?IPAddress=fd63:0000:0000:0000:0000:0000:0000:0005`)).body.map((i: any) => i.ID)).toEqual([
      "020000000006",
    ]);
  });
});
