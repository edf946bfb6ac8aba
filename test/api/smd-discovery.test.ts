import { describe, expect, it } from "vitest";
import { NOT_POLLED } from "../../workers/smd/discovery/routes";
import { send } from "./client";

/**
 * Discovery status and discover (upstream's test_discovery_status and test_discover stages), and
 * power maps. This SMD does not poll Redfish: Discover checks its request as upstream and records
 * in DiscoveryStatus 0 that no poll ran and why.
 */
describe("discovery status", () => {
  it("lists upstream's one record, NotStarted until a discovery is asked for", async () => {
    const all = await send("GET", "/hsm/v2/Inventory/DiscoveryStatus");
    expect(all.status).toBe(200);
    expect(all.body).toEqual([{ ID: 0, Status: "NotStarted", LastUpdateTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), Details: {} }]);
    const one = await send("GET", `/hsm/v2/Inventory/DiscoveryStatus/${all.body[0].ID}`);
    expect(one.body).toEqual(all.body[0]);
  });

  it("answers upstream's 404 and 400", async () => {
    const missing = await send("GET", "/hsm/v2/Inventory/DiscoveryStatus/999999999");
    expect([missing.status, missing.body.detail]).toEqual([404, "no such DiscoveryStatus ID."]);
    for (const id of ["FAKE", "-1", "1.5", "99999999999"]) {
      const bad = await send("GET", `/hsm/v2/Inventory/DiscoveryStatus/${id}`);
      expect([bad.status, bad.body.detail], id).toEqual([400, "DiscoveryStatus ID not an unsigned integer"]);
    }
  });
});

describe("discover", () => {
  it("without endpoints: 404 for the collection and for a named one", async () => {
    const none = await send("POST", "/hsm/v2/Inventory/Discover", {});
    expect([none.status, none.body.detail]).toEqual([404, "RedfishEndpoints collection is empty"]);
    const named = await send("POST", "/hsm/v2/Inventory/Discover", { xnames: ["x1c0s0b0"], force: false });
    expect([named.status, named.body.detail]).toEqual([404, "No such RedfishEndpoint: x1c0s0b0"]);
    const bad = await send("POST", "/hsm/v2/Inventory/Discover", ["x1c0s0b0"]);
    expect([bad.status, bad.body.detail]).toEqual([400, "POST body was not understood"]);
  });

  it("replays test_discover: one endpoint, then two, then the status says what was (not) done", async () => {
    for (const id of ["x1c0s0b0", "x1c0s1b0", "x1c0s2b0"])
      expect((await send("POST", "/hsm/v2/Inventory/RedfishEndpoints", { ID: id })).status).toBe(201);
    const eps = (await send("GET", "/hsm/v2/Inventory/RedfishEndpoints?type=NodeBMC")).body.RedfishEndpoints.map((e: any) => e.ID);
    const before = Date.now();
    for (const xnames of [[eps[0]], [eps[1], eps[2]]]) {
      const r = await send("POST", "/hsm/v2/Inventory/Discover", { xnames, force: false });
      expect([r.status, r.body]).toEqual([200, [{ URI: "/hsm/v2/Inventory/DiscoveryStatus/0" }]]);
    }
    const [status] = (await send("GET", "/hsm/v2/Inventory/DiscoveryStatus")).body;
    expect(status).toMatchObject({ ID: 0, Status: "Complete", Details: { description: NOT_POLLED } });
    expect(Date.parse(status.LastUpdateTime)).toBeGreaterThanOrEqual(before - 1000);
    // Every endpoint, with names in any spelling; the endpoints themselves are untouched.
    expect((await send("POST", "/hsm/v2/Inventory/Discover", { xnames: ["X1C0S0B0"] })).status).toBe(200);
    expect((await send("POST", "/hsm/v2/Inventory/Discover", { force: true })).status).toBe(200);
    const ep = (await send("GET", "/hsm/v2/Inventory/RedfishEndpoints/x1c0s0b0")).body;
    expect(ep.DiscoveryInfo).toEqual({ LastDiscoveryStatus: "NotYetQueried" });
  });
});

