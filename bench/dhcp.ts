/**
 * `npm run bench:dhcp` (root): DHCP four-way exchanges per second and drops, our agent vs Debian's
 * dnsmasq, measured in the same run with perfdhcp (Debian `kea-admin`) from network namespaces;
 * and the agent's resident memory with 10,000 and 100,000 SMD reservations.
 *
 *   agent:   head node dh-b0 10.61.64.1/18  ↔  ns dh-bc   (perfdhcp)   reservations 10.61.64.10+
 *   dnsmasq: ns dh-bd  dh-bdi 10.61.128.1/18 ↔ ns dh-bdc (perfdhcp)    dhcp-host for the same MACs
 *
 * Both servers answer the same 10,000 MACs from static reservations. The agent reads them from the
 * real API (workerd + D1) populated over HTTP; it runs as its own process, started with
 * `npm run agent` (bundled, plain node), so its RSS is its own. Each run also shows where perfdhcp's
 * drops went: its own receive buffer (it shares the cores with the server; answers that overflow it
 * are the client's loss), and the agent's own count of what it received and answered. Options: --rates 1000,2000,... --seconds N --no-100k --log all|problems --cpu-prof DIR --client-buffer 4MiB|default.
 * Results: bench/results/dhcp.{json,md} (git-ignored).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startApiServer } from "../head-node/api-runner";
import { intToIp, ipToInt } from "../onprem-agent/dhcp/ipv4";
import { NetLab, run } from "../test/agent/netlab";
import { nodeAt, type SeedNode, seedNodes } from "../test/agent/smd-seed";
import { freePort } from "../test/head-node/ports";
import { assertNeeds } from "../test/support/needs";
import { ProcessOutput } from "../test/support/output";
import { waitFor } from "../test/support/wait";

const root = path.resolve(import.meta.dirname, "..");
const { values: args } = parseArgs({
  options: {
    rates: { type: "string", default: "250,500,1000,2000,3000,4000,5000,6000" },
    seconds: { type: "string", default: "10" },
    "no-100k": { type: "boolean", default: false },
    log: { type: "string", default: "problems" },
    "boot-events": { type: "string", default: "on" },
    /** Profile the 10,000-reservation agent: node --cpu-prof into this directory. */
    "cpu-prof": { type: "string" },
    /** The agent's inventory refresh interval during the runs. */
    refresh: { type: "string", default: "5s" },
    /** perfdhcp's receive buffer: "4MiB" (raised for each run, see withClientReceiveBuffer) or "default". */
    "client-buffer": { type: "string", default: "4MiB" },
  },
});
const RATES = args.rates!.split(",").map(Number);
const SECONDS = Number(args.seconds);
const N = 10_000;
const BIG = 100_000;

interface PerfResult {
  server: string;
  offered: number;
  sent: number;
  exchanges: number;
  perSecond: number;
  drops: number;
  dropPct: number;
  /** Server-side socket-buffer overflows during the run. */
  rcvbufErrors?: number;
  /** Answers that overflowed perfdhcp's own receive buffer (clientRcvbufErrors): perfdhcp counts them as drops. */
  clientRcvbufErrors?: number;
  /** perfdhcp's drops less those its own receive buffer explains: what the server lost or answered too late. */
  serverDrops?: number;
  /** Machine-wide input-backlog drops during the run. */
  backlogDrops?: number;
  /** CPU used by the server process during the run, in % of one core. */
  serverCpuPct?: number;
  /** CPU used by the API (workerd) during the run: boot events being recorded. */
  apiCpuPct?: number;
  /** The agent's longest event-loop stall during the run (ms). */
  agentMaxLoopLagMs?: number;
  /** perfdhcp's own account per exchange type: answers, delays, orphans (late answers). */
  perfdhcpDetail: string;
  /** Packets the agent received during the run, by `type/decision` (agentPackets). */
  agentPackets?: Record<string, number>;
}

