import { describe, expect, it } from "vitest";
import { HttpProblem } from "../../shared/problem";
import { JSON_PARAMETER_UNITS, jsonArrays, jsonLists, ROWS_PER_STATEMENT } from "../../workers/db";
import { getJson, problemOf, send } from "./client";

/**
 * D1 keeps no string, BLOB or row over 2,000,000 bytes (SQLITE_TOOBIG beyond), the local D1 these
 * tests run on as Cloudflare's. Many rows are split into statements under it, however large each
 * row is; one value over it is a 413 saying so, and nothing of the request is stored. Before,
 * both were 500s.
 */

const TOO_BIG = {
  status: 413,
  type: "application/problem+json",
  detail: expect.stringContaining("at most 2,000,000 bytes in one field or row"),
};

/** A shell script of about `bytes` bytes. */
const script = (bytes: number) => `#!/bin/sh\n${"echo a line of a large script\n".repeat(Math.ceil(bytes / 30))}`;

describe("one value over D1's limit", () => {
  it("a cloud-init group whose file is 2.5 MB: 413, the group not stored; one of 1.5 MB is stored whole", async () => {
    const big = await send("PUT", "/cloud-init/admin/groups/big", { name: "big", file: { content: script(2_500_000) } });
    expect(problemOf(big)).toMatchObject(TOO_BIG);
    expect((await getJson("/cloud-init/admin/groups/big")).status).toBe(404);

    const content = script(1_500_000);
    expect((await send("PUT", "/cloud-init/admin/groups/large", { name: "large", file: { content } })).status).toBe(201);
    expect((await getJson("/cloud-init/admin/groups/large")).body.file.content).toBe(content);
  });

  it("boot parameters with a 2.5 MB kernel command line: 413, nothing stored", async () => {
    const mac = "52:54:00:00:10:01";
    const r = await send("POST", "/boot/v1/bootparameters", {
      macs: [mac],
      kernel: "http://x/k",
      initrd: "http://x/i",
      params: "a=b ".repeat(625_000),
    });
    expect(problemOf(r)).toMatchObject(TOO_BIG);
    expect((await getJson(`/boot/v1/bootparameters?mac=${mac}`)).status).toBe(404);
  });
});

describe("many rows, each large", () => {
  it("600 hardware locations of ~9 KB (5 MB in all, 500 of them over D1's limit in one statement) are all stored", async () => {
    const hardware = Array.from({ length: 600 }, (_, i) => ({
      ID: `x1000c0s${i % 64}b0n${Math.floor(i / 64)}`,
      NodeLocationInfo: { Id: `n${i}`, Name: `n${i}`, Description: `${i} ${"d".repeat(6000)}`, HostName: "" },
      PopulatedFRU: {
        FRUID: `FRU-${i}`,
        Type: "Node",
        Subtype: "",
        NodeFRUInfo: { Manufacturer: "m".repeat(3000), SerialNumber: `S${i}` },
      },
    }));
    const r = await send("POST", "/hsm/v2/Inventory/Hardware", { Hardware: hardware });
    expect(r.status, r.text.slice(0, 300)).toBeLessThan(300);
    const stored = (await getJson("/hsm/v2/Inventory/Hardware?type=Node")).body as Array<Record<string, any>>;
    expect(stored).toHaveLength(600);
    const n599 = stored.find((l) => l.ID === "x1000c0s23b0n9");
    expect(n599?.NodeLocationInfo.Description).toBe(`599 ${"d".repeat(6000)}`);
    expect(n599?.PopulatedFRU.NodeFRUInfo.Manufacturer).toHaveLength(3000);
  });
});

