import { beforeAll, describe, expect, it } from "vitest";
import { getJson, problemOf, send } from "./client";

const NODES = ["x1000c0s0b0n0", "x1000c0s0b1n0", "x1000c0s0b2n0", "x1000c0s0b3n0"];

beforeAll(async () => {
  const r = await send("POST", "/hsm/v2/State/Components", { Components: NODES.map((ID) => ({ ID, State: "On" })) });
  expect(r.status).toBe(204);
});

describe("SMD /groups", () => {
  it("creates a group with members (labels and tags lower-cased) and reads it back", async () => {
    const r = await send("POST", "/hsm/v2/groups", {
      label: "Compute",
      description: "The compute group",
      tags: ["Blue"],
      members: { ids: [NODES[0], "X1000C0S0B1N0"] },
    });
    expect(r.status).toBe(201);
    expect(r.body).toEqual([{ URI: "/hsm/v2/groups/compute" }]);
    expect((await getJson("/hsm/v2/groups/compute")).body).toEqual({
      label: "compute",
      description: "The compute group",
      tags: ["blue"],
      members: { ids: [NODES[0], NODES[1]] },
    });
    expect((await getJson("/hsm/v2/groups/labels")).body).toEqual(["compute"]);
    expect((await getJson("/hsm/v2/groups?tag=blue")).body).toHaveLength(1);
    expect((await getJson("/hsm/v2/groups?tag=red")).body).toEqual([]);
  });

  it("rejects duplicate labels, bad labels, unknown members", async () => {
    expect(problemOf(await send("POST", "/hsm/v2/groups", { label: "compute" }))).toMatchObject({
      status: 409,
      detail: "operation would conflict with an existing group that has the same label or duplicate ids found in request.",
    });
    expect(problemOf(await send("POST", "/hsm/v2/groups", { label: "bad label!" }))).toMatchObject({
      status: 400,
      detail: "couldn't validate group: group or partition field has invalid characters",
    });
    expect(problemOf(await send("POST", "/hsm/v2/groups", { label: "io", members: { ids: ["x9c0s0b0n0"] } }))).toMatchObject({
      status: 400,
      detail: "linked component does not exist",
    });
    expect(problemOf(await send("POST", "/hsm/v2/groups", { label: "io", members: { ids: ["foo"] } }))).toMatchObject({
      status: 400,
      detail: "couldn't validate group: got HMSTypeInvalid instead of valid type",
    });
    expect(problemOf(await getJson("/hsm/v2/groups/nothere"))).toMatchObject({ status: 404, detail: "No such group: nothere" });
  });

  it("refuses dot-only and over-long labels, tags and exclusive groups, naming the rule", async () => {
    const long = "a".repeat(100_000);
    const cases: [unknown, string][] = [
      [{ label: "." }, "couldn't validate group: group or partition field is only dots, which a URL path cannot carry"],
      [{ label: ".." }, "couldn't validate group: group or partition field is only dots, which a URL path cannot carry"],
      [{ label: " ... " }, "couldn't validate group: group or partition field is only dots, which a URL path cannot carry"],
      [{ label: long }, "couldn't validate group: group or partition field is longer than 255 characters"],
      [{ label: "ok", tags: [".."] }, "couldn't validate group: group or partition field is only dots, which a URL path cannot carry"],
      [{ label: "ok", exclusiveGroup: "a".repeat(256) }, "couldn't validate group: group or partition field is longer than 255 characters"],
    ];
    for (const [body, detail] of cases) {
      const r = await send("POST", "/hsm/v2/groups", body);
      expect(problemOf(r), JSON.stringify(body).slice(0, 60)).toEqual({
        status: 400,
        type: "application/problem+json",
        title: "Bad Request",
        detail,
      });
    }
    expect(problemOf(await send("PATCH", "/hsm/v2/groups/compute", { tags: ["."] }))).toMatchObject({
      status: 400,
      detail: "couldn't validate group: group or partition field is only dots, which a URL path cannot carry",
    });
    expect(problemOf(await send("DELETE", `/hsm/v2/groups/${long}`))).toMatchObject({
      status: 400,
      detail: "Invalid group label. It is longer than 255 characters.",
    });
    // The longest label upstream's column holds, and labels with dots among other characters, still work.
    for (const label of ["b".repeat(255), "a.b", ".x", "x..y"]) {
      expect((await send("POST", "/hsm/v2/groups", { label })).status, label).toBe(201);
      expect((await send("DELETE", `/hsm/v2/groups/${label}`)).status, label).toBe(200);
    }
    expect((await getJson("/hsm/v2/groups/labels")).body).toEqual(["compute"]);
    expect(problemOf(await send("POST", "/hsm/v2/partitions", { name: `p${"1".repeat(100_000)}` }))).toMatchObject({
      status: 400,
      detail: "couldn't validate partition: partition name is longer than 255 characters",
    });
    expect(problemOf(await send("POST", "/hsm/v2/partitions", { name: "p9", tags: [".."] }))).toMatchObject({
      status: 400,
      detail: "couldn't validate partition: group or partition field is only dots, which a URL path cannot carry",
    });
  });

  it("enforces exclusive groups", async () => {
    expect((await send("POST", "/hsm/v2/groups", { label: "rack-a", exclusiveGroup: "racks", members: { ids: [NODES[2]] } })).status).toBe(
      201,
    );
    expect(
      problemOf(await send("POST", "/hsm/v2/groups", { label: "rack-b", exclusiveGroup: "racks", members: { ids: [NODES[2]] } })),
    ).toMatchObject({ status: 409, detail: "operation would conflict with an existing member in another exclusive group." });
    expect((await send("POST", "/hsm/v2/groups", { label: "rack-b", exclusiveGroup: "racks", members: { ids: [NODES[3]] } })).status).toBe(
      201,
    );
    expect((await send("POST", "/hsm/v2/groups/rack-b/members", { id: NODES[2] })).status).toBe(409);
  });

  it("adds, replaces and removes members", async () => {
    const add = await send("POST", "/hsm/v2/groups/compute/members", { id: NODES[2] });
    expect(add.status).toBe(201);
    expect(add.body).toEqual([{ URI: `/hsm/v2/groups/compute/members/${NODES[2]}` }]);
    expect(problemOf(await send("POST", "/hsm/v2/groups/compute/members", { id: NODES[2] }))).toMatchObject({
      status: 409,
      detail: "operation would conflict with an existing member in the same group.",
    });
    expect((await send("POST", "/hsm/v2/groups/compute/members", { id: "bogus" })).status).toBe(400);
    expect((await send("POST", "/hsm/v2/groups/nope/members", { id: NODES[0] })).status).toBe(404);
    const put = await send("PUT", "/hsm/v2/groups/compute/members", { group: "compute", ids: [NODES[3], NODES[0]] });
    expect(put.status).toBe(201);
    expect((await getJson("/hsm/v2/groups/compute/members")).body).toEqual({ ids: [NODES[0], NODES[3]] });
    expect(problemOf(await send("PUT", "/hsm/v2/groups/compute/members", { ids: ["a", NODES[0], "b"] }))).toMatchObject({
      status: 400,
      detail: "invalid xname IDs: [a b]",
    });
    expect((await send("DELETE", `/hsm/v2/groups/compute/members/${NODES[3]}`)).body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect(problemOf(await send("DELETE", `/hsm/v2/groups/compute/members/${NODES[3]}`))).toMatchObject({
      status: 404,
      detail: "group has no such member.",
    });
  });

  it("patches description and tags only (members in the body are ignored), as ochami's update sends", async () => {
    const r = await send("PATCH", "/hsm/v2/groups/compute", { label: "compute", description: "new", tags: ["x"], members: {} });
    expect(r.status).toBe(204);
    expect((await getJson("/hsm/v2/groups/compute")).body).toEqual({
      label: "compute",
      description: "new",
      tags: ["x"],
      members: { ids: [NODES[0]] },
    });
    expect(problemOf(await send("PATCH", "/hsm/v2/groups/compute", { label: "compute" }))).toMatchObject({
      status: 400,
      detail: "Request must have at least one patch field.",
    });
    expect(problemOf(await send("PATCH", "/hsm/v2/groups/nope", { description: "x" }))).toMatchObject({
      status: 404,
      detail: "no such group.",
    });
  });

  it("lists memberships for every component, and for one", async () => {
    const all = await getJson("/hsm/v2/memberships");
    expect(all.body).toEqual([
      { id: NODES[0], groupLabels: ["compute"], partitionName: "" },
      { id: NODES[1], groupLabels: [], partitionName: "" },
      { id: NODES[2], groupLabels: ["rack-a"], partitionName: "" },
      { id: NODES[3], groupLabels: ["rack-b"], partitionName: "" },
    ]);
    expect((await getJson(`/hsm/v2/memberships/${NODES[0]}`)).body).toEqual({ id: NODES[0], groupLabels: ["compute"], partitionName: "" });
    expect(problemOf(await getJson("/hsm/v2/memberships/x9c0s0b0n0"))).toMatchObject({ status: 404, detail: "No such xname: x9c0s0b0n0" });
    expect(problemOf(await getJson("/hsm/v2/memberships/foo"))).toMatchObject({ status: 400, detail: "invalid xname" });
    expect((await getJson("/hsm/v2/State/Components?group=compute")).body.Components.map((c: any) => c.ID)).toEqual([NODES[0]]);
    expect((await getJson("/hsm/v2/State/Components?group=NULL")).body.Components.map((c: any) => c.ID)).toEqual([NODES[1]]);
  });

  it("manages partitions; a component is in at most one", async () => {
    expect((await send("POST", "/hsm/v2/partitions", { name: "P1", members: { ids: [NODES[0], NODES[1]] } })).body).toEqual([
      { URI: "/hsm/v2/partitions/p1" },
    ]);
    expect(problemOf(await send("POST", "/hsm/v2/partitions", { name: "p2", members: { ids: [NODES[1]] } }))).toMatchObject({
      status: 409,
      detail: "operation would conflict with an existing member in another partition.",
    });
    expect(problemOf(await send("POST", "/hsm/v2/partitions", { name: "part1" }))).toMatchObject({
      status: 400,
      detail: "couldn't validate partition: Bad partition name. Must be p# or p#.#",
    });
    expect((await getJson("/hsm/v2/partitions/names")).body).toEqual(["p1"]);
    expect((await getJson("/hsm/v2/groups/compute?partition=p1")).body.members.ids).toEqual([NODES[0]]);
    expect((await getJson(`/hsm/v2/memberships/${NODES[1]}`)).body.partitionName).toBe("p1");
    expect((await getJson("/hsm/v2/State/Components?partition=p1")).body.Components).toHaveLength(2);
    expect((await send("DELETE", `/hsm/v2/partitions/p1/members/${NODES[1]}`)).status).toBe(200);
    expect((await send("POST", "/hsm/v2/partitions/p1/members", { id: NODES[1] })).status).toBe(201);
    expect((await send("DELETE", "/hsm/v2/partitions/p1")).status).toBe(200);
    expect((await send("DELETE", "/hsm/v2/partitions/p1")).status).toBe(404);
  });

  it("deleting a component removes its memberships; deleting a group keeps components", async () => {
    expect((await send("DELETE", `/hsm/v2/State/Components/${NODES[0]}`)).status).toBe(200);
    expect((await getJson("/hsm/v2/groups/compute")).body.members.ids).toEqual([]);
    expect((await send("DELETE", "/hsm/v2/groups/compute")).body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect((await getJson(`/hsm/v2/State/Components/${NODES[1]}`)).status).toBe(200);
  });
});
