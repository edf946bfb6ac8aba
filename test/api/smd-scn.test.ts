import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LIMITS, ScnDispatcher, type Transport } from "../../workers/smd/scn/dispatch";
import { send } from "./client";

/**
 * State change notifications: the subscription API replaying upstream's CT stages
 * (test_state_change_notifications and its negative file, from Cray-HPE/hms-smd, whose OpenCHAMI
 * copy dropped them), which writes announce what to whom, and the dispatcher's bounds. Real HTTP
 * delivery to a subscriber process is tested in test/head-node/smd-scn-delivery.test.ts.
 */

const SUB = {
  Subscriber: "test-hmnfd-9z9z999zzz-9zz9z_9",
  Enabled: true,
  Roles: ["compute", "service"],
  SoftwareStatus: ["SCN subscription for CT testing."],
  States: ["Empty", "Populated", "Off", "On", "Standby", "Halt", "Ready"],
  Url: "http://test-hmnfd/hmi/v1/scn",
};

describe("upstream's SCN subscription stages", () => {
  let id: number;

  it("creates a subscription and answers it with its ID", async () => {
    const r = await send("POST", "/hsm/v2/Subscriptions/SCN", SUB);
    expect(r.status).toBe(200);
    id = r.body.ID;
    expect(id).toBeGreaterThan(0);
    expect(r.body).toEqual({ ID: id, ...SUB });
    expect(Object.keys(r.body)).toEqual(["ID", "Subscriber", "Enabled", "Roles", "SoftwareStatus", "States", "Url"]);
    const list = await send("GET", "/hsm/v2/Subscriptions/SCN");
    expect(list.body).toEqual({ SubscriptionList: [{ ID: id, ...SUB }] });
    expect((await send("GET", `/hsm/v2/Subscriptions/SCN/${id}`)).body).toEqual({ ID: id, ...SUB });
    // The same subscriber and URL again: upstream's unique key refuses it.
    expect((await send("POST", "/hsm/v2/Subscriptions/SCN", SUB)).body).toMatchObject({ status: 400, detail: "Subscribe failed" });
  });

  it("patches: remove, add, replace", async () => {
    const patch = async (body: unknown) => {
      const r = await send("PATCH", `/hsm/v2/Subscriptions/SCN/${id}`, body);
      expect(r.status, JSON.stringify(body)).toBe(204);
      return (await send("GET", `/hsm/v2/Subscriptions/SCN/${id}`)).body;
    };
    let s = await patch({ Op: "remove", Roles: ["compute"], States: ["Empty", "Populated"] });
    expect([s.Roles, s.States, s.Enabled]).toEqual([["service"], ["Off", "On", "Standby", "Halt", "Ready"], true]);
    s = await patch({ Op: "add", Roles: ["compute"], States: ["Populated"] });
    expect([s.Roles, s.States]).toEqual([
      ["service", "compute"],
      ["Off", "On", "Standby", "Halt", "Ready", "Populated"],
    ]);
    s = await patch({ Op: "replace", Roles: ["service"], States: ["Ready", "On", "Standby"] });
    expect([s.Roles, s.States, s.SoftwareStatus]).toEqual([["service"], ["Ready", "On", "Standby"], SUB.SoftwareStatus]);
    s = await patch({ Op: "Remove", Enabled: true });
    expect(s.Enabled).toBe(false);
    s = await patch({ op: "ADD", enabled: true });
    expect(s.Enabled).toBe(true);
  });

  it("replaces with PUT, deletes once, then 404", async () => {
    const next = {
      ...SUB,
      Subscriber: "test-hmnfd-9z9z999zzz-9zz9z_8",
      Enabled: false,
      Roles: ["compute"],
      States: ["Empty", "Populated", "Off", "On", "Halt"],
    };
    expect((await send("PUT", `/hsm/v2/Subscriptions/SCN/${id}`, next)).status).toBe(204);
    expect((await send("GET", `/hsm/v2/Subscriptions/SCN/${id}`)).body).toEqual({ ID: id, ...next });
    const gone = await send("DELETE", `/hsm/v2/Subscriptions/SCN/${id}`);
    expect([gone.status, gone.body]).toEqual([200, { code: 0, message: "Subscription deleted" }]);
    const again = await send("DELETE", `/hsm/v2/Subscriptions/SCN/${id}`);
    expect([again.status, again.body.detail]).toEqual([404, "Subscription not found"]);
    expect((await send("GET", `/hsm/v2/Subscriptions/SCN/${id}`)).status).toBe(404);
    expect((await send("PUT", `/hsm/v2/Subscriptions/SCN/${id}`, next)).body.detail).toBe("Subscription not found");
    expect((await send("PATCH", `/hsm/v2/Subscriptions/SCN/${id}`, { Op: "add", States: ["On"] })).status).toBe(404);
  });

  it("words bad requests as upstream (negative stages, and the rest of upstream's checks)", async () => {
    const { Subscriber, Url, ...rest } = SUB;
    const cases: Array<[string, string, unknown, string]> = [
      ["POST", "/hsm/v2/Subscriptions/SCN", { ...rest, Url }, "Missing name of subscriber"],
      ["POST", "/hsm/v2/Subscriptions/SCN", { ...rest, Subscriber }, "Missing url"],
      ["PUT", "/hsm/v2/Subscriptions/SCN/999999999", { ...rest, Url }, "Missing name of subscriber"],
      ["PUT", "/hsm/v2/Subscriptions/SCN/999999999", { ...rest, Subscriber }, "Missing url"],
      [
        "POST",
        "/hsm/v2/Subscriptions/SCN",
        { Subscriber, Url, Enabled: false },
        "Missing trigger. Must subscribe to atleast one Enabled, Role, SubRole, SoftwareStatus, or State trigger.",
      ],
      ["POST", "/hsm/v2/Subscriptions/SCN", { Subscriber, Url, Roles: ["Wizard"] }, "Invalid role 'Wizard'"],
      ["POST", "/hsm/v2/Subscriptions/SCN", { Subscriber, Url, SubRoles: ["x"] }, "Invalid subRole 'x'"],
      ["POST", "/hsm/v2/Subscriptions/SCN", { Subscriber, Url, States: ["Dancing"] }, "Invalid state 'Dancing'"],
      ["POST", "/hsm/v2/Subscriptions/SCN", { Subscriber, Url, SoftwareStatus: [""] }, "SoftwareStatus can not be an empty string"],
      ["GET", "/hsm/v2/Subscriptions/SCN/abc", undefined, "Invalid id - abc"],
      ["DELETE", "/hsm/v2/Subscriptions/SCN/0", undefined, "Invalid id - 0"],
      ["PATCH", "/hsm/v2/Subscriptions/SCN/1", { States: ["On"] }, "Missing Patch Op"],
      ["PATCH", "/hsm/v2/Subscriptions/SCN/1", { Op: "merge", States: ["On"] }, "Invalid Patch Op - merge"],
      [
        "PATCH",
        "/hsm/v2/Subscriptions/SCN/1",
        { Op: "add" },
        "Missing trigger. Subscriptions must have atleast one Enabled, Role, SubRole, SoftwareStatus, or State trigger.",
      ],
    ];
    for (const [method, path, body, detail] of cases) {
      const r = await send(method, path, body);
      expect([r.status, r.body?.detail], `${method} ${path} ${JSON.stringify(body)}`).toEqual([400, detail]);
    }
    // A wrong JSON type: 400 (upstream: 500).
    expect((await send("POST", "/hsm/v2/Subscriptions/SCN", { ...SUB, Roles: "compute" })).status).toBe(400);
    // A wrong method on the collection: 405, as upstream's router (Cray's older router said 404).
    expect((await send("PUT", "/hsm/v2/Subscriptions/SCN", SUB)).status).toBe(405);
  });

  it("deletes every subscription (upstream's count message), and an empty list is []", async () => {
    for (const n of [1, 2]) expect((await send("POST", "/hsm/v2/Subscriptions/SCN", { ...SUB, Subscriber: `s${n}` })).status).toBe(200);
    expect((await send("DELETE", "/hsm/v2/Subscriptions/SCN")).body).toEqual({ code: 0, message: "2 Subscriptions deleted" });
    expect((await send("DELETE", "/hsm/v2/Subscriptions/SCN")).body).toEqual({ code: 0, message: "0 Subscriptions deleted" });
    expect((await send("GET", "/hsm/v2/Subscriptions/SCN")).body).toEqual({ SubscriptionList: [] });
  });
});

