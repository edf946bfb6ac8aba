/**
 * `npm start` with the agent beside the API, as real processes: the first start creates the
 * agent's OAuth client and the agent reports with it; later starts reuse it, a revoked one is
 * replaced; SIGTERM and SIGINT to `npm start` leave no process behind.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../shared/head-node-state";
import { ochami } from "../cli/harness";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { cleanEnv } from "./auth-process";
import { npmStart, stopWith } from "./npm-start";
import { freePort } from "./ports";

const missing = requirements({ commands: ["npm", "ps"] });

describe.skipIf(missing)("npm start runs the agent beside the API (real processes)", () => {
  // Made in beforeAll, not at collection: a skipped or filtered-out suite must leave nothing behind.
  let stateDir = "";
  let home = "";
  let env: NodeJS.ProcessEnv;
  let api: string;
  let images: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "e2-start-"));
    home = mkdtempSync(path.join(tmpdir(), "e2-start-home-"));
    const [port, imagesPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
    api = `http://127.0.0.1:${port}`;
    images = `http://127.0.0.1:${imagesPort}`;
    env = cleanEnv({
      PORT: String(port),
      OCHAMI_STATE_DIR: stateDir,
      // The admin's own CLI configuration and token cache: none yet.
      HOME: home,
      OCHAMI_SYSTEM_CONFIG: path.join(home, "etc-ochami.yaml"),
      OCHAMI_IMAGES_PORT: String(imagesPort),
      OCHAMI_AGENT_METRICS_PORT: String(metricsPort),
    });
  });
  afterAll(() => {
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it("first start: creates the agent's client, serves images from the state directory, reports with its token; SIGTERM stops everything", {
    timeout: 240_000,
  }, async () => {
    const started = await npmStart(env);
    try {
      const out = started.output();
      expect(out).toMatch(/auth: created the agent's client (\S+) \(scopes boot:report smd:read\)/);
      expect(out).toContain(
        `agent: DHCP off (no interface: set dhcp.interface or OCHAMI_DHCP_INTERFACE); images ${images} from ${path.join(stateDir, "images")}`,
      );
      const file = path.join(stateDir, "auth", "agent-client.json");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const cred = JSON.parse(readFileSync(file, "utf8"));
      expect(out).not.toContain(cred.client_secret);

      // A download is a boot event, posted by the agent with its own token (boot:report).
      writeFileSync(path.join(stateDir, "images", "vmlinuz-test"), "kernel bytes");
      expect(await (await fetch(`${images}/vmlinuz-test`)).text()).toBe("kernel bytes");
      // The agent posts its events in batches, every 0.5 s.
      const events = await waitFor(
        async () => {
          const got = (await (await fetch(`${api}/boot/v1/endpoint-history?history=true&endpoint=kernel`)).json()) as any[];
          return got.length ? got : undefined;
        },
        10_000,
        "the kernel download in the boot history",
        { everyMs: 100 },
      );
      expect(events).toEqual([expect.objectContaining({ endpoint: "kernel", ip: "127.0.0.1", detail: "/vmlinuz-test" })]);
    } finally {
      const { code, left } = await stopWith(started, "SIGTERM");
      expect(left, "processes left behind").toEqual([]);
      expect(code).toBe(0);
    }
  });

  it("later starts reuse the agent's client; a revoked one is replaced; SIGINT stops everything", { timeout: 240_000 }, async () => {
    const cred = JSON.parse(readFileSync(path.join(stateDir, "auth", "agent-client.json"), "utf8"));
    let started = await npmStart(env);
    expect(started.output()).not.toContain("created the agent's client");
    const revoked = await ochami(["auth", "client", "revoke", "--no-confirm", cred.client_id], { env });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect((await stopWith(started, "SIGINT")).left).toEqual([]);

    started = await npmStart(env);
    try {
      expect(started.output()).toMatch(/auth: created the agent's client (\S+)/);
      const next = JSON.parse(readFileSync(path.join(stateDir, "auth", "agent-client.json"), "utf8"));
      expect(next.client_id).not.toBe(cred.client_id);
    } finally {
      const { code, left } = await stopWith(started, "SIGINT");
      expect(left).toEqual([]);
      expect(code).toBe(0);
    }
  });

  it("a bad agent config stops npm start with the reason, before anything is served", { timeout: 240_000 }, async () => {
    const bad = path.join(stateDir, "bad.yaml");
    writeFileSync(bad, "dhcp:\n  mode: sideways\ntftp:\n  maxBlockSize: 4\n");
    const proc = spawn("npm", ["start"], { cwd: repoRoot, env: { ...env, OCHAMI_AGENT_CONFIG: bad }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    proc.stdout.on("data", (d) => (out += d));
    proc.stderr.on("data", (d) => (out += d));
    const code = await new Promise((r) => proc.on("exit", r));
    expect(code).not.toBe(0);
    expect(out).toContain("dhcp.mode");
    expect(out).toContain("tftp.maxBlockSize");
    expect(out).not.toContain("API ready");
    expect(existsSync(path.join(stateDir, "bad.yaml"))).toBe(true);
  });
});
