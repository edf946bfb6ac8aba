/**
 * Two head-node stacks on one machine: every port `npm start` listens on is a setting, it says at
 * start-up which ports it took, and a port another process holds stops it with one line naming the
 * setting to change (exit code 1, no stack trace, nothing started).
 */

import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenFailure, plannedListeners } from "../../head-node/listeners";
import { planHeadNode } from "../../head-node/plan";
import { openUdpDescriptor } from "../../onprem-agent/dhcp/netbind";
import { requirements } from "../support/requirements";
import { cleanEnv } from "./auth-process";
import { type NpmStart, npmStart, npmStartToEnd, stopWith } from "./npm-start";
import { freePort } from "./ports";

const missing = requirements({ commands: ["npm", "ps"] });

interface Stack {
  dir: string;
  ports: { api: number; images: number; metrics: number };
  env: NodeJS.ProcessEnv;
  started?: NpmStart;
}

async function stack(): Promise<Stack> {
  const dir = mkdtempSync(path.join(tmpdir(), "e2-stack-"));
  const ports = { api: await freePort(), images: await freePort(), metrics: await freePort() };
  const env = cleanEnv({
    PORT: String(ports.api),
    OCHAMI_STATE_DIR: dir,
    OCHAMI_AUTH: "off",
    OCHAMI_IMAGES_PORT: String(ports.images),
    OCHAMI_AGENT_METRICS_PORT: String(ports.metrics),
  });
  return { dir, ports, env };
}

describe.skipIf(missing)("two npm starts on one machine (real processes)", () => {
  const stacks: Stack[] = [];

  beforeAll(async () => {
    stacks.push(await stack(), await stack());
  });
  afterAll(async () => {
    for (const s of stacks) {
      if (s.started) expect((await stopWith(s.started, "SIGTERM")).left).toEqual([]);
      rmSync(s.dir, { recursive: true, force: true });
    }
  });

  it("side by side with their own settings: both serve, each says which ports it took", { timeout: 240_000 }, async () => {
    const [a, b] = stacks;
    [a.started, b.started] = await Promise.all([npmStart(a.env), npmStart(b.env)]);
    for (const s of [a, b]) {
      const out = s.started!.output();
      expect(out).toMatch(new RegExp(`^ {2}API +127\\.0\\.0\\.1:${s.ports.api}/tcp +PORT `, "m"));
      expect(out).toMatch(new RegExp(`^ {2}images +127\\.0\\.0\\.1:${s.ports.images}/tcp +OCHAMI_IMAGES_PORT \\(images\\.port\\) `, "m"));
      expect(out).toMatch(
        new RegExp(`^ {2}metrics +127\\.0\\.0\\.1:${s.ports.metrics}/tcp +OCHAMI_AGENT_METRICS_PORT \\(metrics\\.port\\) `, "m"),
      );
      expect(out).toMatch(/^ {2}database +unix:\/\S+\/d1\.sock /m);
      expect((await fetch(`http://127.0.0.1:${s.ports.api}/hsm/v2/service/ready`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${s.ports.metrics}/metrics`)).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${s.ports.images}/missing`)).status).toBe(404);
    }
    // Each its own database: a component written to one is not in the other.
    const post = await fetch(`http://127.0.0.1:${a.ports.api}/hsm/v2/State/Components`, {
      method: "POST",
      body: JSON.stringify({ Components: [{ ID: "x3000c0s1b0n0", State: "Ready" }] }),
    });
    expect(post.status).toBe(204);
    expect((await fetch(`http://127.0.0.1:${b.ports.api}/hsm/v2/State/Components/x3000c0s1b0n0`)).status).toBe(404);
  });

  it("a port another process holds: one line per port naming its setting, exit code 1, nothing started", { timeout: 240_000 }, async () => {
    const [a] = stacks;
    const c = await stack();
    try {
      // The third stack forgot to move its image and metrics ports off the first one's.
      const taken = await npmStartToEnd({
        ...c.env,
        OCHAMI_IMAGES_PORT: String(a.ports.images),
        OCHAMI_AGENT_METRICS_PORT: String(a.ports.metrics),
      });
      expect(taken.code).toBe(1);
      // Less npm's own lines: its banner ("> ochami-edge start") and its report of the exit code.
      const lines = taken.output.split("\n").filter((l) => l.trim() && !l.startsWith(">") && !l.startsWith("npm "));
      expect(lines).toEqual([
        `port ${a.ports.images}/tcp on 127.0.0.1 (images) is already in use by another process: set OCHAMI_IMAGES_PORT (images.port) to a free port`,
        `port ${a.ports.metrics}/tcp on 127.0.0.1 (metrics) is already in use by another process: set OCHAMI_AGENT_METRICS_PORT (metrics.port) to a free port`,
      ]);

      const api = await npmStartToEnd({ ...c.env, PORT: String(a.ports.api) });
      expect(api.code).toBe(1);
      expect(api.output).toContain(
        `port ${a.ports.api}/tcp on 127.0.0.1 (API) is already in use by another process: set PORT to a free port`,
      );
      expect(api.output).not.toMatch(/^\s+at /m);
      expect(api.output).not.toContain("API ready");
    } finally {
      rmSync(c.dir, { recursive: true, force: true });
    }
  });
});

