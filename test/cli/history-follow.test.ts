/**
 * `ochami bss history --follow` (which replaced `npm run watch`) against a real API, as an admin
 * runs it on the head node with no CLI configuration: boot steps in time order, filters, following
 * new events, failures; and the follow loop itself on a clock the test moves.
 */
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Clock, followHistory, MEMBERS_REFRESH_MS } from "../../cli/history/follow";
import { ApiClient } from "../../shared/api-client/client";
import { ApiError } from "../../shared/api-client/errors";
import { requestClientToken } from "../../shared/api-client/grant";
import type { RecordedBootEvent } from "../../shared/boot-events";
import { recordApiUrl } from "../../shared/head-node-state";
import { seedNodes } from "../agent/smd-seed";
import { waitFor } from "../support/wait";
import { type Home, makeHome, OCHAMI_BIN, ochami, startTestApi, type TestApi } from "./harness";

const A = "x1000c0s0b0n0";
const B = "x1000c0s0b1n0";
const C = "x1000c0s0b2n0";

let api: TestApi;
let home: Home;
let token: string;
const t0 = Date.now() - 60_000;

const post = async (events: object[]) => {
  const res = await fetch(`${api.url}/boot/v1/endpoint-history`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: JSON.stringify({ events }),
  });
  expect(res.status).toBe(202);
};

beforeAll(async () => {
  api = await startTestApi();
  // As `npm start` leaves it: the CLI finds this API and its admin client through the state directory.
  recordApiUrl(api.stateDir, api.url);
  home = makeHome({ OCHAMI_STATE_DIR: api.stateDir });
  const credentials = { tokenUrl: `${api.url}/token`, clientId: api.admin.client_id, secret: api.admin.client_secret };
  token = (await requestClientToken(credentials, { timeoutMs: 10_000 })).access_token;
  const headers = { authorization: `Bearer ${token}` };
  await seedNodes(
    api.url,
    [
      { xname: A, nid: 1, mac: "02:64:00:00:00:01", ip: "10.64.3.1" },
      { xname: B, nid: 2, mac: "02:64:00:00:00:02", ip: "10.64.3.2" },
    ],
    { headers },
  );
  const group = await fetch(`${api.url}/hsm/v2/groups`, {
    method: "POST",
    headers,
    body: JSON.stringify({ label: "compute", members: { ids: [A] } }),
  });
  expect(group.status).toBe(201);
  // Arrival order is not boot order: the API's own steps land before the agent's batch.
  await post([{ name: A, endpoint: "bootscript", epoch_ms: t0 + 1200, detail: "script" }]);
  await post([
    { mac: "02:64:00:00:00:01", ip: "10.64.3.1", endpoint: "dhcp", epoch_ms: t0, detail: "ACK 10.64.3.1 file=http://h/boot/v1/bootscript" },
    { ip: "10.64.3.1", endpoint: "kernel", epoch_ms: t0 + 2500, detail: "/compute/vmlinuz" },
    { mac: "02:64:00:00:00:01", ip: "10.64.3.1", endpoint: "dhcp", epoch_ms: t0 + 9000, detail: "ACK 10.64.3.1" },
    { mac: "02:64:00:00:00:02", ip: "10.64.3.2", endpoint: "dhcp", epoch_ms: t0 + 100, detail: "ACK 10.64.3.2 file=x" },
    { mac: "02:64:00:00:00:99", ip: "10.64.3.200", endpoint: "dhcp", epoch_ms: t0 + 200, detail: "bootloop ACK 10.64.3.200 file=default" },
  ]);
});
afterAll(async () => {
  home?.remove();
  await api?.stop();
});