function parsePerfdhcp(server: string, offered: number, out: string): PerfResult {
  // perfdhcp prints one block per exchange type: "***Statistics for: DISCOVER-OFFER***" and REQUEST-ACK.
  const blocks = out.split(/\*\*\*Statistics for: /).slice(1);
  const num = (b: string | undefined, key: string) => Number(new RegExp(`${key}: (\\d+)`).exec(b ?? "")?.[1] ?? 0);
  const doBlock = blocks.find((b) => b.startsWith("DISCOVER-OFFER"));
  const raBlock = blocks.find((b) => b.startsWith("REQUEST-ACK"));
  const sent = num(doBlock, "sent packets");
  const exchanges = num(raBlock, "received packets");
  const drops = num(doBlock, "drops") + num(raBlock, "drops");
  // Where drops come from: answers that came too late count as drops, and then as orphans when they arrive.
  const delays = (b: string | undefined) => {
    const ms = (key: string) => new RegExp(`${key}: ([\\d.]+) ms`).exec(b ?? "")?.[1] ?? "?";
    return `avg ${ms("avg delay")} ms, max ${ms("max delay")} ms, orphans ${num(b, "orphans")}, collected ${num(b, "collected packets")}`;
  };
  return {
    perfdhcpDetail: `DISCOVER-OFFER ${num(doBlock, "received packets")}/${sent} (${delays(doBlock)}); REQUEST-ACK ${exchanges}/${num(raBlock, "sent packets")} (${delays(raBlock)})`,
    server,
    offered,
    sent,
    exchanges,
    perSecond: Math.round(exchanges / SECONDS),
    drops,
    dropPct: sent ? Math.round((drops / sent) * 1000) / 10 : 0,
  };
}

/**
 * Datagrams the kernel dropped because a DHCP server socket (local port 67) had a full receive
 * buffer: the per-socket `drops` column of /proc/net/udp, in the server's namespace (undefined:
 * this one). Per socket, so other programs on a shared machine do not count.
 */
async function rcvbufErrors(lab: NetLab, ns?: string): Promise<number> {
  const text = ns ? (await lab.inNs(ns, "cat", ["/proc/net/udp"])).stdout : readFileSync("/proc/net/udp", "utf8");
  let drops = 0;
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 12 && f[1].endsWith(":0043")) drops += Number(f[f.length - 1]);
  }
  return drops;
}

/**
 * Datagrams dropped in the client's namespace because a UDP socket's receive buffer was full
 * (RcvbufErrors of /proc/net/snmp there): perfdhcp is the only program in it, so these are
 * answers that reached perfdhcp's socket and overflowed it, which perfdhcp then counts as drops.
 * Namespace-wide because perfdhcp's socket, and its own counter, are gone once it exits.
 */
async function clientRcvbufErrors(lab: NetLab, ns: string): Promise<number> {
  const lines = (await lab.inNs(ns, "cat", ["/proc/net/snmp"])).stdout.split("\n").filter((l) => l.startsWith("Udp:"));
  const [names, values] = lines.map((l) => l.trim().split(/\s+/));
  return Number(values[names.indexOf("RcvbufErrors")]);
}

/**
 * Packets the kernel dropped before any socket saw them because a CPU's input backlog was full
 * (second column of /proc/net/softnet_stat, machine-wide): veth traffic queues there, and on a
 * busy shared machine it overflows under bursts, which perfdhcp then counts as drops.
 */
function backlogDrops(): number {
  return readFileSync("/proc/net/softnet_stat", "utf8")
    .trim()
    .split("\n")
    .reduce((n, line) => n + parseInt(line.trim().split(/\s+/)[1], 16), 0);
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Math.round(Number(m[1]) / 102.4) / 10 : NaN;
}

/** The agent's Prometheus text ("" while it does not answer). */
const metricsText = (port: number) =>
  fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => r.text(),
    () => "",
  );

