import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { ConfigError, loadAgentConfig, parseAgentConfig } from "../../onprem-agent/config";
import { freePort } from "../head-node/ports";
import { ProcessOutput } from "../support/output";
import { seedNodes } from "./smd-seed";

const root = path.resolve(import.meta.dirname, "../..");

function runAgent(configFile: string) {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "onprem-agent/main.ts"), "--config", configFile], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = new ProcessOutput(child, [child.stdout]);
  const err = new ProcessOutput(child, [child.stderr]);
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, exited, stdout: out, out: () => out.text, err: () => err.text };
}

describe("agent configuration", () => {
  it("the commented example is valid and keeps DHCP off", () => {
    const cfg = loadAgentConfig(path.join(root, "onprem-agent/agent.example.yaml"));
    expect(cfg.dhcp.interface).toBeUndefined();
    expect(cfg.dhcp.leaseTime).toBe(3600);
    expect(cfg.dhcp.bootloop.leaseTime).toBe(300);
    expect(cfg.inventory.hostnames.Node).toBe("nid{04d}");
  });

  it("lists every problem with its path", () => {
    let error: unknown;
    try {
      parseAgentConfig({
        dhcp: { interface: "eth1", leaseTime: "forever", unknownClients: "bootloop", routers: ["300.1.1.1"] },
        api: { url: "ftp://x" },
        bogus: 1,
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const msg = (error as Error).message;
    expect(msg).toContain("dhcp.leaseTime");
    expect(msg).toContain("dhcp.routers.0");
    expect(msg).toContain("api.url");
    expect(msg).toMatch(/bogus/);
    // Cross-field rules run once the fields themselves are valid.
    expect(() => parseAgentConfig({ dhcp: { interface: "eth1", unknownClients: "bootloop" } })).toThrow(
      /dhcp.pool: unknownClients: bootloop needs a pool/,
    );
  });
});

describe("npm run agent", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "dh-agent-"));
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApiServer({
      port: await freePort(),
      stateDir: path.join(dir, "state"),
      vars: { OCHAMI_AUTH: "off" },
      onLog: () => {},
    });
    await seedNodes(api.url, [{ xname: "x1000c0s0b0n0", nid: 1, mac: "02:61:00:00:00:01", ip: "10.61.0.5" }]);
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("starts from a YAML file, loads SMD, serves metrics, stops on SIGTERM", async () => {
    const metricsPort = await freePort();
    const file = path.join(dir, "agent.yaml");
    writeFileSync(file, `api:\n  url: ${api.url}\nmetrics:\n  port: ${metricsPort}\n`);
    const a = runAgent(file);
    try {
      // Its last start-up line: metrics served, inventory loaded, every part started.
      await a.stdout.until('"msg":"DHCP is off (no dhcp.interface configured)"', 20_000, "the agent's start-up");
      // Answered from the agent's event loop, so after main() installed its SIGTERM handler.
      const body = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(body).toContain("ochami_agent_inventory_reservations 1");
      expect(body).toMatch(/ochami_agent_inventory_age_seconds \d/);
      expect(body).toContain("ochami_agent_process_resident_memory_bytes");
      a.child.kill("SIGTERM");
      expect(await a.exited).toBe(0);
      const lines = a
        .out()
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines.some((l) => l.msg === "DHCP is off (no dhcp.interface configured)")).toBe(true);
      expect(lines.find((l) => l.msg === "inventory loaded")).toMatchObject({ reservations: 1, level: 30 });
    } finally {
      a.child.kill("SIGKILL");
    }
  });

  it("exits 1 with a readable message on a bad config", async () => {
    const file = path.join(dir, "bad.yaml");
    writeFileSync(file, "dhcp:\n  mode: sideways\n");
    const a = runAgent(file);
    expect(await a.exited).toBe(1);
    expect(a.err()).toContain("dhcp.mode");
  });
});