describe("which writes notify whom", () => {
  /** What the worker POSTed to subscribers: [url, payload]. */
  let posted: Array<[string, any]>;
  beforeEach(async () => {
    posted = [];
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      posted.push([String(input), JSON.parse(String(init?.body))]);
      return new Response(null, { status: 200 });
    });
    await send("DELETE", "/hsm/v2/Subscriptions/SCN");
    await send("DELETE", "/hsm/v2/State/Components");
  });
  afterEach(() => vi.restoreAllMocks());

  const subscribe = (Subscriber: string, triggers: Record<string, unknown>) =>
    send("POST", "/hsm/v2/Subscriptions/SCN", { Subscriber, Url: `http://${Subscriber}.test/scn`, ...triggers });

  it("a new component: its state, enabled and role; a forced POST only a state change; an unforced one nothing", async () => {
    await subscribe("states", { States: ["on", "off"] });
    await subscribe("roles", { Roles: ["compute"] });
    await subscribe("enabled", { Enabled: true });
    await send("POST", "/hsm/v2/State/Components", {
      Components: [
        { ID: "x1c0s0b0n0", State: "On" },
        { ID: "x1c0s0b0n1", State: "On" },
      ],
    });
    expect(posted).toEqual(
      expect.arrayContaining([
        ["http://states.test/scn", { Components: ["x1c0s0b0n0", "x1c0s0b0n1"], State: "On" }],
        ["http://roles.test/scn", { Components: ["x1c0s0b0n0", "x1c0s0b0n1"], Role: "Compute" }],
        ["http://enabled.test/scn", { Components: ["x1c0s0b0n0", "x1c0s0b0n1"], Enabled: true }],
      ]),
    );
    expect(posted).toHaveLength(3);
    posted = [];
    await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x1c0s0b0n0", State: "Off" }] });
    expect(posted).toEqual([]);
    await send("POST", "/hsm/v2/State/Components", {
      Components: [
        { ID: "x1c0s0b0n0", State: "Off" },
        { ID: "x1c0s0b0n1", State: "On" },
      ],
      force: true,
    });
    expect(posted).toEqual([["http://states.test/scn", { Components: ["x1c0s0b0n0"], State: "Off" }]]);
  });

  it("patches announce the components that changed, single or bulk; FlagOnly and NID announce nothing", async () => {
    await send("POST", "/hsm/v2/State/Components", { Components: ["n0", "n1", "n2"].map((n) => ({ ID: `x1c0s0b0${n}`, State: "Off" })) });
    await subscribe("ready", { States: ["Ready"] });
    await subscribe("sw", { SoftwareStatus: ["admindown"] });
    await subscribe("svc", { Roles: ["Service"] });
    await subscribe("enabled", { Enabled: true });
    await send("PATCH", "/hsm/v2/State/Components/x1c0s0b0n0/StateData", { State: "Ready" });
    await send("PATCH", "/hsm/v2/State/Components/BulkStateData", { ComponentIDs: ["x1c0s0b0n0", "x1c0s0b0n1"], State: "Ready" });
    await send("PATCH", "/hsm/v2/State/Components/BulkSoftwareStatus", { ComponentIDs: ["x1c0s0b0n2"], SoftwareStatus: "AdminDown" });
    await send("PATCH", "/hsm/v2/State/Components/x1c0s0b0n2/Role", { Role: "service", SubRole: "worker" });
    await send("PATCH", "/hsm/v2/State/Components/BulkEnabled", { ComponentIDs: ["x1c0s0b0n1", "x1c0s0b0n2"], Enabled: false });
    await send("PATCH", "/hsm/v2/State/Components/BulkEnabled", { ComponentIDs: ["x1c0s0b0n1", "x1c0s0b0n2"], Enabled: false });
    await send("PATCH", "/hsm/v2/State/Components/x1c0s0b0n2/FlagOnly", { Flag: "Alert" });
    await send("PATCH", "/hsm/v2/State/Components/x1c0s0b0n2/NID", { NID: 7 });
    expect(posted).toEqual([
      ["http://ready.test/scn", { Components: ["x1c0s0b0n0"], Flag: "OK", State: "Ready" }],
      // n0 was Ready already: only n1 changed.
      ["http://ready.test/scn", { Components: ["x1c0s0b0n1"], Flag: "OK", State: "Ready" }],
      ["http://sw.test/scn", { Components: ["x1c0s0b0n2"], SoftwareStatus: "AdminDown" }],
      ["http://svc.test/scn", { Components: ["x1c0s0b0n2"], Role: "Service", SubRole: "Worker" }],
      ["http://enabled.test/scn", { Components: ["x1c0s0b0n1", "x1c0s0b0n2"], Enabled: false }],
    ]);
  });

  it("deleting a Redfish endpoint announces its components Empty", async () => {
    const rfe = await send("POST", "/hsm/v2/Inventory/RedfishEndpoints", {
      ID: "x1c0s1b0",
      FQDN: "x1c0s1b0",
      SchemaVersion: 1,
      Systems: [{ uuid: "u1", ethernet_interfaces: [{ mac: "de:ad:be:ef:00:01", ip: "10.0.0.1" }] }],
    });
    expect(rfe.status).toBe(201);
    await subscribe("empty", { States: ["Empty"] });
    expect((await send("DELETE", "/hsm/v2/Inventory/RedfishEndpoints/x1c0s1b0")).status).toBe(200);
    expect(posted).toEqual([["http://empty.test/scn", { Components: ["x1c0s1b0n0"], Flag: "OK", State: "Empty" }]]);
  });

  it("with no subscription, a write reads none and posts nothing", async () => {
    await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x1c0s0b0n0", State: "On" }] });
    await send("PATCH", "/hsm/v2/State/Components/x1c0s0b0n0/StateData", { State: "Off" });
    expect(posted).toEqual([]);
  });
});

