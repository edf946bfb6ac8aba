/**
 * How `npm start` ends. SIGTERM: every listener refuses new connections at once (none is left
 * hanging), a request in flight finishes, and nothing is left: no process, no runtime directory.
 * `kill -9`: its workerd processes end with it, and the next start removes what it left behind.
 * The sweep itself, on directories made for it: only what belongs to a process that is gone.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processIdOf, sweepRuntimeDirs } from "../../head-node/api-runner/runtime-dir";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { cleanEnv } from "./auth-process";
import { connectOutcome, isRunning, npmStart, runtimeOf, stopWith } from "./npm-start";
import { freePort } from "./ports";

const missing = requirements({ commands: ["npm", "ps"] });

describe.skipIf(missing)("npm start's end (real processes)", () => {
  let stateDir = "";
  /**
   * The starts' TMPDIR, where each makes its runtime directory and looks for those of earlier
   * starts that died. Private, so the start under test is the one that finds this test's leftovers:
   * any other start on the machine (a test file running beside this one) would remove them first.
   */
  let tmp = "";
  let env: NodeJS.ProcessEnv;
  let ports: { api: number; images: number; metrics: number };

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "e2-shutdown-"));
    tmp = mkdtempSync(path.join(tmpdir(), "e2-shutdown-tmp-"));
    ports = { api: await freePort(), images: await freePort(), metrics: await freePort() };
    env = cleanEnv({
      PORT: String(ports.api),
      OCHAMI_STATE_DIR: stateDir,
      OCHAMI_AUTH: "off",
      OCHAMI_IMAGES_PORT: String(ports.images),
      OCHAMI_AGENT_METRICS_PORT: String(ports.metrics),
      TMPDIR: tmp,
    });
  });
  afterAll(() => {
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it("SIGTERM: new connections are refused at once, the request in flight finishes, nothing is left", { timeout: 240_000 }, async () => {
    const started = await npmStart(env);
    const runtime = runtimeOf(started);
    // A request in flight: its headers and half its body sent; the rest comes after the signal.
    const body = JSON.stringify({ Components: [{ ID: "x3000c0s2b0n0", State: "Ready", NID: 9 }] });
    const inflight = connect({ host: "127.0.0.1", port: ports.api });
    let answer = "";
    inflight.on("data", (d) => (answer += d));
    const closed = new Promise((r) => inflight.on("close", r));
    await new Promise((r) => inflight.on("connect", r));
    inflight.write(`POST /hsm/v2/State/Components HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`);

    const stopped = stopWith(started, "SIGTERM");
    // Probe every port until each refuses; every attempt meanwhile must be answered, not left
    // hanging and reset.
    const outcomes: Record<string, Array<{ outcome: string; ms: number }>> = { api: [], images: [], metrics: [] };
    await waitFor(
      async () => {
        for (const [name, port] of Object.entries(ports)) {
          if (outcomes[name].at(-1)?.outcome === "refused") continue;
          outcomes[name].push(await connectOutcome(port));
        }
        return Object.values(outcomes).every((o) => o.at(-1)?.outcome === "refused");
      },
      10_000,
      () => `every port to refuse: ${JSON.stringify(outcomes)}`,
    );
    // None hung: each was answered, or refused, or (made in the very instant its listener closed,
    // which the kernel then resets) reset at once. The request in flight is still open: under the
    // old stop the API's port kept accepting unanswered connections until it ended.
    for (const [name, o] of Object.entries(outcomes))
      for (const { outcome, ms } of o) {
        expect(["answered", "refused", "reset"], `${name}: ${JSON.stringify(o)}`).toContain(outcome);
        expect(ms, `${name}: ${JSON.stringify(o)}`).toBeLessThan(1000);
      }

    inflight.end(body.slice(10));
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 204 /);
    const { code, left } = await stopped;
    expect(left, "processes left behind").toEqual([]);
    expect(code).toBe(0);
    expect(existsSync(runtime.dir)).toBe(false);
    expect(started.output()).toContain("SIGTERM: stopping");
  });

  it("kill -9: its workerd processes end with it; the next start removes what it left and serves the data", {
    timeout: 240_000,
  }, async () => {
    let started = await npmStart(env);
    const runtime = runtimeOf(started);
    process.kill(runtime.owner, "SIGKILL");
    await waitFor(() => !isRunning(runtime.api) && !isRunning(runtime.database), 10_000, "the workerd processes to end with it");
    expect(existsSync(runtime.dir)).toBe(true);
    await started.exited; // npm ends with its child

    started = await npmStart(env);
    try {
      expect(started.output()).toContain(`cleaned up after 1 earlier start(s) that did not stop: removed ${runtime.dir}`);
      expect(existsSync(runtime.dir)).toBe(false);
      const got = await fetch(`http://127.0.0.1:${ports.api}/hsm/v2/State/Components/x3000c0s2b0n0`);
      expect(await got.json()).toMatchObject({ ID: "x3000c0s2b0n0", NID: 9 });
    } finally {
      const { code, left } = await stopWith(started, "SIGINT");
      expect(left).toEqual([]);
      expect(code).toBe(0);
    }
  });
});

