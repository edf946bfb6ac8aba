import { describe, expect, it } from "vitest";
import { getJson, problemOf, send } from "./client";

const R = "/hsm/v2/Inventory/RedfishEndpoints";

describe("SMD /Inventory/RedfishEndpoints", () => {
  it("creates a plain endpoint (no inventory) and derives hostname, domain and FQDN", async () => {
    const r = await send("POST", R, {
      ID: "x3000c0s1b0",
      FQDN: "x3000c0s1b0.cluster.local",
      User: "root",
      Password: "pw",
      IPAddress: "10.1.1.1",
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual([{ URI: `${R}/x3000c0s1b0` }]);
    expect((await getJson(`${R}/x3000c0s1b0`)).body).toEqual({
      ID: "x3000c0s1b0",
      Type: "NodeBMC",
      Hostname: "x3000c0s1b0",
      Domain: "cluster.local",
      FQDN: "x3000c0s1b0.cluster.local",
      Enabled: true,
      User: "root",
      Password: "pw",
      IPAddress: "10.1.1.1",
      RediscoverOnUpdate: false,
      DiscoveryInfo: { LastDiscoveryStatus: "NotYetQueried" },
    });
    // Only the endpoint: no components or component endpoints without an inventory payload.
    expect((await getJson("/hsm/v2/State/Components")).body.Components).toEqual([]);
    const only = await send("POST", R, { ID: "x3000c0s2b0" });
    expect(only.status).toBe(201);
    expect((await getJson(`${R}/x3000c0s2b0`)).body).toMatchObject({ Hostname: "", Domain: "", FQDN: "x3000c0s2b0" });
  });

  it("validates with upstream's messages", async () => {
    const cases: Array<[unknown, string]> = [
      [{ ID: "foo" }, "couldn't validate endpoint data: foo is not a valid locational xname ID"],
      [
        { ID: "x9999c7s99b91", FQDN: "MyFQDN", Hostname: "MyHostname" },
        "couldn't validate endpoint data: host/domain conflicts with FQDN: 'MyHostname' != 'MyFQDN'",
      ],
      [{ RedfishEndpoints: [{ ID: "foo" }] }, "couldn't validate endpoint data at idx 0: foo is not a valid locational xname ID"],
      [{ ID: "x1000c0s0b0n0" }, "couldn't validate endpoint data: xname ID x1000c0s0b0n0 has wrong type for RF endpoint: Node"],
      [{}, "couldn't validate endpoint data: No xname ID found"],
      [{ ID: "x3000c0s3b0", IPAddress: "10.1.1" }, "couldn't validate endpoint data: IPAddress is not a valid IP address: '10.1.1'"],
      [{ ID: "x3000c0s3b0", Hostname: "a.b" }, "couldn't validate endpoint data: Hostname is not a basename or IP address."],
    ];
    for (const [body, detail] of cases)
      expect(problemOf(await send("POST", R, body)), JSON.stringify(body)).toMatchObject({ status: 400, detail });
    expect(problemOf(await send("POST", R, { ID: "x3000c0s1b0" }))).toMatchObject({
      status: 409,
      detail: "operation would conflict with an existing resource that has the same FQDN or xname ID.",
    });
    // Another ID with a taken FQDN: the FQDN is unique.
    expect(problemOf(await send("POST", R, { ID: "x3000c0s4b0", FQDN: "x3000c0s1b0.cluster.local" }))).toMatchObject({ status: 409 });
  });

  it("filters, with negation, and answers Query/all", async () => {
    expect((await getJson(`${R}?id=x3000c0s1b0`)).body.RedfishEndpoints).toHaveLength(1);
    expect((await getJson(`${R}?ipaddress=10.1.1.1`)).body.RedfishEndpoints.map((e: any) => e.ID)).toEqual(["x3000c0s1b0"]);
    expect((await getJson(`${R}?fqdn=!x3000c0s2b0`)).body.RedfishEndpoints.map((e: any) => e.ID)).toEqual(["x3000c0s1b0"]);
    expect((await getJson(`${R}?laststatus=NotYetQueried`)).body.RedfishEndpoints).toHaveLength(2);
    expect(problemOf(await getJson(`${R}?id=foo`))).toMatchObject({
      status: 400,
      detail: "bad query param: Argument was not a valid xname ID",
    });
    expect(problemOf(await getJson(`${R}?type=foo`))).toMatchObject({
      status: 400,
      detail: "bad query param: Argument was not a valid HMS Type",
    });
    expect((await getJson(`${R}/Query/all`)).body.RedfishEndpoints).toHaveLength(2);
    expect(problemOf(await getJson(`${R}/Query/x3000c0s1b0`))).toMatchObject({ status: 400, detail: "not yet implemented" });
  });

  it("patches fields, re-deriving the FQDN from a new hostname; FQDN clashes are 409", async () => {
    const p = await send("PATCH", `${R}/x3000c0s1b0`, { Hostname: "bmc1", Enabled: false });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ Hostname: "bmc1", FQDN: "bmc1.cluster.local", Enabled: false });
    expect(problemOf(await send("PATCH", `${R}/x3000c0s2b0`, { FQDN: "bmc1.cluster.local" }))).toMatchObject({
      status: 409,
      detail: "operation would conflict with an existing resource that has the same FQDN",
    });
    expect(problemOf(await send("PATCH", `${R}/foo`, { ID: "foo" }))).toMatchObject({ status: 400, detail: "xname in URL is not valid" });
    expect(problemOf(await send("PATCH", `${R}/x9999c7s99b91`, { Enabled: true }))).toMatchObject({
      status: 404,
      detail: "No such entry: x9999c7s99b91",
    });
  });

  it("PUT creates (201) or replaces (200); the body ID must match the URL", async () => {
    const created = await send("PUT", `${R}/x3000c0s5b0`, { FQDN: "x3000c0s5b0.cluster.local" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ID: "x3000c0s5b0", FQDN: "x3000c0s5b0.cluster.local" });
    const replaced = await send("PUT", `${R}/x3000c0s5b0`, { ID: "x3000c0s5b0", IPAddress: "10.9.9.9" });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ IPAddress: "10.9.9.9", FQDN: "x3000c0s5b0" });
    expect(problemOf(await send("PUT", `${R}/x3000c0s5b0`, { ID: "x3000c0s6b0" }))).toMatchObject({
      status: 400,
      detail: "xname in URL and PUT body do not match",
    });
  });

  it("deletes one (400 for invalid, 404 for absent) and all", async () => {
    expect(problemOf(await send("DELETE", `${R}/foo`))).toMatchObject({ status: 400, detail: "Argument was not a valid xname ID" });
    expect(problemOf(await send("DELETE", `${R}/x9999c7s99b91`))).toMatchObject({ status: 404, detail: "no such xname." });
    expect((await send("DELETE", `${R}/x3000c0s5b0`)).body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect((await send("DELETE", R)).body).toEqual({ code: 0, message: "deleted 2 entries" });
    expect(problemOf(await send("DELETE", R))).toMatchObject({ status: 404, detail: "no entries to delete" });
  });

  it("component endpoints: 400 for alphanumeric invalid IDs, 404 otherwise; service endpoints are empty", async () => {
    expect(problemOf(await getJson("/hsm/v2/Inventory/ComponentEndpoints/x9999999c7s9b9"))).toMatchObject({ status: 400 });
    expect(problemOf(await getJson("/hsm/v2/Inventory/ComponentEndpoints/1"))).toMatchObject({ status: 400 });
    expect(problemOf(await getJson("/hsm/v2/Inventory/ComponentEndpoints/x9999c7s9b9"))).toMatchObject({
      status: 404,
      detail: "no such xname.",
    });
    expect(problemOf(await send("DELETE", "/hsm/v2/Inventory/ComponentEndpoints/FAKE"))).toMatchObject({ status: 400 });
    expect(problemOf(await send("DELETE", "/hsm/v2/Inventory/ComponentEndpoints"))).toMatchObject({ status: 404 });
    expect((await send("POST", "/hsm/v2/Inventory/ComponentEndpoints", {})).status).toBe(405);
    expect((await getJson("/hsm/v2/Inventory/ServiceEndpoints")).body).toEqual({ ServiceEndpoints: [] });
  });
});

