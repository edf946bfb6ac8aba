import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { database } from "../../workers/db";
import { commit, readByKeys, setLocked } from "../../workers/smd/locks/store";
import { send } from "./client";

/**
 * Locks and reservations, replaying upstream SMD's CT scenario (test_locks and
 * test_locks_negative: four Partition-type components p9999.9996–9999, locked, reserved by a
 * service and by an admin, released, disabled, repaired), with the statuses, details and counts
 * upstream's tests expect, then what those tests leave out: lapse, concurrency, keys.
 */

const IDS = ["p9999.9996", "p9999.9997", "p9999.9998", "p9999.9999"];
const problem = (detail: string) => ({ type: "about:blank", title: "Bad Request", detail, status: 400 });

async function expect400(method: string, path: string, body: unknown, detail: string) {
  const r = await send(method, path, body);
  expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
  expect(r.body).toEqual(problem(detail));
}

async function ok(path: string, body: unknown) {
  const r = await send("POST", path, body);
  expect(r.status, `${path} ${JSON.stringify(body)}: ${r.text}`).toBe(200);
  return r.body;
}

describe("upstream's lock scenario (test_locks)", () => {
  let service: Array<{ ID: string; DeputyKey: string; ReservationKey: string; ExpirationTime: string }>;
  let admin: Array<{ ID: string; DeputyKey: string; ReservationKey: string }>;

  it("answers 400 Component not found before the components exist", async () => {
    await expect400("POST", "/hsm/v2/locks/status", { ComponentIDs: IDS }, "Component not found");
    await expect400("GET", "/hsm/v2/locks/status?type=Partition", undefined, "Component not found");
  });

  it("reports four unlocked, unreserved components once they exist", async () => {
    const created = await send("POST", "/hsm/v2/State/Components", { Components: IDS.map((ID) => ({ ID, State: "Populated" })) });
    expect(created.status).toBe(204);
    const expected = IDS.map((ID) => ({ ID, Locked: false, Reserved: false, ReservationDisabled: false }));
    expect(await ok("/hsm/v2/locks/status", { ComponentIDs: IDS })).toEqual({ Components: expected });
    const get = await send("GET", "/hsm/v2/locks/status?type=Partition");
    expect(get.status).toBe(200);
    expect(get.body).toEqual({ Components: expected });
  });

  it("locks and unlocks by type; a second lock or unlock is 400", async () => {
    const locked = await ok("/hsm/v2/locks/lock", { Type: ["Partition"] });
    expect(locked).toEqual({ Counts: { Total: 4, Success: 4, Failure: 0 }, Success: { ComponentIDs: IDS }, Failure: [] });
    await expect400("POST", "/hsm/v2/locks/lock", { Type: ["Partition"] }, "Component is Locked");
    expect((await ok("/hsm/v2/locks/unlock", { Type: ["Partition"] })).Success.ComponentIDs).toHaveLength(4);
    await expect400("POST", "/hsm/v2/locks/unlock", { Type: ["Partition"] }, "Component is Unlocked");
    // The component's own Locked field is the lock.
    expect((await send("GET", "/hsm/v2/State/Components/p9999.9996")).body.Locked).toBeUndefined();
  });

  it("service reservations take only unlocked components: rigid refuses, flexible reserves what it can", async () => {
    expect((await ok("/hsm/v2/locks/lock", { ComponentIDs: IDS.slice(0, 2) })).Success.ComponentIDs).toEqual(IDS.slice(0, 2));
    expect((await send("GET", "/hsm/v2/State/Components/p9999.9996")).body.Locked).toBe(true);
    await expect400(
      "POST",
      "/hsm/v2/locks/service/reservations",
      { Type: ["Partition"], ReservationDuration: 15, ProcessingModel: "rigid" },
      "Component is Locked",
    );
    const before = Date.now();
    const flexible = await ok("/hsm/v2/locks/service/reservations", {
      Type: ["Partition"],
      ReservationDuration: 15,
      ProcessingModel: "flexible",
    });
    expect(flexible.Failure).toEqual([
      { ID: "p9999.9996", Reason: "Locked" },
      { ID: "p9999.9997", Reason: "Locked" },
    ]);
    service = flexible.Success;
    expect(service.map((s) => s.ID)).toEqual(IDS.slice(2));
    for (const s of service) {
      expect(Object.keys(s)).toEqual(["ID", "DeputyKey", "ReservationKey", "ExpirationTime"]);
      expect(s.DeputyKey).toMatch(new RegExp(`^${s.ID.replace(".", "\\.")}:dk:[0-9a-f-]{36}$`));
      expect(s.ReservationKey).toMatch(new RegExp(`^${s.ID.replace(".", "\\.")}:rk:[0-9a-f-]{36}$`));
      const expires = Date.parse(s.ExpirationTime);
      expect(expires).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 15 * 60_000);
      expect(expires).toBeLessThanOrEqual(Date.now() + 15 * 60_000);
    }
    const again = await ok("/hsm/v2/locks/service/reservations", {
      ComponentIDs: IDS.slice(2),
      ReservationDuration: 15,
      ProcessingModel: "flexible",
    });
    expect(again).toEqual({ Success: [], Failure: IDS.slice(2).map((ID) => ({ ID, Reason: "Reserved" })) });
  });

  it("checks, renews and releases by key; a released key is gone", async () => {
    const deputy = { DeputyKeys: service.map((s) => ({ ID: s.ID, Key: s.DeputyKey })) };
    const reservation = (list: typeof service) => list.map((s) => ({ ID: s.ID, Key: s.ReservationKey }));
    const checked = await ok("/hsm/v2/locks/service/reservations/check", deputy);
    expect(checked.Failure).toEqual([]);
    expect(checked.Success.map((s: any) => [s.ID, s.DeputyKey, s.ReservationKey])).toEqual(
      service.map((s) => [s.ID, s.DeputyKey, undefined]),
    );
    expect(checked.Success[0].CreationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const renewed = await ok("/hsm/v2/locks/service/reservations/renew", {
      ReservationKeys: reservation(service),
      ReservationDuration: 15,
    });
    expect(renewed).toEqual({ Counts: { Total: 2, Success: 2, Failure: 0 }, Success: { ComponentIDs: IDS.slice(2) }, Failure: [] });
    const released = await ok("/hsm/v2/locks/service/reservations/release", { ReservationKeys: reservation(service.slice(0, 1)) });
    expect(released.Success.ComponentIDs).toEqual(["p9999.9998"]);
    await expect400(
      "POST",
      "/hsm/v2/locks/service/reservations/release",
      { ReservationKeys: reservation(service.slice(0, 1)) },
      "Component not found",
    );
    const half = await ok("/hsm/v2/locks/service/reservations/check", deputy);
    expect(half.Success.map((s: any) => s.ID)).toEqual(["p9999.9999"]);
    expect(half.Failure).toEqual([{ ID: "p9999.9998", Reason: "NotFound" }]);
    await expect400(
      "POST",
      "/hsm/v2/locks/service/reservations/renew",
      { ReservationKeys: reservation(service), ReservationDuration: 15 },
      "Component not found",
    );
    const flexible = await ok("/hsm/v2/locks/service/reservations/renew", {
      ReservationKeys: reservation(service),
      ReservationDuration: 15,
      ProcessingModel: "flexible",
    });
    expect(flexible).toEqual({
      Counts: { Total: 2, Success: 1, Failure: 1 },
      Success: { ComponentIDs: ["p9999.9999"] },
      Failure: [{ ID: "p9999.9998", Reason: "NotFound" }],
    });
  });

  it("a reserved component cannot be locked", async () => {
    await expect400("POST", "/hsm/v2/locks/lock", { ComponentIDs: ["p9999.9999"] }, "Component is Reserved");
  });

  it("admin reservations take only locked components; remove takes any holder's", async () => {
    await expect400("POST", "/hsm/v2/locks/reservations", { Type: ["Partition"] }, "Component is Unlocked");
    const reserved = await ok("/hsm/v2/locks/reservations", { Type: ["Partition"], ProcessingModel: "flexible" });
    expect(reserved.Success.map((s: any) => s.ID)).toEqual(IDS.slice(0, 2));
    // Without a duration there is no expiration time.
    expect(Object.keys(reserved.Success[0])).toEqual(["ID", "DeputyKey", "ReservationKey"]);
    expect(reserved.Failure).toEqual([
      { ID: "p9999.9998", Reason: "Unlocked" },
      { ID: "p9999.9999", Reason: "Unlocked" },
    ]);
    // Rigid: p9999.9998 holds none, so nothing is removed.
    await expect400("POST", "/hsm/v2/locks/reservations/remove", { Type: ["Partition"] }, "Component not found");
    const status = await ok("/hsm/v2/locks/status", { ComponentIDs: IDS });
    expect(status.Components.map((c: any) => c.Reserved)).toEqual([true, true, false, true]);
    expect(status.Components[0].ExpirationTime).toBeUndefined();
    expect(status.Components[3].ExpirationTime).toMatch(/Z$/);
    const removed = await ok("/hsm/v2/locks/reservations/remove", { Type: ["Partition"], ProcessingModel: "flexible" });
    expect(removed).toEqual({
      Counts: { Total: 4, Success: 3, Failure: 1 },
      Success: { ComponentIDs: ["p9999.9996", "p9999.9997", "p9999.9999"] },
      Failure: [{ ID: "p9999.9998", Reason: "NotFound" }],
    });
    admin = (await ok("/hsm/v2/locks/reservations", { Type: ["Partition"], ProcessingModel: "flexible" })).Success;
    expect(admin).toHaveLength(2);
    const released = await ok("/hsm/v2/locks/reservations/release", {
      ReservationKeys: [{ ID: admin[0].ID, Key: admin[0].ReservationKey }],
    });
    expect(released.Success.ComponentIDs).toEqual([admin[0].ID]);
    await expect400(
      "POST",
      "/hsm/v2/locks/reservations/release",
      { ReservationKeys: [{ ID: admin[0].ID, Key: admin[0].ReservationKey }] },
      "Component not found",
    );
  });

  it("disables and repairs reservations; disabling releases them", async () => {
    expect((await ok("/hsm/v2/locks/disable", { ComponentIDs: IDS.slice(2) })).Counts).toEqual({ Total: 2, Success: 2, Failure: 0 });
    expect((await ok("/hsm/v2/locks/disable", { Type: ["Partition"] })).Counts).toEqual({ Total: 4, Success: 4, Failure: 0 });
    const status = await ok("/hsm/v2/locks/status", { ComponentIDs: IDS });
    expect(status.Components.map((c: any) => [c.Reserved, c.ReservationDisabled])).toEqual(IDS.map(() => [false, true]));
    expect((await send("GET", "/hsm/v2/State/Components?reservation_disabled=true&type=Partition")).body.Components).toHaveLength(4);
    await expect400("POST", "/hsm/v2/locks/lock", { ComponentIDs: ["p9999.9998"] }, "Component reservations are disabled");
    expect((await ok("/hsm/v2/locks/repair", { ComponentIDs: IDS.slice(2) })).Counts.Success).toBe(2);
    expect((await ok("/hsm/v2/locks/repair", { Type: ["Partition"] })).Counts.Success).toBe(4);
  });

  it("unlocks: rigid refuses when some are unlocked, flexible unlocks the locked ones", async () => {
    await expect400("POST", "/hsm/v2/locks/unlock", { Type: ["Partition"] }, "Component is Unlocked");
    const r = await ok("/hsm/v2/locks/unlock", { Type: ["Partition"], ProcessingModel: "flexible" });
    expect(r).toEqual({
      Counts: { Total: 4, Success: 2, Failure: 2 },
      Success: { ComponentIDs: IDS.slice(0, 2) },
      Failure: [
        { ID: "p9999.9998", Reason: "Unlocked" },
        { ID: "p9999.9999", Reason: "Unlocked" },
      ],
    });
  });

  it("deleting a component deletes its reservation", async () => {
    const [res] = (await ok("/hsm/v2/locks/service/reservations", { ComponentIDs: ["p9999.9999"], ReservationDuration: 5 })).Success;
    expect((await send("DELETE", "/hsm/v2/State/Components/p9999.9999")).status).toBe(200);
    const checked = await ok("/hsm/v2/locks/service/reservations/check", { DeputyKeys: [{ ID: res.ID, Key: res.DeputyKey }] });
    expect(checked).toEqual({ Success: [], Failure: [{ ID: "p9999.9999", Reason: "NotFound" }] });
  });
});