describe("a listen that fails anyway (the port taken after the check) names the setting too", () => {
  it("maps Node's EADDRINUSE and the DHCP sockets' libc error to the listener", async () => {
    const plan = planHeadNode({
      env: { OCHAMI_DHCP_INTERFACE: "eth1", OCHAMI_NODE_PROXY_PORT: "18082", OCHAMI_TFTP_PORT: "1069", OCHAMI_DHCP_PORT: "1067" },
      host: "127.0.0.1",
      port: 8081,
      stateDir: "/var/lib/ochami",
      addressOf: () => "10.64.9.1",
    });
    const listeners = plannedListeners(plan, "127.0.0.1", 8081);
    expect(listeners.map((l) => `${l.name} ${l.address}:${l.port}/${l.protocol}`)).toEqual([
      "API 127.0.0.1:8081/tcp",
      "HTTPS 127.0.0.1:8443/tcp",
      "images 10.64.9.1:8080/tcp",
      "metrics 127.0.0.1:9464/tcp",
      "node proxy 10.64.9.1:18082/tcp",
      "TFTP 10.64.9.1:1069/udp",
      "DHCP 0.0.0.0:1067/udp",
    ]);

    // A real EADDRINUSE from Node, on a port the node proxy is configured for.
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", () => r()));
    const port = (holder.address() as { port: number }).port;
    const second = createServer();
    const err = await new Promise<Error>((r) => second.once("error", r).listen(port, "127.0.0.1"));
    holder.close();
    const proxy = { ...listeners.find((l) => l.name === "node proxy")!, address: "127.0.0.1", port };
    expect(listenFailure(err, [...listeners, proxy])).toBe(
      `port ${port}/tcp on 127.0.0.1 (node proxy) is already in use by another process: set OCHAMI_NODE_PROXY_PORT (nodeProxy.port) to a free port`,
    );
    // A real EADDRINUSE from the DHCP sockets' libc path, on the port DHCP is configured for.
    const udpHolder = createSocket("udp4");
    await new Promise<void>((r) => udpHolder.bind(0, "127.0.0.1", () => r()));
    const udpPort = udpHolder.address().port;
    let udpErr: unknown;
    try {
      openUdpDescriptor({ address: "127.0.0.1", port: udpPort });
    } catch (e) {
      udpErr = e;
    }
    udpHolder.close();
    const dhcp = { ...listeners.find((l) => l.name === "DHCP")!, address: "127.0.0.1", port: udpPort };
    expect(listenFailure(udpErr, [...listeners, dhcp])).toBe(
      `port ${udpPort}/udp on 127.0.0.1 (DHCP) is already in use by another process: set OCHAMI_DHCP_PORT (dhcp.serverPort) to a free port`,
    );
    expect(listenFailure(new Error("something else"), listeners)).toBeUndefined();
  });
});