describe("SMD /Defaults/NodeMaps", () => {
  it("stores maps that fill NID and Role for nodes created without them", async () => {
    const post = await send("POST", "/hsm/v2/Defaults/NodeMaps", {
      NodeMaps: [{ ID: "x5c0s0b0n0", NID: 77, Role: "service", SubRole: "master" }],
    });
    expect(post.status).toBe(204);
    expect((await getJson("/hsm/v2/Defaults/NodeMaps/x5c0s0b0n0")).body).toEqual({
      ID: "x5c0s0b0n0",
      NID: 77,
      Role: "Service",
      SubRole: "Master",
    });
    await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x5c0s0b0n0", State: "On" }] });
    expect((await getJson("/hsm/v2/State/Components/x5c0s0b0n0")).body).toMatchObject({ NID: 77, Role: "Service", SubRole: "Master" });
  });

  it("validates and keeps NIDs unique", async () => {
    const cases: Array<[unknown, string]> = [
      [{ NodeMaps: [{ ID: "x9999c7s9b9n9", Role: "Compute" }] }, "couldn't validate map data at idx 0: NID '0' is out of range"],
      [{ NodeMaps: [{ ID: "x9999c7s9b9n9", NID: 5, Role: "FAKE" }] }, "couldn't validate map data at idx 0: Role 'FAKE' is not valid."],
      [
        { NodeMaps: [{ ID: "x9999c7s9b9n9", NID: 5, SubRole: "FAKE" }] },
        "couldn't validate map data at idx 0: SubRole 'FAKE' is not valid.",
      ],
      [{ NodeMaps: [{ NID: 5 }] }, "couldn't validate map data at idx 0: xname ID '' is invalid or not a node"],
    ];
    for (const [body, detail] of cases)
      expect(problemOf(await send("POST", "/hsm/v2/Defaults/NodeMaps", body))).toMatchObject({ status: 400, detail });
    expect(
      problemOf(
        await send("POST", "/hsm/v2/Defaults/NodeMaps", {
          NodeMaps: [
            { ID: "x5c0s0b0n1", NID: 9 },
            { ID: "x5c0s0b0n2", NID: 9 },
          ],
        }),
      ),
    ).toMatchObject({ status: 409, detail: "operation would conflict with an existing xname ID that has the same NID." });
    expect(problemOf(await send("PUT", "/hsm/v2/Defaults/NodeMaps/x5c0s0b0n3", { NID: 77 }))).toMatchObject({
      status: 409,
      detail: "operation would conflict with an existing resource that has the same NID",
    });
    expect(problemOf(await send("PUT", "/hsm/v2/Defaults/NodeMaps/FAKE", { NID: 1 }))).toMatchObject({
      status: 400,
      detail: "couldn't validate map data: xname ID 'fake' is invalid or not a node",
    });
    expect(problemOf(await send("DELETE", "/hsm/v2/Defaults/NodeMaps/FAKE"))).toMatchObject({ status: 400, detail: "invalid xname" });
    expect((await send("DELETE", "/hsm/v2/Defaults/NodeMaps/x5c0s0b0n0")).status).toBe(200);
    expect(problemOf(await send("DELETE", "/hsm/v2/Defaults/NodeMaps"))).toMatchObject({ status: 404, detail: "no entries to delete" });
  });
});