describe("upstream's negative lock stages (test_locks_negative)", () => {
  it("words every bad request as upstream", async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ["POST", "/hsm/v2/locks/reservations/remove", { ProcessingModel: "fail" }, "Invalid Processing Model"],
      ["POST", "/hsm/v2/locks/reservations/release", { ProcessingModel: "fail" }, "Invalid Processing Model"],
      ["POST", "/hsm/v2/locks/reservations/release", {}, "Reservation Key required for operation"],
      ["POST", "/hsm/v2/locks/reservations", { ProcessingModel: "fail" }, "Invalid Processing Model"],
      ["POST", "/hsm/v2/locks/service/reservations/release", { ProcessingModel: "fail" }, "Invalid Processing Model"],
      ["POST", "/hsm/v2/locks/service/reservations/release", {}, "Reservation Key required for operation"],
      ["POST", "/hsm/v2/locks/service/reservations", { ProcessingModel: "fail" }, "Invalid Processing Model"],
      ["POST", "/hsm/v2/locks/service/reservations", { ReservationDuration: 16 }, "Invalid Reservation Duration"],
      ["POST", "/hsm/v2/locks/service/reservations/renew", { ProcessingModel: "fail" }, "Invalid Processing Model"],
      ["POST", "/hsm/v2/locks/service/reservations/renew", { ReservationDuration: 16 }, "Invalid Reservation Duration"],
      ["POST", "/hsm/v2/locks/service/reservations/renew", { ReservationDuration: 1 }, "Reservation Key required for operation"],
      ["POST", "/hsm/v2/locks/service/reservations/check", {}, "Deputy Key required for operation"],
      ["POST", "/hsm/v2/locks/status", { ComponentIDs: ["foo", "bar"] }, "Argument was not a valid xname ID"],
      ["GET", "/hsm/v2/locks/status?role=foo", undefined, "Argument was not a valid HMS Role"],
      ["POST", "/hsm/v2/locks/lock", { ProcessingModel: "fail" }, "Invalid Processing Model"],
      ["POST", "/hsm/v2/locks/unlock", { ProcessingModel: "fail" }, "Invalid Processing Model"],
      ["POST", "/hsm/v2/locks/disable", { ProcessingModel: "fail" }, "Invalid Processing Model"],
      ["POST", "/hsm/v2/locks/repair", { ProcessingModel: "fail" }, "Invalid Processing Model"],
    ];
    for (const [method, path, body, detail] of cases) await expect400(method, path, body, detail);
  });

  it("answers 400 (upstream: 500) for a body that does not decode, and for durations of zero", async () => {
    const r = await send("POST", "/hsm/v2/locks/lock", "{not json");
    expect(r.status).toBe(400);
    expect(r.body.detail).toMatch(/^error decoding JSON/);
    expect((await send("POST", "/hsm/v2/locks/lock", { ReservationDuration: "x" })).status).toBe(400);
    await expect400("POST", "/hsm/v2/locks/service/reservations", { ReservationDuration: 0 }, "ReservationDuration must be greater than 0");
    await expect400(
      "POST",
      "/hsm/v2/locks/service/reservations/check",
      { DeputyKeys: [{ ID: "nope", Key: "k" }] },
      "got HMSTypeInvalid instead of valid type",
    );
    await expect400("GET", "/hsm/v2/locks/status?reserved=maybe", undefined, "bad 'Reserved' query parameter: maybe");
  });
});