describe("a list of IDs longer than one value D1 stores", () => {
  /** 320,000 blade xnames, x0c0s0 … x9999c7s3: 3.8 MB of JSON, eight parameters. */
  const blades = Array.from({ length: 320_000 }, (_, i) => `x${i >> 5}c${(i >> 2) & 7}s${i & 3}`);

  it("a Bulk patch of 320,000 IDs changes every component it names, in the first list parameter and the last", async () => {
    const nodes = ["x0c0s0b0n0", "x5000c3s1b0n0", "x9999c7s3b0n0"];
    const ids = [...blades.slice(0, 160_000), ...nodes, ...blades.slice(160_000)];
    expect(jsonLists(ids).length).toBeGreaterThan(2);
    const comps = nodes.map((ID, i) => ({ ID, Type: "Node", State: "On", NID: i + 1, Role: "Compute" }));
    expect((await send("POST", "/hsm/v2/State/Components", { Components: comps })).status).toBe(204);
    await send("POST", "/hsm/v2/State/Components", {
      Components: [{ ID: "x1c0s0b0n0", Type: "Node", State: "On", NID: 9, Role: "Compute" }],
    });

    const r = await send("PATCH", "/hsm/v2/State/Components/BulkStateData", { ComponentIDs: [...ids, "x9999c7s3b0n0"], State: "Ready" });
    expect(r.status, r.text.slice(0, 300)).toBe(204);
    const ready = (await getJson("/hsm/v2/State/Components?state=Ready")).body.Components.map((c: { ID: string }) => c.ID);
    expect(ready.sort()).toEqual([...nodes].sort());
  });

  it("a Query with a type filter finds the descendants of IDs in every list parameter, and nothing else", async () => {
    const r = await send("POST", "/hsm/v2/State/Components/Query", { ComponentIDs: blades, type: ["Node"] });
    expect(r.status, r.text.slice(0, 300)).toBe(200);
    // x1c0s0b0n0 is under x1c0s0, in the list; the three of the test before are under blades too.
    expect(r.body.Components.map((c: { ID: string }) => c.ID).sort()).toEqual([
      "x0c0s0b0n0",
      "x1c0s0b0n0",
      "x5000c3s1b0n0",
      "x9999c7s3b0n0",
    ]);
  });

  it("a list longer than 50 parameters is a 413 naming its length, not a query", () => {
    const long = Array.from({ length: 51 }, (_, i) => `${i}`.padEnd(JSON_PARAMETER_UNITS, "x"));
    expect(() => jsonLists(long)).toThrow(HttpProblem);
    expect(() => jsonLists(long)).toThrow("a list of 51 values is more than one database query takes");
    expect(jsonLists([])).toEqual(["[]"]);
  });
});

describe("boot parameters for many nodes at once", () => {
  it("80,000 MACs in one POST (2.4 MB of identifiers) are all assigned, and found by the last one", async () => {
    const macs = Array.from(
      { length: 80_000 },
      (_, i) => `52:54:01:${[i >> 16, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`,
    );
    const r = await send("POST", "/boot/v1/bootparameters", { macs, kernel: "http://h/many-vmlinuz", initrd: "http://h/many-initrd" });
    expect(r.status, r.text.slice(0, 300)).toBe(201);
    const last = await getJson(`/boot/v1/bootparameters?mac=${macs.at(-1)}`);
    expect(last.body).toEqual([expect.objectContaining({ kernel: "http://h/many-vmlinuz" })]);
    const deleted = await send("DELETE", "/boot/v1/bootparameters", { macs });
    expect(deleted.status, deleted.text.slice(0, 300)).toBeLessThan(300);
    expect((await getJson(`/boot/v1/bootparameters?mac=${macs[0]}`)).status).toBe(404);
  });
});

describe("jsonArrays", () => {
  const parsed = (arrays: string[]) => arrays.flatMap((a) => JSON.parse(a) as unknown[]);

  it("splits by count: small rows go ROWS_PER_STATEMENT to an array, in order", () => {
    const rows = Array.from({ length: 2 * ROWS_PER_STATEMENT + 1 }, (_, i) => [i, `r${i}`]);
    const arrays = jsonArrays(rows);
    expect(arrays.map((a) => JSON.parse(a).length)).toEqual([ROWS_PER_STATEMENT, ROWS_PER_STATEMENT, 1]);
    expect(parsed(arrays)).toEqual(rows);
  });

  it("splits by length: no array over JSON_PARAMETER_UNITS but a single row longer than that, alone", () => {
    const rows = [["a".repeat(200_000)], ["b".repeat(200_000)], ["c".repeat(200_000)], ["d".repeat(JSON_PARAMETER_UNITS)], ["e"]];
    const arrays = jsonArrays(rows);
    expect(arrays.map((a) => JSON.parse(a).length)).toEqual([2, 1, 1, 1]);
    for (const a of arrays.filter((a) => !a.includes("d"))) expect(a.length).toBeLessThanOrEqual(JSON_PARAMETER_UNITS);
    expect(parsed(arrays)).toEqual(rows);
    expect(jsonArrays([])).toEqual([]);
  });
});
