import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { freePort } from "./ports";

/** The production runner: workerd serving the bundled worker, a second workerd holding the persisted local D1. */
describe("api runner (workerd + local D1)", () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "ochami-runner-"));
  let api: ApiServer;

  beforeAll(async () => {
    api = await startApiServer({ port: await freePort(), stateDir, vars: { OCHAMI_AUTH: "off" }, onLog: () => {} });
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("serves SMD with migrations applied", async () => {
    const ready = await fetch(`${api.url}/hsm/v2/service/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ code: 0, message: "HSM is healthy" });
  });

  it("keeps data across a restart on the same state directory", async () => {
    const post = await fetch(`${api.url}/hsm/v2/State/Components`, {
      method: "POST",
      body: JSON.stringify({ Components: [{ ID: "x3000c0s1b0n0", State: "Ready", NID: 7 }] }),
    });
    expect(post.status).toBe(204);
    const port = Number(new URL(api.url).port);
    await api.stop();
    for (const child of [api.process, api.databaseProcess]) expect(child.exitCode !== null || child.signalCode !== null).toBe(true);
    api = await startApiServer({ port, stateDir, vars: { OCHAMI_AUTH: "off" }, onLog: () => {} });
    const got = await fetch(`${api.url}/hsm/v2/State/Components/x3000c0s1b0n0`);
    expect(await got.json()).toMatchObject({ ID: "x3000c0s1b0n0", NID: 7, State: "Ready" });
  });

  it("runs the database in its own process, reached over an owner-only socket", async () => {
    expect(api.databaseProcess.pid).not.toBe(api.process.pid);
    const socket = readlinkSockets(api.databaseProcess.pid!);
    expect(socket).toMatch(/ochami-d1-[^/]+\/d1\.sock$/);
    expect(statSync(path.dirname(socket)).mode & 0o777).toBe(0o700);
  });

  it("boots from the snapshot and sees each write through the API at once", async () => {
    const call = (method: string, p: string, body?: unknown) =>
      fetch(`${api.url}${p}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
    await call("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: "02:00:00:00:00:07", ComponentID: "x3000c0s1b0n0" });
    const kernel = async () =>
      /kernel --name kernel (\S+)/.exec(await (await call("GET", "/boot/v1/bootscript?mac=02:00:00:00:00:07")).text())?.[1];
    for (const k of ["http://k/one", "http://k/two", "http://k/three"]) {
      expect((await call("PUT", "/boot/v1/bootparameters", { macs: ["02:00:00:00:00:07"], kernel: k })).status).toBe(200);
      expect(await kernel()).toBe(k);
      expect(await kernel()).toBe(k);
    }
    const stats = await (await call("GET", "/boot/v1/service/snapshot")).json();
    expect(stats).toMatchObject({ mode: "exclusive" });
    expect(stats.served).toBeGreaterThan(0);
  });

  it("refuses to start on a variable the worker would reject, naming it", async () => {
    const bad = mkdtempSync(path.join(tmpdir(), "ochami-runner-bad-"));
    try {
      const start = startApiServer({
        port: await freePort(),
        stateDir: bad,
        vars: { OCHAMI_AUTH: "off", OCHAMI_TRUSTED_PROXIES: "10.0.0.0/99" },
        onLog: () => {},
      });
      await expect(start).rejects.toThrow(/OCHAMI_TRUSTED_PROXIES: '10.0.0.0\/99' is not an IP network/);
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});

/** The Unix socket the process listens on, from /proc (the runner keeps its path private). */
function readlinkSockets(pid: number): string {
  const inodes = new Set(
    readdirSync(`/proc/${pid}/fd`)
      .map((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return "";
        }
      })
      .map((l) => /^socket:\[(\d+)\]$/.exec(l)?.[1])
      .filter(Boolean),
  );
  const line = readFileSync("/proc/net/unix", "utf8")
    .split("\n")
    .find((l) => {
      const f = l.trim().split(/\s+/);
      return f.length >= 8 && inodes.has(f[6]) && f[7].endsWith("d1.sock");
    });
  return line?.trim().split(/\s+/)[7] ?? "";
}
