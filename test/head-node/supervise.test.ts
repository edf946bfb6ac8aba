/**
 * `npm start` rides through its own workerd processes dying: `kill -9` of the API workerd, then of
 * the database workerd, of a real `npm start`. Each comes back on the same port or socket with the
 * data intact, its exit reported with the cause; the agent serves images and metrics while the API
 * is down and delivers the boot events of that time once it is back; a client of the API waits
 * for the new process instead of failing; `npm start` never exits.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { cleanEnv } from "./auth-process";
import { isRunning, type NpmStart, npmStart, runtimeOf, stopWith } from "./npm-start";
import { freePort } from "./ports";

const missing = requirements({ commands: ["npm", "ps"] });

describe.skipIf(missing)("npm start supervises its workerd processes (real processes, kill -9)", () => {
  let stateDir = "";
  let started: NpmStart | undefined;
  let api = "";
  let images = "";
  let metrics = "";

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "e2-supervise-"));
    const [imagesPort, metricsPort] = [await freePort(), await freePort()];
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    images = `http://127.0.0.1:${imagesPort}`;
    metrics = `http://127.0.0.1:${metricsPort}`;
    started = await npmStart(
      cleanEnv({
        PORT: String(port),
        OCHAMI_STATE_DIR: stateDir,
        OCHAMI_AUTH: "off",
        OCHAMI_IMAGES_PORT: String(imagesPort),
        OCHAMI_AGENT_METRICS_PORT: String(metricsPort),
      }),
    );
    writeFileSync(path.join(stateDir, "images", "vmlinuz-outage"), "kernel bytes");
  }, 240_000);
  afterAll(async () => {
    if (started) {
      const { code, left } = await stopWith(started, "SIGTERM");
      expect(left, "processes left behind").toEqual([]);
      expect(code).toBe(0);
    }
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  const component = async (id: string) => (await fetch(`${api}/hsm/v2/State/Components/${id}`)).json();
  const history = async (endpoint: string) =>
    (await (await fetch(`${api}/boot/v1/endpoint-history?history=true&endpoint=${endpoint}`)).json()) as any[];

  it("the API workerd killed: the agent keeps serving, the API comes back on the same port with the data, queued events arrive", async () => {
    const s = started!;
    const post = await fetch(`${api}/hsm/v2/State/Components`, {
      method: "POST",
      body: JSON.stringify({ Components: [{ ID: "x3000c0s1b0n0", State: "Ready", NID: 7 }] }),
    });
    expect(post.status).toBe(204);
    const before = runtimeOf(s);
    process.kill(before.api, "SIGKILL");

    await waitFor(() => !isRunning(before.api), 10_000, "the API workerd to be gone");
    // A client of the API now waits: the runner holds the port, the new process will answer.
    const waiting = component("x3000c0s1b0n0");
    // The agent serves meanwhile: an image (its download a boot event for later) and its metrics.
    expect(await (await fetch(`${images}/vmlinuz-outage`)).text()).toBe("kernel bytes");
    expect((await fetch(`${metrics}/metrics`)).status).toBe(200);
    // All that happened while the API was down: the supervisor waits 0.5 s before a restart.
    expect(s.output()).not.toMatch(/the API workerd is back/);

    expect(await waiting).toMatchObject({ ID: "x3000c0s1b0n0", State: "Ready", NID: 7 });
    await s.out.until(/the API workerd is back \(pid (\d+), down [\d.]+ s\)/, 30_000, "the API workerd back");
    expect(s.output()).toContain(`the API workerd (pid ${before.api}) exited on signal SIGKILL`);
    expect(s.output()).toContain("restarting the API workerd in 0.5 s");
    const after = runtimeOf(s);
    expect(after.api).not.toBe(before.api);
    expect(after.database).toBe(before.database);
    expect(await component("x3000c0s1b0n0")).toMatchObject({ ID: "x3000c0s1b0n0", State: "Ready", NID: 7 });
    // The agent kept the download's event while the API was down and posts it now.
    const events = await waitFor(
      async () => {
        const got = await history("kernel");
        return got.length ? got : undefined;
      },
      15_000,
      "the outage's kernel event",
    );
    expect(events).toEqual([expect.objectContaining({ endpoint: "kernel", detail: "/vmlinuz-outage" })]);
    expect(s.proc.exitCode).toBeNull();
  });

  it("killed again before it is healthy: reported as a repeat, restarted after a longer delay", async () => {
    const s = started!;
    const before = runtimeOf(s);
    process.kill(before.api, "SIGKILL");
    await s.out.until(`the API workerd (pid ${before.api}) exited on signal SIGKILL (2 times in a row)`, 10_000, "the repeat");
    await s.out.until("restarting the API workerd in 1 s", 5_000, "the longer delay");
    await waitFor(() => runtimeOf(s).api !== before.api && isRunning(runtimeOf(s).api), 30_000, "a new API workerd");
    expect(await component("x3000c0s1b0n0")).toMatchObject({ ID: "x3000c0s1b0n0", NID: 7 });
    expect(s.proc.exitCode).toBeNull();
  });

  it("the database workerd killed: it comes back on its socket, the data is intact and writable, the API never restarted", async () => {
    const s = started!;
    const before = runtimeOf(s);
    process.kill(before.database, "SIGKILL");
    await s.out.until(`the database workerd (pid ${before.database}) exited on signal SIGKILL`, 10_000, "the database's exit");
    await s.out.until(/the database workerd is back \(pid \d+, down [\d.]+ s\)/, 30_000, "the database workerd back");
    const after = runtimeOf(s);
    expect(after.database).not.toBe(before.database);
    expect(after.api).toBe(before.api);
    expect(after.socket).toBe(before.socket);
    expect(await component("x3000c0s1b0n0")).toMatchObject({ ID: "x3000c0s1b0n0", NID: 7 });
    const post = await fetch(`${api}/hsm/v2/State/Components`, {
      method: "POST",
      body: JSON.stringify({ Components: [{ ID: "x3000c0s1b1n0", State: "Ready", NID: 8 }] }),
    });
    expect(post.status).toBe(204);
    expect(await component("x3000c0s1b1n0")).toMatchObject({ ID: "x3000c0s1b1n0", NID: 8 });
    expect(s.proc.exitCode).toBeNull();
  });
});
