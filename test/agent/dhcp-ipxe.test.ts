/**
 * Real iPXE (the NIC option ROM QEMU ships in Debian's `ipxe-qemu`) against the agent: its DHCP
 * exchange gets the SMD address and the bootscript URL, and iPXE then fetches that URL. QEMU runs
 * without KVM (TCG) on a tap device, dh-qtap 10.61.40.1/24, which is the agent's interface.
 * The bootscript itself is served by a small HTTP server here (BSS is another module).
 *
 * The tap keeps IPv6 (as a head node's boot interface does) so the agent can answer iPXE's router
 * solicitations: without an answer iPXE 1.0.0+git-20190125 waits 15.75 s for a router after its
 * DHCP ACK before it requests the bootscript; with one it asks at once.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { type Agent, startAgent } from "../../onprem-agent/agent";
import { parseAgentConfig } from "../../onprem-agent/config";
import { freePort } from "../head-node/ports";
import { requirements } from "../support/requirements";
import { run } from "./netlab";
import { seedNodes } from "./smd-seed";

const TAP = "dh-qtap";
const MAC = "52:54:00:61:40:01";
const missing = requirements({
  root: true,
  commands: ["ip", "sysctl", "qemu-system-x86_64"],
  files: ["/usr/lib/ipxe/qemu/pxe-e1000.rom"],
});

describe.skipIf(missing)("real iPXE in QEMU", () => {
  // Made in beforeAll, not at collection: a skipped or filtered-out suite must leave nothing behind.
  let dir = "";
  const logs: Array<Record<string, unknown>> = [];
  const requests: string[] = [];
  let firstRequestAt = 0;
  /** Resolves at the first request for the bootscript: iPXE got that far. */
  let firstRequest!: () => void;
  const requested = new Promise<void>((r) => (firstRequest = r));
  let api: ApiServer;
  let agent: Agent;
  let http: Server;
  let qemu: ChildProcess | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "dh-ipxe-"));
    await run("ip", ["link", "del", TAP], { allowFail: true });
    await run("ip", ["tuntap", "add", TAP, "mode", "tap"]);
    // No duplicate address detection: the link-local address is usable as soon as QEMU brings the link up.
    await run("sysctl", ["-qw", `net.ipv6.conf.${TAP}.disable_ipv6=0`, `net.ipv6.conf.${TAP}.accept_dad=0`]);
    await run("ip", ["addr", "add", "10.61.40.1/24", "dev", TAP]);
    await run("ip", ["link", "set", TAP, "up"]);
    http = createServer((req, res) => {
      requests.push(req.url ?? "");
      firstRequestAt ||= Date.now();
      firstRequest();
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("#!ipxe\necho ochami-edge bootscript reached\nshell\n");
    });
    await new Promise<void>((r) => http.listen(0, "10.61.40.1", r));
    api = await startApiServer({
      port: await freePort(),
      stateDir: path.join(dir, "state"),
      vars: { OCHAMI_AUTH: "off" },
      onLog: () => {},
    });
    await seedNodes(api.url, [{ xname: "x3000c0s40b0n0", nid: 40, mac: MAC, ip: "10.61.40.21" }]);
    agent = await startAgent(
      parseAgentConfig({
        api: { url: api.url, bootUrl: `http://10.61.40.1:${(http.address() as AddressInfo).port}` },
        dhcp: { interface: TAP, routers: ["10.61.40.1"], dns: ["10.61.40.1"], domain: "cluster.test" },
        bootEvents: { enabled: false },
        metrics: { enabled: false },
      }),
      { log: pino({ level: "info" }, { write: (l: string) => void logs.push(JSON.parse(l)) }) },
    );
  }, 120_000);

  afterAll(async () => {
    qemu?.kill("SIGKILL");
    await agent?.stop();
    await api?.stop();
    await new Promise((r) => (http ? http.close(r) : r(undefined)));
    await run("ip", ["link", "del", TAP], { allowFail: true });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("gets its SMD address and chains the bootscript URL from DHCP at once", async () => {
    qemu = spawn(
      "qemu-system-x86_64",
      [
        "-machine",
        "pc,accel=tcg",
        "-m",
        "128",
        "-display",
        "none",
        "-serial",
        "none",
        "-monitor",
        "none",
        "-no-reboot",
        "-boot",
        "n",
        "-netdev",
        `tap,id=n0,ifname=${TAP},script=no,downscript=no`,
        "-device",
        `e1000,netdev=n0,mac=${MAC}`,
      ],
      { stdio: "ignore" },
    );
    const vm = qemu;
    const exited = new Promise<string>((r) => vm.once("exit", (code, signal) => r(`QEMU exited (${code ?? signal}) first`)));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<string>((r) => (timer = setTimeout(() => r("no request within 90 s"), 90_000)));
    const outcome = await Promise.race([requested.then(() => "requested"), exited, deadline]);
    clearTimeout(timer);
    qemu.kill("SIGKILL");
    expect(outcome, `the bootscript request from iPXE; DHCP log: ${JSON.stringify(logs.filter((l) => l.mac === MAC))}`).toBe("requested");
    // iPXE percent-encodes the colons of the URL it was given (mac=52%3A54%3A...).
    const got = requests.map((u) => new URL(u, "http://x"));
    expect(got.map((u) => [u.pathname, u.searchParams.get("mac")])).toContainEqual(["/boot/v1/bootscript", MAC]);
    const ack = logs.find((l) => l.decision === "ACK" && l.mac === MAC);
    expect(ack).toMatchObject({
      client: "ipxe",
      arch: 0,
      ip: "10.61.40.21",
      xname: "x3000c0s40b0n0",
      bootfile: expect.stringContaining("/boot/v1/bootscript?mac="),
    });
    // The agent answered iPXE's router solicitation, so no 16 s wait for an IPv6 router.
    expect(logs.some((l) => l.msg === "answering IPv6 router solicitations (router lifetime 0, no prefix)")).toBe(true);
    const lastAck = Math.max(...logs.filter((l) => l.decision === "ACK" && l.mac === MAC).map((l) => l.time as number));
    console.log(`iPXE: DHCP ACK to bootscript request ${firstRequestAt - lastAck} ms`);
    expect(firstRequestAt - lastAck, "ms from the DHCP ACK to the bootscript request").toBeLessThan(3000);
  }, 120_000);
});