describe("the dispatcher's bounds", () => {
  /** A subscriber under test control, on a manual clock: sleeps advance the clock, never wait. */
  function harness(answer: (url: string, n: number) => boolean | Promise<boolean>) {
    let now = 1_000_000;
    const calls: string[] = [];
    const transport: Transport = {
      post: async (url, body) => {
        calls.push(`${url} ${body}`);
        return answer(url, calls.length);
      },
      sleep: async (ms) => {
        now += ms;
      },
      now: () => now,
    };
    const logs: string[] = [];
    const d = new ScnDispatcher(transport, LIMITS, (l) => logs.push(l));
    return { d, calls, logs, advance: (ms: number) => (now += ms) };
  }

  it("retries a notification up to three times, then drops it; delivers the next", async () => {
    const h = harness((_, n) => n >= 3);
    await h.d.enqueue("http://a/scn", "1");
    expect(h.calls).toEqual(["http://a/scn 1", "http://a/scn 1", "http://a/scn 1"]);
    expect(h.d.stats("http://a/scn")).toMatchObject({ delivered: 1, dropped: 0 });
    const dead = harness(() => false);
    await dead.d.enqueue("http://b/scn", "x");
    expect(dead.calls).toHaveLength(LIMITS.ATTEMPTS);
    expect(dead.d.stats("http://b/scn")).toMatchObject({ delivered: 0, dropped: 1, suspended: false });
  });

  it("suspends a subscriber after three notifications failed in a row: it costs no more requests until the suspension ends", async () => {
    const h = harness(() => {
      throw new Error("connection refused");
    });
    for (let i = 0; i < 3; i++) await h.d.enqueue("http://dead/scn", String(i));
    expect(h.calls).toHaveLength(3 * LIMITS.ATTEMPTS);
    expect(h.d.stats("http://dead/scn")).toMatchObject({ suspended: true, dropped: 3, queued: 0 });
    expect(h.logs).toHaveLength(1);
    for (let i = 0; i < 1000; i++) expect(h.d.enqueue("http://dead/scn", "more")).toBeUndefined();
    expect(h.calls).toHaveLength(3 * LIMITS.ATTEMPTS);
    expect(h.d.stats("http://dead/scn")).toMatchObject({ queued: 0, dropped: 1003 });
    // After the suspension, one notification probes it again.
    h.advance(LIMITS.SUSPEND_MS);
    await h.d.enqueue("http://dead/scn", "probe");
    expect(h.calls).toHaveLength(4 * LIMITS.ATTEMPTS);
  });

  it("a slow subscriber's queue stays bounded: the oldest notifications go first", async () => {
    let release!: () => void;
    const gate = new Promise<boolean>((resolve) => {
      release = () => resolve(true);
    });
    const h = harness(() => gate);
    const sender = h.d.enqueue("http://slow/scn", "first");
    expect(sender).toBeDefined();
    for (let i = 0; i < LIMITS.QUEUE_LIMIT + 50; i++) expect(h.d.enqueue("http://slow/scn", `n${i}`)).toBeUndefined();
    expect(h.d.stats("http://slow/scn")).toMatchObject({ queued: LIMITS.QUEUE_LIMIT, dropped: 50 });
    release();
    await sender;
    expect(h.d.stats("http://slow/scn")).toMatchObject({ queued: 0, delivered: LIMITS.QUEUE_LIMIT + 1 });
    // In order, the oldest 50 of the backlog dropped.
    expect(h.calls[1]).toBe("http://slow/scn n50");
    expect(h.calls.at(-1)).toBe(`http://slow/scn n${LIMITS.QUEUE_LIMIT + 49}`);
  });

  it("a sender whose request was cancelled (no progress for a minute) is replaced by the next notification", async () => {
    const h = harness(() => new Promise<boolean>(() => {}));
    expect(h.d.enqueue("http://stuck/scn", "1")).toBeDefined();
    expect(h.d.enqueue("http://stuck/scn", "2")).toBeUndefined();
    h.advance(LIMITS.STUCK_MS);
    expect(h.d.enqueue("http://stuck/scn", "3")).toBeDefined();
  });
});
