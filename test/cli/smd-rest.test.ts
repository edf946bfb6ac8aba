import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Home, loggedInHome, ochami, startTestApi, type TestApi } from "./harness";

/**
 * `ochami smd hardware`, `smd lock` and `smd scn` against the real API (workerd + D1, auth on), as
 * an admin runs them. The tests build on each other's state, in order.
 */
let api: TestApi;
let home: Home;
const run = (...args: string[]) => ochami(args, { env: home.env });
const json = async (...args: string[]) => {
  const r = await run(...args);
  expect(r.code, `ochami ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  api = await startTestApi();
  home = await loggedInHome(api);
});
afterAll(async () => {
  home?.remove();
  await api?.stop();
});

const memory = (node: string, k: number) => ({
  ID: `${node}d${k}`,
  MemoryLocationInfo: { Id: `DIMM${k}`, Name: "DIMM" },
  PopulatedFRU: { MemoryFRUInfo: { Manufacturer: "Samsung", PartNumber: "M321", SerialNumber: `S${node}${k}`, CapacityMiB: 32768 } },
});

describe("smd hardware", () => {
  it("add splits an import into requests SMD takes, get lists by type and queries under an xname, history shows Detected", async () => {
    const nodes = Array.from({ length: 160 }, (_, i) => `x1000c0s${i}b0n0`);
    const hardware = nodes.flatMap((n) => [
      { ID: n, NodeLocationInfo: { Id: "1" }, PopulatedFRU: { NodeFRUInfo: { Manufacturer: "HPE", SerialNumber: `N${n}` } } },
      ...Array.from({ length: 32 }, (_, k) => memory(n, k)),
    ]);
    // 5,280 locations: more than one request's worth.
    const file = home.file("inventory.json", JSON.stringify({ Hardware: hardware }));
    const add = await run("smd", "hardware", "add", "-d", `@${file}`);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stderr).toBe("stored 5280 locations\n");
    expect(await json("smd", "hardware", "get", "--type", "Node")).toHaveLength(160);
    const one = await json("smd", "hardware", "get", "x1000c0s7b0n0d3");
    expect(one.PopulatedFRU.FRUID).toBe("Memory.Samsung.M321.Sx1000c0s7b0n03");
    const under = await json("smd", "hardware", "get", "--query", "x1000c0s7");
    expect(under.Nodes[0].Memory).toHaveLength(32);
    const table = (await run("smd", "hardware", "get", "--type", "Memory", "--manufacturer", "samsung", "-F", "table")).stdout.split("\n");
    expect(table[0]).toMatch(/^ID\s+TYPE\s+FRUID\s+MANUFACTURER\s+MODEL\s+SERIAL/);
    expect(table.filter((l) => l.includes("Samsung"))).toHaveLength(5120);
    const history = await json("smd", "hardware", "history", "x1000c0s7b0n0d3");
    expect(history.History.map((e: any) => e.EventType)).toEqual(["Detected"]);
    expect((await json("smd", "hardware", "fru", "--type", "Node")).map((f: any) => f.Type)).toEqual(Array(160).fill("Node"));
    const del = await run("smd", "hardware", "delete", "--no-confirm", "x1000c0s7b0n0d3");
    expect(del.code, del.stderr).toBe(0);
    const gone = await run("smd", "hardware", "get", "x1000c0s7b0n0d3");
    expect([gone.code, gone.stderr]).toEqual([1, "error: 404 Not Found: no such xname.\n"]);
  });
});

describe("smd lock", () => {
  it("locks, reserves for a service, checks, renews and releases by key, with SMD's answers", async () => {
    const add = await run("smd", "component", "add", "x2000c0s0b0n0", "1");
    expect(add.code, add.stderr).toBe(0);
    await run("smd", "component", "add", "x2000c0s0b0n1", "2");
    expect(await json("smd", "lock", "lock", "x2000c0s0b0n0")).toMatchObject({ Counts: { Success: 1, Failure: 0 } });
    // Rigid: one of them is locked, so nothing is reserved and SMD says why.
    const rigid = await run("smd", "lock", "reserve", "--duration", "5", "x2000c0s0b0n0", "x2000c0s0b0n1");
    expect([rigid.code, rigid.stderr]).toEqual([1, "error: 400 Bad Request: Component is Locked\n"]);
    // Flexible: the unlocked one is reserved, the other reported; exit 4 (partly done).
    const flexible = await run("smd", "lock", "reserve", "--duration", "5", "--flexible", "x2000c0s0b0n0", "x2000c0s0b0n1");
    expect(flexible.code).toBe(4);
    const res = JSON.parse(flexible.stdout);
    expect(res.Failure).toEqual([{ ID: "x2000c0s0b0n0", Reason: "Locked" }]);
    const [held] = res.Success;
    expect(held.ID).toBe("x2000c0s0b0n1");
    const status = await json("smd", "lock", "status", "x2000c0s0b0n0", "x2000c0s0b0n1");
    expect(status.Components.map((c: any) => [c.ID, c.Locked, c.Reserved])).toEqual([
      ["x2000c0s0b0n0", true, false],
      ["x2000c0s0b0n1", false, true],
    ]);
    expect((await json("smd", "lock", "check", held.DeputyKey)).Success.map((s: any) => s.ID)).toEqual(["x2000c0s0b0n1"]);
    expect((await json("smd", "lock", "renew", "--duration", "10", held.ReservationKey)).Counts.Success).toBe(1);
    expect((await json("smd", "lock", "release", held.ReservationKey)).Success.ComponentIDs).toEqual(["x2000c0s0b0n1"]);
    const again = await run("smd", "lock", "release", held.ReservationKey);
    expect([again.code, again.stderr]).toEqual([1, "error: 400 Bad Request: Component not found\n"]);
    const bad = await run("smd", "lock", "release", "not-a-key");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not a reservation key");
    expect(await json("smd", "lock", "unlock", "x2000c0s0b0n0")).toMatchObject({ Counts: { Success: 1 } });
  });
});

describe("smd scn", () => {
  it("adds, lists and deletes subscriptions", async () => {
    const sub = await json("smd", "scn", "add", "--state", "Ready,Off", "--role", "Compute", "pcs", "http://pcs.local:28007/scn");
    expect(sub).toMatchObject({ Subscriber: "pcs", States: ["Ready", "Off"], Roles: ["Compute"], Url: "http://pcs.local:28007/scn" });
    expect((await json("smd", "scn", "get")).SubscriptionList.map((s: any) => s.ID)).toEqual([sub.ID]);
    expect(await json("smd", "scn", "get", String(sub.ID))).toEqual(sub);
    const none = await run("smd", "scn", "add", "x", "http://x");
    expect(none.code).toBe(2);
    const del = await run("smd", "scn", "delete", String(sub.ID));
    expect(del.code, del.stderr).toBe(0);
    expect((await json("smd", "scn", "get")).SubscriptionList).toEqual([]);
  });
});