describe("what upstream's tests leave out", () => {
  const NODES = ["x3000c0s1b0n0", "x3000c0s1b0n1", "x3000c0s1b0n2"];
  beforeAll(async () => {
    const r = await send("POST", "/hsm/v2/State/Components", { Components: NODES.map((ID) => ({ ID, State: "On" })) });
    expect(r.status).toBe(204);
  });

  it("a lapsed service reservation is gone: the component is free again", async () => {
    const [res] = (await ok("/hsm/v2/locks/service/reservations", { ComponentIDs: [NODES[0]], ReservationDuration: 1 })).Success;
    // One minute passes (the row's lapse time moves into the past).
    await env.DB.prepare("UPDATE reservations SET expires_ms = ? WHERE component_id = ?")
      .bind(Date.now() - 1, NODES[0])
      .run();
    const status = await ok("/hsm/v2/locks/status", { ComponentIDs: [NODES[0]] });
    expect(status.Components[0].Reserved).toBe(false);
    await expect400(
      "POST",
      "/hsm/v2/locks/service/reservations/renew",
      { ReservationKeys: [{ ID: res.ID, Key: res.ReservationKey }], ReservationDuration: 5 },
      "Component not found",
    );
    expect((await ok("/hsm/v2/locks/service/reservations", { ComponentIDs: [NODES[0]], ReservationDuration: 1 })).Success).toHaveLength(1);
  });

  it("an admin's reservation cannot be renewed (it never lapses)", async () => {
    await ok("/hsm/v2/locks/lock", { ComponentIDs: [NODES[1]] });
    const [res] = (await ok("/hsm/v2/locks/reservations", { ComponentIDs: [NODES[1]] })).Success;
    const r = await ok("/hsm/v2/locks/service/reservations/renew", {
      ReservationKeys: [{ ID: res.ID, Key: res.ReservationKey }],
      ReservationDuration: 5,
      ProcessingModel: "flexible",
    });
    expect(r.Failure).toEqual([{ ID: NODES[1], Reason: "NotFound" }]);
  });

  it("keys match case-insensitively, and a deputy key cannot release", async () => {
    const [res] = (await ok("/hsm/v2/locks/service/reservations", { ComponentIDs: [NODES[2]], ReservationDuration: 2 })).Success;
    await expect400(
      "POST",
      "/hsm/v2/locks/service/reservations/release",
      { ReservationKeys: [{ ID: res.ID, Key: res.DeputyKey }] },
      "Component not found",
    );
    const released = await ok("/hsm/v2/locks/service/reservations/release", {
      ReservationKeys: [{ ID: res.ID.toUpperCase(), Key: res.ReservationKey.toUpperCase() }],
    });
    expect(released.Success.ComponentIDs).toEqual([NODES[2]]);
  });

  it("of many services racing for one component, exactly one gets it", async () => {
    const id = "x3000c0s2b0n0";
    expect((await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: id, State: "On" }] })).status).toBe(204);
    const attempts = await Promise.all(
      Array.from({ length: 12 }, () => send("POST", "/hsm/v2/locks/service/reservations", { ComponentIDs: [id], ReservationDuration: 3 })),
    );
    const won = attempts.filter((a) => a.status === 200);
    expect(won).toHaveLength(1);
    for (const a of attempts.filter((x) => x.status !== 200)) expect(a.body).toEqual(problem("Component is Reserved"));
    // And a lock racing reservations never leaves the component both locked and reserved.
    const other = "x3000c0s2b0n1";
    expect((await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: other, State: "On" }] })).status).toBe(204);
    await Promise.all([
      send("POST", "/hsm/v2/locks/lock", { ComponentIDs: [other] }),
      send("POST", "/hsm/v2/locks/service/reservations", { ComponentIDs: [other], ReservationDuration: 3 }),
      send("POST", "/hsm/v2/locks/lock", { ComponentIDs: [other] }),
      send("POST", "/hsm/v2/locks/service/reservations", { ComponentIDs: [other], ReservationDuration: 3 }),
    ]);
    const [s] = (await ok("/hsm/v2/locks/status", { ComponentIDs: [other] })).Components;
    expect(s.Locked && s.Reserved).toBe(false);
    expect(s.Locked || s.Reserved).toBe(true);
  });
});

describe("the lock store's commit", () => {
  it("commits against the version it read, and refuses (writing nothing) when another write came between", async () => {
    const db = database(env.DB);
    const id = "x3000c0s3b0n0";
    expect((await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: id, State: "On" }] })).status).toBe(204);
    const { version } = await readByKeys(db, "deputy", ["none"], Date.now());
    expect(await commit(db, version, [setLocked(db, [id], true)])).toBe(true);
    // A stale version: the batch is rolled back whole.
    expect(await commit(db, version, [setLocked(db, [id], false)])).toBe(false);
    expect((await send("GET", `/hsm/v2/State/Components/${id}`)).body.Locked).toBe(true);
    expect((await readByKeys(db, "deputy", ["none"], Date.now())).version).toBe(version + 1);
  });
});