describe("the runtime-directory sweep (directories made for it, real processes)", () => {
  const parent = mkdtempSync(path.join(tmpdir(), "e2-sweep-"));
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) c.kill("SIGKILL");
    rmSync(parent, { recursive: true, force: true });
  });

  const runtimeDir = (name: string, record?: unknown) => {
    const dir = path.join(parent, `ochami-d1-${name}`);
    mkdirSync(dir, { mode: 0o700 });
    if (record) writeFileSync(path.join(dir, "owner.json"), JSON.stringify(record));
    return dir;
  };
  const sleeper = async () => {
    const c = spawn("sleep", ["600"], { stdio: "ignore" });
    children.push(c);
    await new Promise((r) => c.once("spawn", r));
    return c;
  };

  it("removes the directories of owners that are gone, killing their workerd; keeps live ones", async () => {
    // An owner that has exited, and a "workerd" of its still running.
    const gone = await sleeper();
    const goneId = processIdOf(gone.pid!)!;
    gone.kill("SIGKILL");
    await new Promise((r) => gone.once("exit", r));
    const orphan = await sleeper();
    const stale = runtimeDir("stale", { owner: goneId, workerd: { api: processIdOf(orphan.pid!) } });
    // A pid now used by another process than the one recorded: its start time differs.
    const reused = runtimeDir("reused", { owner: { ...processIdOf(process.pid)!, started: 1 }, workerd: {} });
    // Alive: this test's own process.
    const live = runtimeDir("live", { owner: processIdOf(process.pid), workerd: { api: processIdOf(orphan.pid!) } });
    // From before owners were recorded: the socket of a process killed outright, and one that serves.
    const legacyDead = runtimeDir("legacy-dead");
    const holder = spawn(process.execPath, [
      "-e",
      "require('node:net').createServer().listen(process.argv[1])",
      path.join(legacyDead, "d1.sock"),
    ]);
    children.push(holder);
    await waitFor(() => existsSync(path.join(legacyDead, "d1.sock")), 10_000, "the socket to be bound");
    holder.kill("SIGKILL");
    await new Promise((r) => holder.once("exit", r));
    const legacyLive = runtimeDir("legacy-live");
    const server = createServer();
    await new Promise<void>((r) => server.listen(path.join(legacyLive, "d1.sock"), () => r()));
    // Both made over a minute ago; one made just now is not judged yet (its runner may be about to listen).
    const old = new Date(Date.now() - 120_000);
    for (const d of [legacyDead, legacyLive]) utimesSync(d, old, old);
    const legacyNew = runtimeDir("legacy-new");

    try {
      const result = await sweepRuntimeDirs(parent);
      expect(result.removed.sort()).toEqual([legacyDead, reused, stale].sort());
      expect(result.killed).toEqual([orphan.pid]);
      await waitFor(() => !isRunning(orphan.pid!), 5_000, "the orphan to be killed");
      for (const d of [live, legacyLive, legacyNew]) expect(existsSync(d)).toBe(true);
      for (const d of result.removed) expect(existsSync(d)).toBe(false);
    } finally {
      server.close();
    }
  });
});