/**
 * The agent's own count of DHCP packets received, by `type/decision` (ochami_agent_dhcp_packets_total):
 * with perfdhcp's counts it places a loss before the agent (never received), at its decision
 * (dropped), or after its answer left (answered, yet counted lost by perfdhcp).
 */
async function agentPackets(port: number): Promise<Map<string, number>> {
  const text = await metricsText(port);
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^ochami_agent_dhcp_packets_total\{type="([^"]*)",decision="([^"]*)"\} (\S+)$/gm))
    out.set(`${m[1]}/${m[2]}`, Number(m[3]));
  return out;
}

async function metric(port: number, name: string): Promise<number | undefined> {
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(await metricsText(port));
  return m ? Number(m[1]) : undefined;
}

interface AgentProcess {
  pid: number;
  stop(): void;
}

/** `npm run agent -- --config FILE`, exactly as an admin starts it; pid is the node process itself. */
async function startAgentProcess(configFile: string, cpuProfileDir?: string): Promise<AgentProcess> {
  // With a profile: the same command line as `npm run agent` runs, plus --cpu-prof.
  if (cpuProfileDir) await run("node", [path.join(root, "scripts/build-agent.mjs")]);
  const npm = cpuProfileDir
    ? spawn(
        "node",
        [
          "--cpu-prof",
          "--cpu-prof-dir",
          cpuProfileDir,
          "--optimize-for-size",
          "--enable-source-maps",
          "dist/agent.mjs",
          "--config",
          configFile,
        ],
        { cwd: root, stdio: ["ignore", "ignore", "inherit"], detached: true },
      )
    : spawn("npm", ["run", "-s", "agent", "--", "--config", configFile], {
        cwd: root,
        stdio: ["ignore", "ignore", "inherit"],
        detached: true,
      });
  let pid = 0;
  await waitFor(
    async () => {
      // The node process itself, not npm or the `sh -c` around it.
      const r = await run("pgrep", ["-f", `^node .*dist/agent\\.mjs --config ${configFile}`], { allowFail: true });
      pid = Number(r.stdout.trim().split("\n")[0]);
      return pid > 0;
    },
    30_000,
    "the agent process",
    { everyMs: 200 },
  );
  return {
    pid,
    stop: () => {
      try {
        process.kill(-npm.pid!, "SIGTERM");
      } catch {
        // already gone
      }
    },
  };
}

/** Samples a process's RSS every 250 ms; stop() returns the maximum seen. */
function sampleRss(pid: number): { stop(): number } {
  let max = rssMb(pid);
  const timer = setInterval(() => {
    try {
      max = Math.max(max, rssMb(pid));
    } catch {
      // process gone
    }
  }, 250);
  return {
    stop: () => {
      clearInterval(timer);
      return max;
    },
  };
}

/** The API's own EthernetInterfaces and Components documents, extended to `total` nodes. */
async function extendedSnapshot(apiUrl: string, total: number): Promise<{ ifaces: string; comps: string }> {
  const ifaces = (await (await fetch(`${apiUrl}/hsm/v2/Inventory/EthernetInterfaces`)).json()) as Array<Record<string, unknown>>;
  const comps = ((await (await fetch(`${apiUrl}/hsm/v2/State/Components`)).json()) as { Components: Array<Record<string, unknown>> })
    .Components;
  const n = ifaces.length;
  const compByIdx = new Map(comps.map((c) => [String(c.ID), c]));
  for (let i = n; i < total; i++) {
    const node = nodeAt(i, intToIp(ipToInt("198.18.0.0") + i)); // data only: RFC 2544 benchmarking range
    const protoIface = ifaces[i % n];
    ifaces.push({
      ...protoIface,
      ID: node.mac.replaceAll(":", ""),
      MACAddress: node.mac,
      ComponentID: node.xname,
      IPAddresses: [{ IPAddress: node.ip }],
    });
    const protoComp = compByIdx.get(String(protoIface.ComponentID)) ?? comps[0];
    comps.push({ ...protoComp, ID: node.xname, NID: node.nid });
  }
  return { ifaces: JSON.stringify(ifaces), comps: JSON.stringify({ Components: comps }) };
}

