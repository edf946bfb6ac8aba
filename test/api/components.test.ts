import { describe, expect, it } from "vitest";
import { getJson, problemOf, send } from "./client";

const C = "/hsm/v2/State/Components";
const ids = (r: { body: any }) => r.body.Components.map((c: any) => c.ID);

describe("SMD /State/Components", () => {
  it("creates with defaults: Flag OK, Enabled true, Node Role Compute and position-derived NID", async () => {
    const post = await send("POST", C, {
      Components: [
        { ID: "X1000C1S7B0N0", State: "ready", Role: "compute", NID: 1, Arch: "x86" },
        { ID: "x1000c1s7b0n1", State: "On" },
        { ID: "x1000c1s7b0", State: "Ready", Type: "Cabinet" },
        { ID: "x1000c1s7b1n0", State: "Off", Enabled: false, NID: "5", SubRole: "worker", Class: "river", NetType: "sling" },
      ],
    });
    expect(post.status).toBe(204);
    expect(post.text).toBe("");
    expect((await getJson(`${C}/x1000c1s7b0n0`)).body).toEqual({
      ID: "x1000c1s7b0n0",
      Type: "Node",
      State: "Ready",
      Flag: "OK",
      Enabled: true,
      Role: "Compute",
      NID: 1,
      Arch: "X86",
    });
    // (1000+1)*16384 + 1*2048 + 7*32 + 0*4 + 1
    expect((await getJson(`${C}/x1000c1s7b0n1`)).body).toMatchObject({ NID: 16402657, Role: "Compute" });
    expect((await getJson(`${C}/x1000c1s7b0`)).body).toEqual({
      ID: "x1000c1s7b0",
      Type: "NodeBMC",
      State: "Ready",
      Flag: "OK",
      Enabled: true,
    });
    expect((await getJson(`${C}/x1000c1s7b1n0`)).body).toMatchObject({
      Enabled: false,
      NID: 5,
      SubRole: "Worker",
      Class: "River",
      NetType: "Sling",
    });
  });

  it("leaves existing components alone without force, and with force changes only State/Flag/Subtype/NetType/Arch/Class", async () => {
    await send("POST", C, { Components: [{ ID: "x1000c1s7b0n0", State: "Off", NID: 99, Role: "Service" }] });
    expect((await getJson(`${C}/x1000c1s7b0n0`)).body).toMatchObject({ State: "Ready", NID: 1, Role: "Compute" });
    await send("POST", C, { force: true, Components: [{ ID: "x1000c1s7b0n0", State: "Off", NID: 99, Role: "Service", Arch: "ARM" }] });
    expect((await getJson(`${C}/x1000c1s7b0n0`)).body).toMatchObject({ State: "Off", NID: 1, Role: "Compute", Arch: "ARM" });
    const put = await send("PUT", `${C}/x1000c1s7b0n0`, { Component: { State: "Ready" }, Force: true });
    expect(put.status).toBe(204);
    expect((await getJson(`${C}/x1000c1s7b0n0`)).body).toMatchObject({ State: "Ready", Flag: "OK" });
  });

  it("validates bodies with upstream's messages, as 400 (never 500)", async () => {
    const cases: Array<[unknown, string]> = [
      [{ Components: [{ FAKE: "x1c0", State: "On" }] }, "Missing Components"],
      [{ Components: [] }, "Missing Components"],
      [{ Components: [{ ID: "x9999c7r9FAKE9", State: "Ready" }] }, "couldn't validate components: xname ID 'x9999c7r9FAKE9' is invalid"],
      [{ Components: [{ ID: "x1c0", State: "FAKE" }] }, "couldn't validate components: state 'FAKE' is invalid"],
      [{ Components: [{ ID: "x1c0", State: "On", Flag: "FAKE" }] }, "couldn't validate components: flag 'FAKE' is invalid"],
      [{ Components: [{ ID: "x1c0", State: "On", Arch: "FAKE" }] }, "couldn't validate components: arch 'FAKE' is invalid"],
      [{ Components: [{ ID: "x1c0", State: "On", Class: "FAKE" }] }, "couldn't validate components: class 'FAKE' is invalid"],
      [{ Components: [{ ID: "x1c0", State: "On", NetType: "FAKE" }] }, "couldn't validate components: netType 'FAKE' is invalid"],
      [{ Components: [{ ID: "x1c0", State: "On", Role: "FAKE" }] }, "couldn't validate components: role 'FAKE' is invalid"],
      [{ Components: [{ ID: "x1c0" }] }, "couldn't validate components: state '' is invalid"],
    ];
    for (const [body, detail] of cases) {
      const r = await send("POST", C, body);
      expect(problemOf(r), JSON.stringify(body)).toEqual({ status: 400, type: "application/problem+json", title: "Bad Request", detail });
    }
    const typed = await send("POST", C, { Components: [{ ID: "x1c0", State: "On", Enabled: "fake" }] });
    expect(typed.status).toBe(400);
    expect(typed.body.detail).toMatch(/Components\[0\]\.Enabled: expected a boolean/);
    expect((await send("POST", C, { Components: [{ ID: "x1c0", State: "On" }], force: "yes" })).status).toBe(400);
    expect((await send("POST", C, "{")).status).toBe(400);
    expect((await send("POST", C, "")).status).toBe(400);
    expect((await send("POST", C, [])).status).toBe(400);
    expect(problemOf(await send("PUT", `${C}/x1000c1s7b0n0`, { Component: { ID: "x1000c1s7b0n1", State: "On" } }))).toMatchObject({
      status: 400,
      detail: "ID in URL and POST body do not match",
    });
  });

  it("filters with OR within a key, AND across keys, ! negation, case-insensitive names and values", async () => {
    expect(ids(await getJson(`${C}?type=Node&state=Ready`))).toEqual(["x1000c1s7b0n0"]);
    expect(ids(await getJson(`${C}?TYPE=node&State=ready&state=off`))).toEqual(["x1000c1s7b0n0", "x1000c1s7b1n0"]);
    expect(ids(await getJson(`${C}?type=Node&state=!Ready&state=!Off`))).toEqual(["x1000c1s7b0n1"]);
    expect(ids(await getJson(`${C}?enabled=false`))).toEqual(["x1000c1s7b1n0"]);
    expect(ids(await getJson(`${C}?nid=1&nid=5`))).toEqual(["x1000c1s7b0n0", "x1000c1s7b1n0"]);
    expect(ids(await getJson(`${C}?nid_start=2&nid_end=10`))).toEqual(["x1000c1s7b1n0"]);
    // Any number of ranges (two bound parameters each passed D1's 100 with the 50th: a 500).
    const ranges = Array.from({ length: 60 }, (_, i) => `nid_start=${100 + i * 10}&nid_end=${105 + i * 10}`).join("&");
    expect(ids(await getJson(`${C}?${ranges}&nid_start=4&nid_end=5`))).toEqual(["x1000c1s7b1n0"]);
    expect(ids(await getJson(`${C}?nid=1&${ranges}`))).toEqual(["x1000c1s7b0n0"]);
    expect(ids(await getJson(`${C}?nid=`))).toEqual(["x1000c1s7b0"]);
    expect(ids(await getJson(`${C}?role=Compute&subrole=Worker`))).toEqual(["x1000c1s7b1n0"]);
    expect(ids(await getJson(`${C}?id=x1000c1s7b0&id=X1000C1S7B0N1`))).toEqual(["x1000c1s7b0", "x1000c1s7b0n1"]);
    expect((await getJson(`${C}?type=Node&stateonly=true`)).body.Components[0]).toEqual({
      ID: "x1000c1s7b0n0",
      Type: "Node",
      State: "Ready",
      Flag: "OK",
    });
    expect((await getJson(`${C}?id=x1000c1s7b0n0&nidonly=true`)).body.Components).toEqual([{ ID: "x1000c1s7b0n0", Type: "Node", NID: 1 }]);
    const bad: Array<[string, string]> = [
      ["type=Booster", "bad query param: Argument was not a valid HMS Type"],
      ["state=FAKE", "bad query param: Argument was not a valid HMS State"],
      ["flag=FAKE", "bad query param: Argument was not a valid HMS Flag"],
      ["id=FAKE", "bad query param: Argument was not a valid xname ID"],
      ["nid=one", "bad query param: a required argument was not an integer"],
      ["enabled=maybe", "bad query param: a required argument did not match any valid input"],
      ["role=FAKE", "bad query param: Argument was not a valid HMS Role"],
      ["group=a&group=b&partition=p1&partition=p2", "bad query param: group and partition cannot both have more than one value"],
    ];
    for (const [q, detail] of bad) expect(problemOf(await getJson(`${C}?${q}`)), q).toMatchObject({ status: 400, detail });
  });

  it("patches single fields; PATCH of an absent valid xname is a quiet 204; bad ones are 400", async () => {
    expect((await send("PATCH", `${C}/x1000c1s7b0n1/Role`, { Role: "service", SubRole: "master" })).status).toBe(204);
    expect((await send("PATCH", `${C}/x1000c1s7b0n1/NID`, { NID: 42 })).status).toBe(204);
    expect((await send("PATCH", `${C}/x1000c1s7b0n1/SoftwareStatus`, { SoftwareStatus: "AdminDown" })).status).toBe(204);
    expect((await send("PATCH", `${C}/x1000c1s7b0n1/Enabled`, { Enabled: false })).status).toBe(204);
    expect((await send("PATCH", `${C}/x1000c1s7b0n1/FlagOnly`, { Flag: "warn" })).status).toBe(204);
    expect((await getJson(`${C}/x1000c1s7b0n1`)).body).toMatchObject({
      Role: "Service",
      SubRole: "Master",
      NID: 42,
      SoftwareStatus: "AdminDown",
      Enabled: false,
      Flag: "Warning",
    });
    expect((await send("PATCH", `${C}/x9c0s0b0n0/NID`, { NID: 1 })).status).toBe(204);
    expect((await getJson(`${C}/x9c0s0b0n0`)).status).toBe(404);
    const bad: Array<[string, unknown, string]> = [
      ["FAKE/FlagOnly", { Flag: "OK" }, "invalid xname ID"],
      ["x1000c1s7b0n1/FlagOnly", { foo: "bar" }, "Missing Flag"],
      ["x1000c1s7b0n1/FlagOnly", { Flag: "FAKE" }, "a required argument did not match any valid input"],
      ["x1000c1s7b0n1/Role", { Role: "FAKE" }, "a required argument did not match any valid input"],
      ["x1000c1s7b0n1/StateData", { State: "FAKE", Force: true }, "Argument was not a valid HMS State"],
      ["x1000c1s7b0n1/StateData", { Flag: "OK" }, "Missing State"],
      ["x1000c1s7b0n1/StateData", { State: "Empty" }, "operation not allowed and not forced."],
      ["x1000c1s7b0n1/Enabled", {}, "Missing Enabled field"],
      ["x1000c1s7b0n1/NID", {}, "Missing NID"],
      ["x1000c1s7b0n1/NID", { ID: "x1000c1s7b0n0", NID: 3 }, "ID in URL and PATCH body do not match"],
    ];
    for (const [path, body, detail] of bad)
      expect(problemOf(await send("PATCH", `${C}/${path}`, body)), path).toMatchObject({ status: 400, detail });
  });

  it("applies StateData transitions only from allowed start states unless forced; Locked flags stay", async () => {
    await send("PATCH", `${C}/x1000c1s7b0n1/StateData`, { State: "Standby" }); // Standby ← {Standby, Ready}: not from On
    expect((await getJson(`${C}/x1000c1s7b0n1`)).body.State).toBe("On");
    await send("PATCH", `${C}/x1000c1s7b0n1/StateData`, { State: "Ready" });
    await send("PATCH", `${C}/x1000c1s7b0n1/StateData`, { State: "Standby" });
    expect((await getJson(`${C}/x1000c1s7b0n1`)).body.State).toBe("Standby");
    await send("PATCH", `${C}/x1000c1s7b0n1/StateData`, { State: "Halt" }); // Halt ← {Halt, Ready} only
    expect((await getJson(`${C}/x1000c1s7b0n1`)).body.State).toBe("Standby");
    await send("PATCH", `${C}/x1000c1s7b0n1/StateData`, { State: "Empty", Force: true });
    expect((await getJson(`${C}/x1000c1s7b0n1`)).body).toMatchObject({ State: "Empty", Flag: "OK" });
    await send("PATCH", `${C}/x1000c1s7b0n1/FlagOnly`, { Flag: "Locked" });
    await send("PATCH", `${C}/x1000c1s7b0n1/StateData`, { State: "On", Flag: "Alert", Force: true });
    expect((await getJson(`${C}/x1000c1s7b0n1`)).body).toMatchObject({ State: "On", Flag: "Locked" });
  });

  it("patches in bulk and sets NIDs in bulk", async () => {
    const both = ["x1000c1s7b0n0", "x1000c1s7b1n0"];
    expect((await send("PATCH", `${C}/BulkEnabled`, { ComponentIDs: both, Enabled: true })).status).toBe(204);
    expect((await send("PATCH", `${C}/BulkStateData`, { ComponentIDs: both, State: "Ready", Force: true })).status).toBe(204);
    expect((await send("PATCH", `${C}/BulkRole`, { ComponentIDs: both, Role: "Storage" })).status).toBe(204);
    expect(
      (
        await send("PATCH", `${C}/BulkNID`, {
          Components: [
            { ID: "x1000c1s7b0n0", Type: "", NID: 11 },
            { ID: "x1000c1s7b1n0", NID: -5 },
          ],
        })
      ).status,
    ).toBe(204);
    const got = (await getJson(`${C}?id=x1000c1s7b0n0&id=x1000c1s7b1n0`)).body.Components;
    expect(got.map((c: any) => [c.Enabled, c.State, c.Role, c.NID])).toEqual([
      [true, "Ready", "Storage", 11],
      [true, "Ready", "Storage", undefined],
    ]);
    expect(problemOf(await send("PATCH", `${C}/BulkFlagOnly`, { ComponentIDs: ["FAKE", "x1c0"], Flag: "OK" }))).toMatchObject({
      status: 400,
      detail: "invalid xname ID",
    });
    expect(problemOf(await send("PATCH", `${C}/BulkFlagOnly`, { Flag: "OK" }))).toMatchObject({ status: 400, detail: "Missing IDs" });
    expect(problemOf(await send("PATCH", `${C}/BulkNID`, { Components: [{ ID: "x1000c1s7b0n0" }] }))).toMatchObject({
      status: 400,
      detail: "NID value missing.  Use NID < 0 to unset.",
    });
    expect((await send("PATCH", `${C}/BulkNID`, { Components: [{ ID: "x1000c1s7b0n0", NID: "" }] })).status).toBe(400);
  });

  it("looks up by NID and queries parents with descendants", async () => {
    expect((await getJson(`${C}/ByNID/11`)).body.ID).toBe("x1000c1s7b0n0");
    expect(problemOf(await getJson(`${C}/ByNID/9999999999`))).toMatchObject({ status: 404, detail: "no such NID." });
    expect(problemOf(await getJson(`${C}/ByNID/FAKE`))).toMatchObject({ status: 400, detail: "a required argument was not an integer" });
    const q = await send("POST", `${C}/Query`, { ComponentIDs: ["x1000c1s7"], type: ["Node"] });
    expect(ids(q)).toEqual(["x1000c1s7b0n0", "x1000c1s7b0n1", "x1000c1s7b1n0"]);
    expect(ids(await send("POST", `${C}/Query`, { ComponentIDs: ["x1000c1s7b0n0"] }))).toEqual(["x1000c1s7b0n0"]);
    expect(ids(await getJson(`${C}/Query/x1000c1s7b0?type=Node`))).toEqual(["x1000c1s7b0n0", "x1000c1s7b0n1"]);
    expect(ids(await send("POST", `${C}/ByNID/Query`, { NIDRanges: ["11", "40-50"] }))).toEqual(["x1000c1s7b0n0", "x1000c1s7b0n1"]);
    expect(problemOf(await send("POST", `${C}/ByNID/Query`, { NIDRanges: ["FAKE"] }))).toMatchObject({
      status: 400,
      detail: "bad query param: a required argument was not an integer",
    });
    expect(problemOf(await send("POST", `${C}/Query`, {}))).toMatchObject({ status: 400, detail: "Missing IDs" });
  });

  it("answers 405 with Allow for other methods, and deletes one and all", async () => {
    const r = await send("PATCH", C, {});
    expect(r.status).toBe(405);
    expect(r.res.headers.get("allow")).toBe("GET,POST,DELETE");
    expect((await send("PATCH", `${C}/x1000c1s7b0n0`, {})).status).toBe(405);
    expect(problemOf(await send("DELETE", `${C}/FAKE`))).toMatchObject({ status: 400, detail: "invalid xname" });
    expect(problemOf(await send("DELETE", `${C}/x9999c7s9b9n9`))).toMatchObject({ status: 404, detail: "no such xname." });
    expect((await send("DELETE", `${C}/x1000c1s7b0`)).body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect((await send("DELETE", C)).body).toEqual({ code: 0, message: "deleted 3 entries" });
    expect(problemOf(await send("DELETE", C))).toMatchObject({ status: 404, detail: "no entries to delete" });
    expect((await getJson(C)).body).toEqual({ Components: [] });
  });
});