describe("power maps (/sysinfo/powermaps)", () => {
  it("creates, reads, replaces and deletes, with upstream's wording", async () => {
    expect((await send("GET", "/hsm/v2/sysinfo/powermaps")).body).toEqual([]);
    const created = await send("POST", "/hsm/v2/sysinfo/powermaps", [
      { id: "x0c0s1b0n0", poweredBy: ["x0m0p0j10", "x0m0p0j11"] },
      { ID: "X0C0S2B0N0", PoweredBy: ["x0m0p0j12"] },
    ]);
    expect([created.status, created.body]).toEqual([200, { code: 0, message: "Created or modified 2 entries" }]);
    expect((await send("GET", "/hsm/v2/sysinfo/powermaps")).body).toEqual([
      { id: "x0c0s1b0n0", poweredBy: ["x0m0p0j10", "x0m0p0j11"] },
      { id: "x0c0s2b0n0", poweredBy: ["x0m0p0j12"] },
    ]);
    const put = await send("PUT", "/hsm/v2/sysinfo/powermaps/x0c0s1b0n0", { poweredBy: ["x0m0p1j1"] });
    expect([put.status, put.body]).toEqual([200, { id: "x0c0s1b0n0", poweredBy: ["x0m0p1j1"] }]);
    expect((await send("GET", "/hsm/v2/sysinfo/powermaps/x0c0s1b0n0")).body).toEqual({ id: "x0c0s1b0n0", poweredBy: ["x0m0p1j1"] });
    expect((await send("DELETE", "/hsm/v2/sysinfo/powermaps/x0c0s1b0n0")).body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect((await send("GET", "/hsm/v2/sysinfo/powermaps/x0c0s1b0n0")).body.detail).toBe("no such xname.");
    expect((await send("DELETE", "/hsm/v2/sysinfo/powermaps")).body).toEqual({ code: 0, message: "deleted 1 entries" });
    expect((await send("DELETE", "/hsm/v2/sysinfo/powermaps")).body.detail).toBe("no entries to delete");
  });

  it("refuses what upstream refuses", async () => {
    const cases: Array<[string, string, unknown, number, string]> = [
      ["POST", "/hsm/v2/sysinfo/powermaps", [{ id: "x0c0s1b0n0" }], 400, "poweredby is required for PowerMaps"],
      [
        "POST",
        "/hsm/v2/sysinfo/powermaps",
        [{ id: "nope", poweredBy: ["x0m0p0j1"] }],
        400,
        "couldn't validate map data at idx 0: xname ID 'nope' is invalid",
      ],
      [
        "POST",
        "/hsm/v2/sysinfo/powermaps",
        [
          { id: "x0c0s1b0n0", poweredBy: ["x0m0p0j1"] },
          { id: "x0c0s1b0n1", poweredBy: ["bad"] },
        ],
        400,
        "couldn't validate map data at idx 1: Power supply xname ID 'bad' is invalid",
      ],
      [
        "PUT",
        "/hsm/v2/sysinfo/powermaps/x0c0s1b0n0",
        { id: "x0c0s1b0n1", poweredBy: ["x0m0p0j1"] },
        400,
        "xname in URL and PUT body do not match",
      ],
      ["PUT", "/hsm/v2/sysinfo/powermaps/x0c0s1b0n0", {}, 400, "poweredby is required in PUT body"],
      [
        "PUT",
        "/hsm/v2/sysinfo/powermaps/bad",
        { poweredBy: ["x0m0p0j1"] },
        400,
        "couldn't validate PowerMap data: xname ID 'bad' is invalid",
      ],
      ["GET", "/hsm/v2/sysinfo/powermaps/bad", undefined, 400, "invalid xname"],
      ["DELETE", "/hsm/v2/sysinfo/powermaps/bad", undefined, 400, "invalid xname"],
    ];
    for (const [method, path, body, status, detail] of cases) {
      const r = await send(method, path, body);
      expect([r.status, r.body?.detail], `${method} ${path}`).toEqual([status, detail]);
    }
    // Nothing of a refused batch was stored.
    expect((await send("GET", "/hsm/v2/sysinfo/powermaps")).body).toEqual([]);
  });
});
