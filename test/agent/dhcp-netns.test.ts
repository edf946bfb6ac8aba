/**
 * The agent's DHCP server against real clients in network namespaces, with its inventory read from
 * the real API (workerd + D1) populated over HTTP.
 *
 * Head node (this test's namespace): dh-s0 10.61.16.1/20 (served), dh-s1 10.61.2.1/24 (not
 * served), dh-s2 10.61.3.1/24 (towards a relay agent whose clients are 10.61.8.0/24).
 * Namespaces: dh-c0 (dhclient, udhcpc, perfdhcp, fuzzer on the served link), dh-c1 (a client on
 * the other interface), dh-rl (the relay agent).
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { type Agent, startAgent } from "../../onprem-agent/agent";
import { parseAgentConfig } from "../../onprem-agent/config";
import { resolveDhcpSettings } from "../../onprem-agent/dhcp/config";
import { DhcpServer } from "../../onprem-agent/dhcp/server";
import { freePort } from "../head-node/ports";
import { ManualClock } from "../support/manual-clock";
import { seededRandom } from "../support/random";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { clientPacket, ipOpt, readReply } from "./dhcp-packets";
import { Capture, NetLab, run } from "./netlab";
import { type SeedNode, seedNodes } from "./smd-seed";

const SERVER = "10.61.16.1";
const PEER = path.join(import.meta.dirname, "udp-peer.mjs");
const NODES: SeedNode[] = [
  { xname: "x3000c0s1b0n0", nid: 1, mac: "52:54:00:61:00:01", ip: "10.61.16.11" },
  { xname: "x3000c0s2b0n0", nid: 2, mac: "52:54:00:61:00:02", ip: "10.61.16.12" },
  { xname: "x3000c0s3b0n0", nid: 3, mac: "52:54:00:61:00:03", ip: "10.61.16.13" },
  { xname: "x3000c0s4b0n0", nid: 4, mac: "52:54:00:61:00:04", ip: "10.61.8.20" },
];
const PERF_MACS = Array.from(
  { length: 200 },
  (_, i) => `02:61:ee:00:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`,
);

const missing = requirements({ root: true, commands: ["ip", "sysctl", "tcpdump", "udhcpc", "dhclient", "perfdhcp"] });

describe.skipIf(missing)("DHCP server with real clients in network namespaces", () => {
  const lab = new NetLab();
  // Made in beforeAll, not at collection: a skipped or filtered-out suite must leave nothing behind.
  let dir = "";
  const logs: Array<Record<string, unknown>> = [];
  /** The inventory's and the boot-event reporter's time: the bootloop test moves it past the miss-refresh rate limit. */
  const clock = new ManualClock();
  const MISS_REFRESH_MS = 1000;
  /** The served interface's budget of new bootloop pool leases (the pool has 21 addresses). */
  const NEW_LEASES_PER_MINUTE = 5;
  let api: ApiServer;
  let agent: Agent;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "dh-netns-"));
    await lab.veth({ outer: "dh-s0", outerCidr: `${SERVER}/20`, inner: "dh-c0i", innerNs: "dh-c0", innerCidr: "10.61.16.2/20" });
    await lab.veth({ outer: "dh-s1", outerCidr: "10.61.2.1/24", inner: "dh-c1i", innerNs: "dh-c1" });
    await lab.veth({ outer: "dh-s2", outerCidr: "10.61.3.1/24", inner: "dh-rli", innerNs: "dh-rl", innerCidr: "10.61.3.2/24" });
    await lab.inNs("dh-rl", "ip", ["addr", "add", "10.61.8.1/24", "dev", "lo"]);
    await lab.inNs("dh-rl", "ip", ["route", "add", "10.61.16.0/20", "via", "10.61.3.1"]);
    await run("ip", ["route", "replace", "10.61.8.0/24", "via", "10.61.3.2", "dev", "dh-s2"]);

    api = await startApiServer({
      port: await freePort(),
      stateDir: path.join(dir, "state"),
      vars: { OCHAMI_AUTH: "off" },
      onLog: () => {},
    });
    await seedNodes(api.url, NODES);
    await seedNodes(
      api.url,
      PERF_MACS.map((mac, i) => ({ xname: `x3001c0s${Math.floor(i / 4)}b0n${i % 4}`, nid: 100 + i, mac, ip: `10.61.17.${i}` })),
    );
    const config = parseAgentConfig({
      api: { url: api.url, bootUrl: "http://10.61.16.1:8081" },
      inventory: { refreshInterval: "1h", missRefreshInterval: `${MISS_REFRESH_MS}ms` },
      dhcp: {
        interface: "dh-s0",
        routers: ["10.61.16.254"],
        dns: ["10.61.16.53"],
        domain: "cluster.test",
        leaseTime: "1h",
        unknownClients: "bootloop",
        pool: { start: "10.61.31.200", end: "10.61.31.220" },
        bootloop: { leaseTime: "2m", script: "reboot.ipxe", newLeasesPerMinute: NEW_LEASES_PER_MINUTE },
        relayed: [{ subnet: "10.61.8.0/24", routers: ["10.61.8.1"] }],
      },
      bootEvents: { interval: 0.1 },
      metrics: { enabled: false },
    });
    const log = pino({ level: "debug" }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    agent = await startAgent(config, { log, clock });
    expect(agent.inventory.size).toBe(NODES.length + PERF_MACS.length);
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await api?.stop();
    await run("ip", ["route", "del", "10.61.8.0/24"], { allowFail: true });
    await lab.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** DHCP packets the agent counted with this decision (all message types). */
  async function packetCount(decision: string): Promise<number> {
    const { values } = await agent.metrics.dhcpPackets.get();
    return values.filter((v) => v.labels.decision === decision).reduce((sum, v) => sum + v.value, 0);
  }

  async function setMac(ns: string, iface: string, mac: string) {
    await lab.inNs(ns, "ip", ["link", "set", iface, "down"]);
    await lab.inNs(ns, "ip", ["link", "set", iface, "address", mac]);
    await lab.inNs(ns, "ip", ["link", "set", iface, "up"]);
  }

  /** busybox udhcpc: one DORA, the script writes what it got. Undefined when no lease. */
  async function udhcpc(ns: string, iface: string, mac: string, extra: string[] = []): Promise<Record<string, string> | undefined> {
    await setMac(ns, iface, mac);
    const out = path.join(dir, `udhcpc-${mac.replaceAll(":", "")}-${Date.now()}.env`);
    const script = path.join(dir, "udhcpc.sh");
    writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && env > ${out}\nexit 0\n`);
    chmodSync(script, 0o755);
    const r = await lab.inNs(
      ns,
      "udhcpc",
      [
        "-i",
        iface,
        "-n",
        "-q",
        "-f",
        "-t",
        "3",
        "-T",
        "1",
        "-A",
        "1",
        "-s",
        script,
        "-O",
        "bootfile",
        "-O",
        "hostname",
        "-O",
        "domain",
        "-O",
        "dns",
        ...extra,
      ],
      { allowFail: true, timeoutMs: 20_000 },
    );
    if (r.code !== 0) return undefined;
    return Object.fromEntries(
      readFileSync(out, "utf8")
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  }

  it("dhclient (ISC) gets the reserved address, options and the iPXE binary for its architecture", async () => {
    const node = NODES[0];
    await setMac("dh-c0", "dh-c0i", node.mac);
    const conf = path.join(dir, "dhclient.conf");
    const leases = path.join(dir, "dhclient.leases");
    const pid = path.join(dir, "dhclient.pid");
    writeFileSync(
      conf,
      [
        "option pxe-arch code 93 = unsigned integer 16;",
        "send pxe-arch 7;",
        'send vendor-class-identifier "PXEClient:Arch:00007:UNDI:003016";',
        "request subnet-mask, routers, domain-name-servers, domain-name, host-name, bootfile-name, tftp-server-name;",
        "timeout 15;",
        "",
      ].join("\n"),
    );
    try {
      const r = await lab.inNs("dh-c0", "dhclient", ["-1", "-v", "-cf", conf, "-sf", "/bin/true", "-lf", leases, "-pf", pid, "dh-c0i"], {
        timeoutMs: 30_000,
      });
      expect(r.stderr).toContain(`bound to ${node.ip}`);
    } finally {
      // dhclient daemonizes once bound (pitfall P11): stop it by its pid.
      const p = existsSync(pid) ? Number(readFileSync(pid, "utf8").trim()) : 0;
      if (p > 0) process.kill(p, "SIGTERM");
    }
    const lease = readFileSync(leases, "utf8");
    expect(lease).toContain(`fixed-address ${node.ip};`);
    expect(lease).toContain('filename "ipxe.efi";');
    expect(lease).toContain('option bootfile-name "ipxe.efi";');
    expect(lease).toContain(`option tftp-server-name "${SERVER}";`);
    expect(lease).toContain("option subnet-mask 255.255.240.0;");
    expect(lease).toContain("option routers 10.61.16.254;");
    expect(lease).toContain("option domain-name-servers 10.61.16.53;");
    expect(lease).toContain('option domain-name "cluster.test";');
    expect(lease).toContain('option host-name "nid0001";');
    expect(lease).toContain("option dhcp-lease-time 3600;");
    expect(lease).toContain(`option dhcp-server-identifier ${SERVER};`);
  });

  it("udhcpc gets its reservation; iPXE (77 = iPXE) gets the bootscript URL; replies leave only on the served interface", async () => {
    const caps = [new Capture("dh-s0", "udp src port 67"), new Capture("dh-s1", "udp"), new Capture("dh-s2", "udp")];
    for (const c of caps) await c.start();
    const plain = await udhcpc("dh-c0", "dh-c0i", NODES[1].mac, ["-x", "0x5d:0000"]);
    const ipxe = await udhcpc("dh-c0", "dh-c0i", NODES[2].mac, ["-x", `0x4d:${Buffer.from("iPXE").toString("hex")}`, "-x", "0x5d:0007"]);
    const [served, other, relayLink] = await Promise.all(caps.map((c) => c.stop()));
    expect(plain).toMatchObject({
      ip: NODES[1].ip,
      hostname: "nid0002",
      domain: "cluster.test",
      router: "10.61.16.254",
      dns: "10.61.16.53",
      lease: "3600",
      serverid: SERVER,
      bootfile: "undionly.kpxe",
      siaddr: SERVER,
    });
    expect(ipxe).toMatchObject({ ip: NODES[2].ip, bootfile: `http://10.61.16.1:8081/boot/v1/bootscript?mac=${NODES[2].mac}` });
    expect(served.length).toBeGreaterThanOrEqual(4); // 2 × (OFFER + ACK)
    expect(other).toEqual([]);
    expect(relayLink).toEqual([]);
  });

  it("a client on another interface of the head node is not served", async () => {
    const cap = new Capture("dh-s1", "udp src port 67");
    await cap.start();
    const got = await udhcpc("dh-c1", "dh-c1i", NODES[1].mac);
    expect(got).toBeUndefined();
    expect(await cap.stop()).toEqual([]);
    expect(logs.some((l) => l.mac === NODES[1].mac && l.decision === "OFFER" && typeof l.to === "string")).toBe(true);
  });

  it("relayed requests (giaddr set) are answered to the relay on port 67 with the relayed subnet's address", async () => {
    const node = NODES[3];
    const discover = clientPacket({
      type: 1,
      mac: node.mac,
      giaddr: "10.61.8.1",
      hops: 1,
      xid: 0x6101,
      options: [
        [82, [1, 4, 0x70, 0x6f, 0x72, 0x74]],
        [55, [1, 3, 12]],
      ],
    });
    const r = await lab.inNs("dh-rl", "node", [
      PEER,
      JSON.stringify({
        bind: { address: "10.61.8.1", port: 67 },
        to: { address: SERVER, port: 67 },
        packets: [discover.toString("hex")],
        expectReplies: 1,
        waitMs: 5000,
      }),
    ]);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const reply = lines.find((l) => l.hex);
    expect(reply).toBeDefined();
    expect(reply.port).toBe(67);
    const offer = readReply(Buffer.from(reply.hex, "hex"));
    expect(offer.type).toBe(2);
    expect(offer.yiaddr).toBe(node.ip);
    expect(offer.giaddr).toBe("10.61.8.1");
    expect(offer.ipOf(3)).toBe("10.61.8.1");
    expect(offer.ipOf(1)).toBe("255.255.255.0");
    expect(offer.text(12)).toBe("nid0004");
    expect([...offer.opts.get(82)!]).toEqual([1, 4, 0x70, 0x6f, 0x72, 0x74]);
    // The REQUEST through the relay gets its ACK the same way.
    const request = clientPacket({
      type: 3,
      mac: node.mac,
      giaddr: "10.61.8.1",
      hops: 1,
      xid: 0x6102,
      options: [
        [54, ipOpt(SERVER)],
        [50, ipOpt(node.ip)],
      ],
    });
    const r2 = await lab.inNs("dh-rl", "node", [
      PEER,
      JSON.stringify({
        bind: { address: "10.61.8.1", port: 67 },
        to: { address: SERVER, port: 67 },
        packets: [request.toString("hex")],
        expectReplies: 1,
        waitMs: 5000,
      }),
    ]);
    const ack = readReply(Buffer.from(JSON.parse(r2.stdout.split("\n")[0]).hex, "hex"));
    expect(ack.type).toBe(5);
    expect(ack.yiaddr).toBe(node.ip);
  });

  it("perfdhcp completes four-way exchanges for many SMD MACs without drops", async () => {
    const macFile = path.join(dir, "macs.txt");
    writeFileSync(macFile, `${PERF_MACS.join("\n")}\n`);
    const r = await lab.inNs(
      "dh-c0",
      "perfdhcp",
      ["-4", "-l", "dh-c0i", "-r", "200", "-R", String(PERF_MACS.length), "-M", macFile, "-n", "400", "-p", "4", "-W", "500000"],
      { allowFail: true, timeoutMs: 30_000 },
    );
    const out = r.stdout;
    const sent = Number(/sent packets: (\d+)/.exec(out)?.[1]);
    const received = [...out.matchAll(/received packets: (\d+)/g)].map((m) => Number(m[1]));
    const drops = [...out.matchAll(/drops: (\d+)/g)].map((m) => Number(m[1]));
    expect(sent).toBeGreaterThan(300);
    expect(received.length).toBe(2); // DO and RA
    expect(received[1]).toBeGreaterThan(300);
    expect(drops.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(Math.ceil(sent * 0.02));
    const acks = logs.filter((l) => l.decision === "ACK" && typeof l.mac === "string" && (l.mac as string).startsWith("02:61:ee"));
    expect(acks.length).toBeGreaterThan(300);
    for (const a of acks.slice(0, 50))
      expect(a.ip).toBe(`10.61.17.${parseInt((a.mac as string).slice(-2), 16) + 256 * parseInt((a.mac as string).slice(-5, -3), 16)}`);
  });

  it("fuzzed and truncated packets are logged drops; the server keeps answering", async () => {
    const rnd = seededRandom(7);
    const base = clientPacket({
      type: 1,
      mac: NODES[1].mac,
      options: [
        [55, [1, 3, 6]],
        [93, [0, 7]],
        [77, "iPXE"],
      ],
    });
    const packets: string[] = [];
    for (let i = 0; i < 300; i++) {
      const b =
        i % 2
          ? Buffer.from(base.subarray(0, Math.floor(rnd() * base.length)))
          : Buffer.from(Array.from({ length: Math.floor(rnd() * 700) }, () => Math.floor(rnd() * 256)));
      if (i % 3 === 0 && b.length > 10) for (let k = 0; k < 5; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
      packets.push(b.toString("hex"));
    }
    const malformedLines = () => logs.filter((l) => l.msg === "DHCP packet malformed, dropped");
    const linesBefore = malformedLines().length;
    const countedBefore = await packetCount("malformed");
    const bcast = path.join(dir, "fuzz-broadcast.json");
    const ucast = path.join(dir, "fuzz-unicast.json");
    writeFileSync(
      bcast,
      JSON.stringify({
        bind: { address: "10.61.16.2", port: 0 },
        to: { address: "10.61.31.255", port: 67 },
        broadcast: true,
        packets,
        waitMs: 0, // replies are not looked at: the server's log is
      }),
    );
    writeFileSync(
      ucast,
      JSON.stringify({
        bind: { address: "10.61.16.2", port: 0 },
        to: { address: SERVER, port: 67 },
        packets: packets.slice(0, 100),
        waitMs: 0,
      }),
    );
    await lab.inNs("dh-c0", "node", [PEER, `@${bcast}`]);
    await lab.inNs("dh-c0", "node", [PEER, `@${ucast}`]);
    let dropped = 0;
    await waitFor(
      async () => {
        dropped = (await packetCount("malformed")) - countedBefore;
        return dropped > 150;
      },
      10_000,
      () => `more than 150 malformed packets counted as dropped (${dropped} so far)`,
    );
    expect(await udhcpc("dh-c0", "dh-c0i", NODES[1].mac)).toMatchObject({ ip: NODES[1].ip });
    // Every one counted, but (time standing still) one log line: a sender cannot flood the log.
    expect(malformedLines().length - linesBefore).toBe(1);
    // Ten seconds on, the next one is logged again, saying how many were left out.
    clock.advance(10_000);
    const total = await packetCount("malformed");
    await lab.inNs("dh-c0", "node", [
      PEER,
      JSON.stringify({ bind: { address: "10.61.16.2", port: 0 }, to: { address: SERVER, port: 67 }, packets: ["00"], waitMs: 0 }),
    ]);
    await waitFor(() => malformedLines().length === linesBefore + 2, 10_000, "a second malformed-packet line");
    expect(await packetCount("malformed")).toBe(total + 1);
    expect(malformedLines().at(-1)!.suppressed).toBe(total - countedBefore - 1);
  });

  it("bootloop: an unknown MAC gets a short pool lease and the reboot script; once added to SMD its next DORA gets the reserved address", async () => {
    const mac = "52:54:00:61:00:99";
    const first = await udhcpc("dh-c0", "dh-c0i", mac, ["-x", `0x4d:${Buffer.from("iPXE").toString("hex")}`]);
    expect(first).toBeDefined();
    expect(first!.ip).toMatch(/^10\.61\.31\.(2[01]\d|220)$/);
    expect(first!.lease).toBe("120");
    expect(first!.bootfile).toBe("reboot.ipxe");
    // A second DORA while still unknown: the same pool address again (no NAK on its REQUEST).
    const again = await udhcpc("dh-c0", "dh-c0i", mac, ["-x", `0x4d:${Buffer.from("iPXE").toString("hex")}`]);
    expect(again!.ip).toBe(first!.ip);

    // Any refresh the misses scheduled runs now, while the MAC is still unknown (missRefresh hands
    // out the one a timer started, or starts one: after a whole interval one is due either way).
    clock.advance(MISS_REFRESH_MS);
    await agent.inventory.missRefresh(mac);
    const refreshed = () => logs.filter((l) => l.msg === "inventory refreshed");
    const refreshesBefore = refreshed().length;
    await seedNodes(api.url, [{ xname: "x3000c0s9b0n0", nid: 9, mac, ip: "10.61.16.99" }]);
    // Past the rate limit, with no refresh since the node was added (none is scheduled: nothing
    // missed since): its DISCOVER finds it unknown, and the server waits for the refresh that miss starts.
    clock.advance(MISS_REFRESH_MS);
    expect(agent.inventory.lookup(mac)).toBeUndefined();
    const after = await udhcpc("dh-c0", "dh-c0i", mac, ["-x", `0x4d:${Buffer.from("iPXE").toString("hex")}`]);
    expect(after).toMatchObject({
      ip: "10.61.16.99",
      lease: "3600",
      hostname: "nid0009",
      bootfile: `http://10.61.16.1:8081/boot/v1/bootscript?mac=${mac}`,
    });
    expect(refreshed().slice(refreshesBefore)).toEqual([
      expect.objectContaining({ reason: "miss", size: NODES.length + PERF_MACS.length + 1 }),
    ]);
    expect(agent.dhcp!.leases.get(mac)).toBeUndefined();
  });

  it("ignores broadcast, multicast and all-zero MACs: counted, logged once, no pool address", async () => {
    const macs = ["ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "01:00:5e:00:00:fb", "33:33:00:00:00:01"];
    const packets = Array.from({ length: 40 }, (_, i) =>
      clientPacket({ type: 1, mac: macs[i % macs.length], xid: 0x6300 + i, options: [[77, "iPXE"]] }).toString("hex"),
    );
    const countedBefore = await packetCount("invalid_mac");
    const offersBefore = await packetCount("offer");
    const inUse = agent.dhcp!.leases.inUse(clock.now());
    const lines = () => logs.filter((l) => l.msg === "DHCP packet ignored" && l.decision === "invalid_mac");
    const linesBefore = lines().length;
    const spec = { bind: { address: "10.61.16.2", port: 0 }, to: { address: SERVER, port: 67 }, packets, waitMs: 0 };
    await lab.inNs("dh-c0", "node", [PEER, JSON.stringify(spec)]);
    let counted = 0;
    await waitFor(
      async () => {
        counted = (await packetCount("invalid_mac")) - countedBefore;
        return counted === packets.length;
      },
      10_000,
      () => `${packets.length} ignored packets counted (${counted} so far)`,
    );
    expect(await packetCount("offer")).toBe(offersBefore);
    expect(agent.dhcp!.leases.inUse(clock.now())).toBe(inUse);
    expect(lines().length - linesBefore).toBeLessThanOrEqual(1);
  });

  it("a client sending DISCOVERs from random MACs (perfdhcp -R) gets only its budget of pool addresses; the pool stays usable", async () => {
    // A full budget, and the offers of earlier tests expired.
    clock.advance(2 * 60_000);
    const leases = agent.dhcp!.leases;
    const inUse = leases.inUse(clock.now());
    const refusedBefore = await packetCount("pool_limited");
    // perfdhcp poses as a relay: giaddr is its own address, so its budget is that relay's.
    const RELAY = "10.61.16.2";
    const r = await lab.inNs(
      "dh-c0",
      "perfdhcp",
      ["-4", "-l", "dh-c0i", "-r", "100", "-R", "1000000", "-b", "mac=02:61:dd:00:00:00", "-n", "300", "-W", "500000"],
      { allowFail: true, timeoutMs: 60_000 },
    );
    const sent = Number(/sent packets: (\d+)/.exec(r.stdout)?.[1]);
    expect(sent, r.stdout + r.stderr).toBeGreaterThanOrEqual(250);
    let refused = 0;
    await waitFor(
      async () => {
        refused = (await packetCount("pool_limited")) - refusedBefore;
        return refused >= sent - NEW_LEASES_PER_MINUTE - 20;
      },
      20_000,
      () => `most of ${sent} DISCOVERs refused (${refused} so far)`,
    );
    // At most the budget went to the spray; the pool (21 addresses) keeps the rest.
    const sprayed = leases.inUse(clock.now()) - inUse;
    expect(sprayed).toBeGreaterThan(0);
    expect(sprayed).toBeLessThanOrEqual(NEW_LEASES_PER_MINUTE);
    const { values } = await agent.metrics.dhcpNewLeasesRefused.get();
    expect(values.find((v) => v.labels.source === RELAY)?.value).toBeGreaterThanOrEqual(refused);
    const exported = await agent.metrics.registry.metrics();
    expect(exported).toContain(`ochami_agent_dhcp_new_leases_refused_total{source="${RELAY}"}`);
    expect(exported).toMatch(/^ochami_agent_dhcp_pool_leases \d+$/m);
    // Logged rate-limited: a line or so, not one per refusal.
    expect(logs.filter((l) => l.decision === "pool_limited").length).toBeLessThanOrEqual(2);

    // An unknown node on the link (the interface's own budget) still gets a pool address.
    const node = await udhcpc("dh-c0", "dh-c0i", "52:54:00:61:00:77", ["-x", `0x4d:${Buffer.from("iPXE").toString("hex")}`]);
    expect(node?.ip).toMatch(/^10\.61\.31\.(2[01]\d|220)$/);
    expect(node?.bootfile).toBe("reboot.ipxe");

    // The relay's budget refills with time, one new lease per 60/5 s.
    const discover = (xid: number) =>
      clientPacket({ type: 1, mac: `02:61:dd:ff:00:${xid.toString(16).padStart(2, "0")}`, giaddr: RELAY, xid, options: [[77, "iPXE"]] });
    const viaRelay = (xid: number, expectReplies: number) =>
      lab.inNs("dh-c0", "node", [
        PEER,
        JSON.stringify({
          bind: { address: RELAY, port: 67 },
          to: { address: SERVER, port: 67 },
          packets: [discover(xid).toString("hex")],
          expectReplies,
          waitMs: expectReplies ? 5000 : 0,
        }),
      ]);
    const before = await packetCount("pool_limited");
    await viaRelay(1, 0);
    await waitFor(async () => (await packetCount("pool_limited")) === before + 1, 10_000, "the relay's next DISCOVER refused");
    clock.advance(60_000 / NEW_LEASES_PER_MINUTE);
    const answered = await viaRelay(2, 1);
    const offer = readReply(Buffer.from(JSON.parse(answered.stdout.split("\n")[0]).hex, "hex"));
    expect(offer.type).toBe(2);
    expect(offer.yiaddr).toMatch(/^10\.61\.31\.(2[01]\d|220)$/);
  });

  it("reports ACKs and bootloop decisions as boot events to the API", async () => {
    await agent.events.flush();
    const res = await fetch(`${api.url}/boot/v1/endpoint-history?history=true&endpoint=dhcp`);
    expect(res.status).toBe(200);
    const events = (await res.json()) as Array<Record<string, unknown>>;
    const text = JSON.stringify(events);
    expect(text).toContain(NODES[0].xname);
    expect(text).toContain(`ACK ${NODES[0].ip}`);
    expect(text).toContain("bootloop");
  });

  it("proxy mode: PXE boot options without an address on port 67, ProxyDHCP REQUEST answered on 4011", async () => {
    const proxy = new DhcpServer({
      settings: resolveDhcpSettings(parseAgentConfig({ dhcp: { interface: "dh-s1", mode: "proxy" } }).dhcp, "http://10.61.2.1:8081"),
      inventory: agent.inventory,
      log: pino({ level: "silent" }),
    });
    await proxy.start();
    try {
      await lab.inNs("dh-c1", "ip", ["addr", "add", "10.61.2.50/24", "dev", "dh-c1i"]);
      await lab.inNs("dh-c1", "ip", ["route", "add", "default", "via", "10.61.2.1"]);
      const node = NODES[0];
      const pxe: Array<[number, string | number[]]> = [
        [60, "PXEClient:Arch:00007:UNDI:003016"],
        [93, [0, 7]],
        [97, [0, ...Array(16).fill(9)]],
        [55, [1, 3, 43, 60, 66, 67, 97]],
      ];
      const discover = clientPacket({ type: 1, mac: node.mac, xid: 0x7101, flags: 0x8000, options: pxe });
      const r1 = await lab.inNs("dh-c1", "node", [
        PEER,
        JSON.stringify({
          bind: { address: "0.0.0.0", port: 68 },
          to: { address: "255.255.255.255", port: 67 },
          broadcast: true,
          packets: [discover.toString("hex")],
          expectReplies: 1,
          waitMs: 4000,
        }),
      ]);
      const offer = readReply(Buffer.from(JSON.parse(r1.stdout.split("\n")[0]).hex, "hex"));
      expect(offer.type).toBe(2);
      expect(offer.yiaddr).toBe("0.0.0.0");
      expect(offer.opts.has(51)).toBe(false);
      expect(offer.text(60)).toBe("PXEClient");
      expect(offer.file).toBe("ipxe.efi");
      expect(offer.siaddr).toBe("10.61.2.1");
      expect([...offer.opts.get(43)!]).toEqual([6, 1, 8, 255]);
      // iPXE, having its address from the site's DHCP server, asks the proxy on 4011.
      const request = clientPacket({
        type: 3,
        mac: node.mac,
        xid: 0x7102,
        ciaddr: "10.61.2.50",
        options: [
          [77, "iPXE"],
          [93, [0, 7]],
          [60, "PXEClient:Arch:00007:UNDI:003016"],
        ],
      });
      const r2 = await lab.inNs("dh-c1", "node", [
        PEER,
        JSON.stringify({
          bind: { address: "10.61.2.50", port: 68 },
          to: { address: "10.61.2.1", port: 4011 },
          packets: [request.toString("hex")],
          expectReplies: 1,
          waitMs: 4000,
        }),
      ]);
      const reply = JSON.parse(r2.stdout.split("\n")[0]);
      const ack = readReply(Buffer.from(reply.hex, "hex"));
      expect(reply.port).toBe(4011);
      expect(ack.type).toBe(5);
      expect(ack.yiaddr).toBe("0.0.0.0");
      expect(ack.text(67)).toBe(`http://10.61.2.1:8081/boot/v1/bootscript?mac=${node.mac}`);
      // A plain (non-PXE) DHCP client gets nothing from a proxy. A PXE DISCOVER sent right after
      // it is answered: the server handles a socket's datagrams in order, so had the plain one
      // been answered, that reply would have come first.
      const plain = clientPacket({ type: 1, mac: node.mac, xid: 0x7103 });
      const probe = clientPacket({ type: 1, mac: node.mac, xid: 0x7104, flags: 0x8000, options: pxe });
      const r3 = await lab.inNs("dh-c1", "node", [
        PEER,
        JSON.stringify({
          bind: { address: "0.0.0.0", port: 68 },
          to: { address: "255.255.255.255", port: 67 },
          broadcast: true,
          packets: [plain.toString("hex"), probe.toString("hex")],
          expectReplies: 1,
          waitMs: 4000,
        }),
      ]);
      const lines3 = r3.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      expect(lines3.at(-1)).toEqual({ done: true, replies: 1 });
      expect(readReply(Buffer.from(lines3[0].hex, "hex")).xid).toBe(0x7104);
    } finally {
      proxy.stop();
    }
  });
});