/**
 * perfdhcp is one program standing in for 10,000 clients: every answer lands in its one socket,
 * which gets the kernel's default receive buffer (net.core.rmem_default, 208 KiB: about 160
 * answers; perfdhcp sets none). At 6,000 exchanges a second that overflows whenever perfdhcp's
 * receiving thread is descheduled for ~15 ms on these two cores, and perfdhcp counts the overflow
 * as the server's drops, where a real network's clients each have a socket of their own. So each
 * perfdhcp run, for either server, starts with a 4 MiB default. That sysctl is the host's alone (a
 * namespace only shows it, read-only), so it is raised just for the run and then put back; other
 * sockets opened meanwhile only get a larger buffer. `--client-buffer default` leaves it alone.
 */
const CLIENT_RECEIVE_BUFFER = 4 * 1024 * 1024;
const RMEM_DEFAULT = "/proc/sys/net/core/rmem_default";
/** perfdhcp's receive buffer in the runs so far: "4 MiB", or "default" when asked or when the host's could not be raised. */
let clientBuffer = args["client-buffer"] === "default" ? "default" : "4 MiB";
async function withClientReceiveBuffer<T>(run: () => Promise<T>): Promise<T> {
  if (clientBuffer === "default") return run();
  let hostDefault: string;
  try {
    hostDefault = readFileSync(RMEM_DEFAULT, "utf8").trim();
    writeFileSync(RMEM_DEFAULT, String(CLIENT_RECEIVE_BUFFER));
  } catch (err) {
    console.error(`could not raise net.core.rmem_default (${(err as Error).message}): perfdhcp keeps the default buffer`);
    clientBuffer = "default";
    return run();
  }
  // An interrupted bench must not leave the host's default raised.
  const restore = () => writeFileSync(RMEM_DEFAULT, hostDefault);
  const interrupted = (signal: NodeJS.Signals) => {
    restore();
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  try {
    return await run();
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    restore();
  }
}

async function main() {
  // Root: the benchmark creates network namespaces.
  assertNeeds("bench/dhcp.ts", { root: true, commands: ["ip", "sysctl", "perfdhcp", "dnsmasq", "npm", "pgrep"] });
  const dir = mkdtempSync(path.join(tmpdir(), "dh-bench-"));
  // Shared machines are noisy: record how busy this one was.
  const loadAverageAtStart = readFileSync("/proc/loadavg", "utf8").trim();
  const lab = new NetLab();
  const agents: AgentProcess[] = [];
  let dnsmasq: ChildProcess | undefined;
  const stopApi: Array<() => Promise<void>> = [];
  try {
    await lab.veth({ outer: "dh-b0", outerCidr: "10.61.64.1/18", inner: "dh-bci", innerNs: "dh-bc", innerCidr: "10.61.64.2/18" });
    await lab.veth({
      outer: "dh-bdi",
      outerNs: "dh-bd",
      outerCidr: "10.61.128.1/18",
      inner: "dh-bdci",
      innerNs: "dh-bdc",
      innerCidr: "10.61.128.2/18",
    });

    const api = await startApiServer({
      port: await freePort(),
      stateDir: path.join(dir, "state"),
      vars: { OCHAMI_AUTH: "off" },
      onLog: () => {},
    });
    stopApi.push(() => api.stop());
    const agentBase = ipToInt("10.61.64.10");
    const dnsmasqBase = ipToInt("10.61.128.10");
    const nodes: SeedNode[] = Array.from({ length: N }, (_, i) => nodeAt(i, intToIp(agentBase + i)));
    const t0 = Date.now();
    await seedNodes(api.url, nodes, { concurrency: 16 });
    const seed10kSeconds = (Date.now() - t0) / 1000;
    console.log(`seeded ${N} nodes through the API in ${seed10kSeconds.toFixed(1)} s`);

    const macFile = path.join(dir, "macs.txt");
    writeFileSync(macFile, `${nodes.map((n) => n.mac).join("\n")}\n`);
    const hostsFile = path.join(dir, "dnsmasq.hosts");
    writeFileSync(hostsFile, `${nodes.map((n, i) => `${n.mac},${intToIp(dnsmasqBase + i)}`).join("\n")}\n`);

    const metricsPort = await freePort();
    const cfgFile = path.join(dir, "agent.yaml");
    writeFileSync(
      cfgFile,
      [
        `api: {url: "${api.url}"}`,
        `inventory: {refreshInterval: ${args.refresh}}`,
        "dhcp: {interface: dh-b0, routers: [10.61.64.1], dns: [10.61.64.1], domain: bench.test, leaseTime: 1h}",
        `metrics: {port: ${metricsPort}}`,
        `log: {level: info, dhcpDecisions: ${args.log}}`,
        `bootEvents: {enabled: ${args["boot-events"] !== "off"}}`,
      ].join("\n"),
    );
    const a10k = await startAgentProcess(cfgFile, args["cpu-prof"]);
    agents.push(a10k);
    await waitFor(
      async () => (await metric(metricsPort, "ochami_agent_inventory_reservations")) === N,
      60_000,
      "the agent to load 10,000 reservations",
      { everyMs: 200 },
    );
    const rss10kIdle = rssMb(a10k.pid);
    const sampler10k = sampleRss(a10k.pid);

    dnsmasq = lab.spawnInNs("dh-bd", "dnsmasq", [
      "--no-daemon",
      "--conf-file=/dev/null",
      "--port=0",
      "--interface=dh-bdi",
      "--bind-interfaces",
      "--dhcp-range=10.61.128.0,static,255.255.192.0,1h",
      `--dhcp-hostsfile=${hostsFile}`,
      "--dhcp-authoritative",
      // dnsmasq NAKs with "no leases left" beyond --dhcp-lease-max (default 1,000).
      "--dhcp-lease-max=200000",
      "--no-ping",
      "--leasefile-ro",
      "--quiet-dhcp",
      "--no-resolv",
      "--no-hosts",
      "--dhcp-option=3,10.61.128.1",
      "--dhcp-option=6,10.61.128.1",
      // Its log on stderr, to wait for the line saying its DHCP socket is bound.
      "--log-facility=-",
    ]);
    await new ProcessOutput(dnsmasq, [dnsmasq.stderr!]).until(
      /DHCP, sockets bound exclusively to interface dh-bdi/,
      10_000,
      "dnsmasq's start",
    );

    const perf = (ns: string, iface: string, rate: number) =>
      lab.inNs(
        ns,
        "perfdhcp",
        ["-4", "-l", iface, "-r", String(rate), "-R", String(N), "-M", macFile, "-p", String(SECONDS), "-W", "1000000"],
        { allowFail: true, timeoutMs: (SECONDS + 30) * 1000 },
      );
    const results: PerfResult[] = [];
    for (const rate of RATES) {
      for (const [server, ns, iface, serverNs] of [
        ["agent", "dh-bc", "dh-bci", undefined],
        ["dnsmasq", "dh-bdc", "dh-bdci", "dh-bd"],
      ] as const) {
        const before = await rcvbufErrors(lab, serverNs);
        const clientBefore = await clientRcvbufErrors(lab, ns);
        const backlogBefore = backlogDrops();
        const serverPid = server === "agent" ? a10k.pid : dnsmasq.pid!;
        const cpu0 = [cpuSeconds(serverPid), cpuSeconds(api.process.pid!)];
        if (server === "agent") await metric(metricsPort, "ochami_agent_nodejs_eventloop_lag_max_seconds"); // resets the window
        const packetsBefore = server === "agent" ? await agentPackets(metricsPort) : undefined;
        const t0 = Date.now();
        const r = parsePerfdhcp(server, rate, (await withClientReceiveBuffer(() => perf(ns, iface, rate))).stdout);
        const wall = (Date.now() - t0) / 1000;
        r.rcvbufErrors = (await rcvbufErrors(lab, serverNs)) - before;
        r.clientRcvbufErrors = (await clientRcvbufErrors(lab, ns)) - clientBefore;
        r.serverDrops = Math.max(0, r.drops - r.clientRcvbufErrors);
        r.backlogDrops = backlogDrops() - backlogBefore;
        r.serverCpuPct = Math.round(((cpuSeconds(serverPid) - cpu0[0]) / wall) * 100);
        r.apiCpuPct = Math.round(((cpuSeconds(api.process.pid!) - cpu0[1]) / wall) * 100);
        if (server === "agent") {
          r.agentMaxLoopLagMs = Math.round(((await metric(metricsPort, "ochami_agent_nodejs_eventloop_lag_max_seconds")) ?? NaN) * 1000);
          r.agentPackets = {};
          for (const [k, v] of await agentPackets(metricsPort)) {
            const n = v - (packetsBefore?.get(k) ?? 0);
            if (n > 0) r.agentPackets[k] = n;
          }
        }
        results.push(r);
        console.log(
          `${server.padEnd(8)} offered ${String(rate).padStart(5)}/s → ${String(r.perSecond).padStart(5)} exchanges/s, drops ${r.drops} (${r.dropPct}%): ${r.clientRcvbufErrors} in perfdhcp's own receive buffer, ${r.serverDrops} the server's; server socket-buffer overflows ${r.rcvbufErrors}, backlog drops ${r.backlogDrops}, server CPU ${r.serverCpuPct}% (${r.exchanges ? Math.round(((r.serverCpuPct! / 100) * wall * 1e6) / r.exchanges) : "-"} µs per exchange), API CPU ${r.apiCpuPct}%${r.agentMaxLoopLagMs !== undefined ? `, max event-loop stall ${r.agentMaxLoopLagMs} ms` : ""}`,
        );
        console.log(`         perfdhcp: ${r.perfdhcpDetail}`);
        if (r.agentPackets) console.log(`         the agent received (type/decision): ${JSON.stringify(r.agentPackets)}`);
      }
    }
    const rss10kMax = sampler10k.stop();

    let rss100k: { afterLoad: number; max: number; final: number } | undefined;
    if (!args["no-100k"]) {
      // 100,000 reservations: seeding them one POST at a time takes ~6 minutes here, so the API's
      // own 10,000-node responses are extended to 100,000 in the same format and served by a
      // static server; the agent reads and holds them exactly as it would from the API.
      const snapshot = await extendedSnapshot(api.url, BIG);
      const snapPort = await freePort();
      const snap = createServer((req, res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(req.url?.includes("EthernetInterfaces") ? snapshot.ifaces : snapshot.comps);
      });
      await new Promise<void>((r) => snap.listen(snapPort, "127.0.0.1", r));
      stopApi.push(() => new Promise((r) => snap.close(() => r())));
      const port100k = await freePort();
      const cfg100k = path.join(dir, "agent-100k.yaml");
      writeFileSync(
        cfg100k,
        [`api: {url: "http://127.0.0.1:${snapPort}"}`, "inventory: {refreshInterval: 30s}", `metrics: {port: ${port100k}}`].join("\n"),
      );
      const a100k = await startAgentProcess(cfg100k);
      agents.push(a100k);
      await waitFor(
        async () => (await metric(port100k, "ochami_agent_inventory_reservations")) === BIG,
        120_000,
        "the agent to load 100,000 reservations",
        { everyMs: 200 },
      );
      const afterLoad = rssMb(a100k.pid);
      const sampler = sampleRss(a100k.pid);
      const sampling = Date.now();
      // Sampled across one full refresh (every 30 s): until the agent's copy is newer than the sampling.
      await waitFor(
        async () => {
          const age = await metric(port100k, "ochami_agent_inventory_age_seconds");
          return age !== undefined && Date.now() - age * 1000 > sampling;
        },
        60_000,
        "the agent's next refresh of the 100,000 reservations",
        { everyMs: 200 },
      );
      rss100k = { afterLoad, max: sampler.stop(), final: rssMb(a100k.pid) };
      console.log(`agent RSS with 100,000 reservations: ${JSON.stringify(rss100k)} MB`);
    }

    // A rate counts as without drops when the server lost nothing: answers perfdhcp's own socket
    // could not take in (it shares the two cores with the server) are the client's loss.
    const best = (server: string) =>
      Math.max(0, ...results.filter((r) => r.server === server && r.serverDrops === 0).map((r) => r.perSecond));
    const summary = {
      machine: `${(await run("nproc", [])).stdout.trim()} cores`,
      seconds: SECONDS,
      log: args.log,
      clientReceiveBuffer: clientBuffer,
      bootEvents: args["boot-events"],
      loadAverageAtStart,
      results,
      bestNoDrop: {
        agent: best("agent"),
        dnsmasq: best("dnsmasq"),
        ratio: best("dnsmasq") ? Math.round((best("agent") / best("dnsmasq")) * 100) / 100 : null,
      },
      rssMb: { reservations10k_idle: rss10kIdle, reservations10k_maxUnderTraffic: rss10kMax, reservations100k: rss100k },
      seedSeconds10k: seed10kSeconds,
    };
    const md = [
      `# DHCP benchmark (${summary.machine}, perfdhcp ${SECONDS} s per rate, its receive buffer ${clientBuffer}, 10,000 reservations, agent decisions logged: ${args.log}, boot events: ${args["boot-events"]})`,
      "",
      "Drops as perfdhcp counts them; in brackets, how many of them overflowed perfdhcp's own receive buffer (the client's loss, not the server's).",
      "",
      "| offered/s | agent exchanges/s | agent drops (perfdhcp's buffer) | agent CPU | dnsmasq exchanges/s | dnsmasq drops (perfdhcp's buffer) | dnsmasq CPU |",
      "|---:|---:|---:|---:|---:|---:|---:|",
      ...RATES.map((rate) => {
        const a = results.find((r) => r.server === "agent" && r.offered === rate)!;
        const d = results.find((r) => r.server === "dnsmasq" && r.offered === rate)!;
        return `| ${rate} | ${a.perSecond} | ${a.drops} (${a.dropPct}%; ${a.clientRcvbufErrors}) | ${a.serverCpuPct}% | ${d.perSecond} | ${d.drops} (${d.dropPct}%; ${d.clientRcvbufErrors}) | ${d.serverCpuPct}% |`;
      }),
      "",
      `Best rate without drops by the server: agent ${summary.bestNoDrop.agent}/s, dnsmasq ${summary.bestNoDrop.dnsmasq}/s, ratio ${summary.bestNoDrop.ratio}×`,
      "",
      `Agent RSS (\`npm run agent\`): ${rss10kIdle} MB with 10,000 reservations idle, at most ${rss10kMax} MB during the runs; ` +
        (rss100k
          ? `with 100,000: ${rss100k.afterLoad} MB after loading, at most ${rss100k.max} MB over a refresh cycle, ${rss100k.final} MB at the end.`
          : "100,000 not measured."),
    ].join("\n");
    const outDir = path.join(root, "bench/results");
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, "dhcp.json"), `${JSON.stringify(summary, null, 2)}\n`);
    writeFileSync(path.join(outDir, "dhcp.md"), `${md}\n`);
    console.log(`\n${md}`);
  } finally {
    for (const a of agents) a.stop();
    dnsmasq?.kill("SIGTERM");
    for (const s of stopApi) await s();
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
