/** `npm run watch` against a real API: boot steps in time order, filters, following new events. */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../../head-node/api-runner";
import { repoRoot } from "../../shared/head-node-state";
import { freePort } from "../head-node/ports";
import { seedNodes } from "./smd-seed";

const A = "x1000c0s0b0n0";
const B = "x1000c0s0b1n0";

describe("npm run watch", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "e2-watch-"));
  let api: ApiServer;
  let env: NodeJS.ProcessEnv;
  const t0 = Date.now() - 60_000;

  const post = async (events: object[]) => {
    const res = await fetch(`${api.url}/boot/v1/endpoint-history`, { method: "POST", body: JSON.stringify({ events }) });
    expect(res.status).toBe(202);
  };
  const watch = (args: string[]) => {
    const proc = spawn(process.execPath, ["--import", "tsx", "onprem-agent/watch.ts", ...args], {
      cwd: repoRoot,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((r) => proc.on("exit", (code) => r(code)));
    return { proc, exited, out: () => out, err: () => err, lines: () => out.trim().split("\n").filter(Boolean) };
  };

  beforeAll(async () => {
    api = await startApiServer({
      port: await freePort(),
      stateDir: path.join(dir, "state"),
      vars: { OCHAMI_AUTH: "off" },
      onLog: () => {},
    });
    env = { ...process.env, OCHAMI_URL: api.url, OCHAMI_STATE_DIR: path.join(dir, "no-state") };
    await seedNodes(api.url, [
      { xname: A, nid: 1, mac: "02:64:00:00:00:01", ip: "10.64.3.1" },
      { xname: B, nid: 2, mac: "02:64:00:00:00:02", ip: "10.64.3.2" },
    ]);
    await fetch(`${api.url}/hsm/v2/groups`, { method: "POST", body: JSON.stringify({ label: "compute", members: { ids: [A] } }) });
    // Arrival order is not boot order: the API's own steps land before the agent's batch.
    await post([{ name: A, endpoint: "bootscript", epoch_ms: t0 + 1200, detail: "script" }]);
    await post([
      {
        mac: "02:64:00:00:00:01",
        ip: "10.64.3.1",
        endpoint: "dhcp",
        epoch_ms: t0,
        detail: "ACK 10.64.3.1 file=http://h/boot/v1/bootscript",
      },
      { ip: "10.64.3.1", endpoint: "kernel", epoch_ms: t0 + 2500, detail: "/compute/vmlinuz" },
      { mac: "02:64:00:00:00:01", ip: "10.64.3.1", endpoint: "dhcp", epoch_ms: t0 + 9000, detail: "ACK 10.64.3.1" },
      { mac: "02:64:00:00:00:02", ip: "10.64.3.2", endpoint: "dhcp", epoch_ms: t0 + 100, detail: "ACK 10.64.3.2 file=x" },
      {
        mac: "02:64:00:00:00:99",
        ip: "10.64.3.200",
        endpoint: "dhcp",
        epoch_ms: t0 + 200,
        detail: "bootloop ACK 10.64.3.200 file=default",
      },
    ]);
  }, 60_000);
  afterAll(async () => {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints each node's steps in time order with the time since its firmware DHCP", async () => {
    const w = watch(["--once", "--since", "1h", "--node", A]);
    expect(await w.exited, w.err()).toBe(0);
    const rows = w.lines().map((l) => l.split(/\s+/));
    expect(rows.map((r) => [r[1], r[2], r[3]])).toEqual([
      [A, "dhcp", "+0.0s"],
      [A, "bootscript", "+1.2s"],
      [A, "kernel", "+2.5s"],
      // The OS's own DHCP (no boot file) is a step of the same boot.
      [A, "dhcp", "+9.0s"],
    ]);
    expect(w.lines()[2]).toMatch(/kernel\s+\+2\.5s\s+\/compute\/vmlinuz$/);
  });

  it("filters by step and by group; unknown MACs are shown by MAC", async () => {
    const steps = watch(["--once", "--since", "1h", "--step", "dhcp"]);
    expect(await steps.exited).toBe(0);
    expect(steps.lines().map((l) => l.split(/\s+/)[1])).toEqual([A, B, "02:64:00:00:00:99", A]);
    const group = watch(["--once", "--since", "1h", "--group", "compute"]);
    expect(await group.exited, group.err()).toBe(0);
    expect(new Set(group.lines().map((l) => l.split(/\s+/)[1]))).toEqual(new Set([A]));
    const json = watch(["--once", "--since", "1h", "--node", B, "--json"]);
    expect(await json.exited).toBe(0);
    expect(JSON.parse(json.lines()[0])).toMatchObject({ name: B, endpoint: "dhcp", ip: "10.64.3.2" });
  });

  it("follows new steps as they are reported, and stops on SIGTERM", async () => {
    const w = watch(["--node", B, "--since", "1s"]);
    await new Promise((r) => setTimeout(r, 1500));
    await post([{ mac: "02:64:00:00:00:02", ip: "10.64.3.2", endpoint: "initrd", epoch_ms: Date.now(), detail: "/compute/initramfs.img" }]);
    const deadline = Date.now() + 15_000;
    while (!w.out().includes("initrd") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(w.lines()).toEqual([expect.stringMatching(new RegExp(`${B}\\s+initrd\\s+/compute/initramfs\\.img$`))]);
    w.proc.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  });

  it("says how to use it on bad arguments, and names an unreachable API", async () => {
    const bad = watch(["--since", "soon"]);
    expect(await bad.exited).toBe(1);
    expect(bad.err()).toContain("--since: 'soon' is not a duration");
    env = { ...env, OCHAMI_URL: "http://127.0.0.1:9" };
    const down = watch(["--once"]);
    expect(await down.exited).toBe(1);
    expect(down.err()).toContain("cannot reach the API at http://127.0.0.1:9");
  });
});