describe("ochami bss history --follow", () => {
  const follow = async (args: string[], env = home.env) => {
    const r = await ochami(["bss", "history", "--follow", ...args], { env });
    return { ...r, lines: r.stdout.trim().split("\n").filter(Boolean) };
  };

  it("prints each node's steps in time order with the time since its firmware DHCP", async () => {
    const r = await follow(["--once", "--since", "1h", "-x", A]);
    expect(r.code, r.stderr).toBe(0);
    const rows = r.lines.map((l) => l.split(/\s+/));
    expect(rows.map((row) => [row[1], row[2], row[3]])).toEqual([
      [A, "dhcp", "+0.0s"],
      [A, "bootscript", "+1.2s"],
      [A, "kernel", "+2.5s"],
      // The OS's own DHCP (no boot file) is a step of the same boot.
      [A, "dhcp", "+9.0s"],
    ]);
    expect(r.lines[2]).toMatch(/kernel\s+\+2\.5s\s+\/compute\/vmlinuz$/);
  });

  it("filters by step and by group; unknown MACs are shown by MAC", async () => {
    const steps = await follow(["--once", "--since", "1h", "--endpoint", "dhcp"]);
    expect(steps.code, steps.stderr).toBe(0);
    expect(steps.lines.map((l) => l.split(/\s+/)[1])).toEqual([A, B, "02:64:00:00:00:99", A]);
    const group = await follow(["--once", "--since", "1h", "--group", "compute"]);
    expect(group.code, group.stderr).toBe(0);
    expect(new Set(group.lines.map((l) => l.split(/\s+/)[1]))).toEqual(new Set([A]));
    const json = await follow(["--once", "--since", "1h", "-x", B, "-F", "json"]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.lines[0])).toMatchObject({ name: B, endpoint: "dhcp", ip: "10.64.3.2" });
    const yaml = await follow(["--once", "--since", "1h", "-x", B, "-F", "yaml"]);
    expect(yaml.stdout).toMatch(/^---\nid: \d+\nname: x1000c0s0b1n0\nendpoint: dhcp\n/);
  });

  it("follows new steps as they are reported, and stops on SIGTERM", async () => {
    const proc = spawn(process.execPath, [OCHAMI_BIN, "bss", "history", "--follow", "-x", B, "--since", "1s"], {
      env: home.env,
      cwd: home.dir,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    try {
      const until = (what: string, done: () => boolean) => waitFor(done, 15_000, () => `${what}; stdout: ${out}; stderr: ${err}`);
      await until("start", () => err.includes(`following ${api.url}/boot/v1/endpoint-history (Ctrl-C to stop)`));
      await post([
        { mac: "02:64:00:00:00:02", ip: "10.64.3.2", endpoint: "initrd", epoch_ms: Date.now(), detail: "/compute/initramfs.img" },
      ]);
      await until("initrd line", () => out.includes("initrd"));
      expect(out.trim().split("\n")).toEqual([expect.stringMatching(new RegExp(`${B}\\s+initrd\\s+/compute/initramfs\\.img$`))]);
    } finally {
      proc.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
  });

  it("says how to use it on bad arguments, and names an unreachable head node", async () => {
    const bad = await follow(["--since", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("error: --since must be an RFC 3339 time or a duration such as 10m, not 'soon'\n");
    const down = await follow(["--once"], { ...home.env, OCHAMI_URL: "http://127.0.0.1:9" });
    expect(down.code).toBe(1);
    expect(down.stderr).toBe(
      "error: cannot reach http://127.0.0.1:9 (GET /boot/v1/endpoint-history): connection refused; is `npm start` running? (OCHAMI_URL selects another)\n",
    );
  });
});

/** A clock the test moves: the loop's sleep ends when the test wakes it, the poll interval later. */
class TestClock implements Clock {
  private wakeUp?: () => void;
  private asleep = deferred();

  constructor(public time: number) {}

  now = () => this.time;

  sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      const done = () => {
        this.time += ms;
        resolve();
      };
      this.wakeUp = done;
      signal?.addEventListener("abort", done, { once: true });
      this.asleep.resolve();
    });

  /** Waits until the loop has polled and sleeps. */
  async polled() {
    await this.asleep.promise;
    this.asleep = deferred();
  }

  wake() {
    this.wakeUp?.();
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("the follow loop", () => {
  const apiAt = (url: string) => new ApiClient({ baseUrl: () => `${url}/boot/v1`, timeoutMs: 5_000 });
  const tC = Date.now() - 30_000;

  it("holds events for the reorder window, prints them in time order, and asks only for newer ones", async () => {
    const clock = new TestClock(tC + 1000);
    const emitted: RecordedBootEvent[] = [];
    const stop = new AbortController();
    await post([{ name: C, endpoint: "bootscript", epoch_ms: tC + 1200, detail: "script" }]);
    await post([{ name: C, endpoint: "dhcp", epoch_ms: tC, detail: "ACK file=x" }]);
    const loop = followHistory({
      api: apiAt(api.url),
      query: { name: [C] },
      sinceMs: tC - 1000,
      pollMs: 1000,
      reorderMs: 1500,
      once: false,
      emit: (e) => emitted.push(e),
      onError: (err) => {
        throw err;
      },
      signal: stop.signal,
      clock,
    });
    await clock.polled();
    expect(emitted).toEqual([]); // both younger than 1.5 s on the loop's clock
    clock.wake();
    await clock.polled();
    expect(emitted.map((e) => e.endpoint)).toEqual(["dhcp"]);
    await post([{ name: C, endpoint: "kernel", epoch_ms: tC + 1500, detail: "/vmlinuz" }]);
    clock.wake();
    await clock.polled();
    expect(emitted.map((e) => e.endpoint)).toEqual(["dhcp", "bootscript", "kernel"]);
    await post([{ name: C, endpoint: "initrd", epoch_ms: tC + 2600, detail: "/initrd" }]);
    clock.wake();
    await clock.polled();
    expect(emitted).toHaveLength(3); // held: not 1.5 s old yet
    stop.abort();
    await loop;
    expect(emitted.map((e) => e.endpoint)).toEqual(["dhcp", "bootscript", "kernel", "initrd"]);
    expect(new Set(emitted.map((e) => e.id)).size).toBe(4);
  });

  it("asks for the group members again every 30 s", async () => {
    const clock = new TestClock(Date.now());
    const groups = [new Set<string>(), new Set([C])];
    let asked = 0;
    const emitted: RecordedBootEvent[] = [];
    const stop = new AbortController();
    const loop = followHistory({
      api: apiAt(api.url),
      query: { name: [C] },
      sinceMs: tC - 1000,
      members: async () => groups[Math.min(asked++, 1)],
      pollMs: 1000,
      reorderMs: 0,
      once: false,
      emit: (e) => emitted.push(e),
      onError: (err) => {
        throw err;
      },
      signal: stop.signal,
      clock,
    });
    await clock.polled();
    expect([asked, emitted.length]).toEqual([1, 0]); // C is not a member yet
    clock.time += MEMBERS_REFRESH_MS;
    await post([{ name: C, endpoint: "meta-data", epoch_ms: tC + 3000, detail: "later" }]);
    clock.wake();
    await clock.polled();
    expect(asked).toBe(2);
    expect(emitted.map((e) => e.endpoint)).toEqual(["meta-data"]); // only events after those already seen
    stop.abort();
    await loop;
  });

  it("reports a failing API once while it keeps trying; with once, the failure is the result", async () => {
    const clock = new TestClock(Date.now());
    const errors: unknown[] = [];
    const stop = new AbortController();
    const loop = followHistory({
      api: apiAt("http://127.0.0.1:9"),
      query: {},
      pollMs: 1000,
      reorderMs: 1500,
      once: false,
      emit: () => {},
      onError: (err) => errors.push(err),
      signal: stop.signal,
      clock,
    });
    for (let i = 0; i < 3; i++) {
      await clock.polled();
      clock.wake();
    }
    await clock.polled();
    stop.abort();
    await loop;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ApiError);
    expect((errors[0] as ApiError).unreachable).toBe(true);
    const once = followHistory({
      api: apiAt("http://127.0.0.1:9"),
      query: {},
      pollMs: 1000,
      reorderMs: 0,
      once: true,
      emit: () => {},
      onError: () => {},
    });
    await expect(once).rejects.toThrow(/^cannot reach http:\/\/127\.0\.0\.1:9 \(GET \/boot\/v1\/endpoint-history\): connection refused$/);
  });
});
