/**
 * `npm run bench:boot`: one boot of the real Debian image (test/e2e/os-image.ts), phase by phase,
 * for the same VM and the same files served two ways in one run:
 *
 *  - ours:   `npm start` in the boot network's namespace (test/e2e/boot-lab.ts), configured with
 *            `ochami` as test/e2e/os-boot.test.ts does: the agent's DHCP, BSS's bootscript through
 *            the node proxy, the agent's image server, our cloud-init.
 *  - static: off-the-shelf parts on the same addresses and ports: dnsmasq for DHCP (same address,
 *            host name and boot URL), radvd answering iPXE's router solicitations, nginx serving
 *            the bootscript ours answered, the same image files and the NoCloud documents ours
 *            answered (meta-data, user-data, vendor-data and the files it includes), as fixed
 *            files. The fastest this hardware boots the image.
 *
 * Phases, each from a timestamped log: firmware → DHCP ACK (ours: the boot history; static:
 * dnsmasq's log line, stamped as read), → bootscript (history; nginx's access log, $msec), →
 * kernel and initrd downloaded (the agent's "images: sent" log; nginx), → rootfs downloaded (same),
 * → cloud-init done (the serial console's "Cloud-init … finished" line, both). Beside them, CPU
 * seconds (from /proc) of QEMU and of the servers over the boot: on a shared machine those hold
 * better than wall time. Target: ours within 1.1× of static in total.
 *
 * Root, QEMU (TCG), dnsmasq, nginx, radvd. BENCH_ROUNDS (1) alternates ours and static that many times.
 * Output: a markdown table on stdout and bench/results/boot.{json,md}.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { run } from "../test/agent/netlab";
import {
  createBootNetwork,
  destroyBootNetwork,
  HEAD_IP,
  NS,
  nsHttp,
  ochamiOnHead,
  startHeadNode,
  startVm,
  type Vm,
} from "../test/e2e/boot-lab";
import { buildOsImage, installOsImage, type OsImage } from "../test/e2e/os-image";
import { AGENT_YAML, CONSOLE, configureNode, OS_NODE as NODE, OS_VM_MIB, SerialClock } from "../test/e2e/os-lab";
import { cleanEnv } from "../test/head-node/auth-process";
import { assertNeeds } from "../test/support/needs";
import { ProcessOutput } from "../test/support/output";
import { waitFor } from "../test/support/wait";

const here = import.meta.dirname;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const BOOT_TIMEOUT = 30 * 60_000;
const API = "http://127.0.0.1:8081";
const TICK = 100; // clock ticks per second in /proc/<pid>/stat (USER_HZ)

interface Marks {
  start: number;
  ack: number;
  bootscript: number;
  initrdDone: number;
  rootfsStart: number;
  rootfsDone: number;
  cloudInitDone: number;
  qemuCpu: number;
  serverCpu: number;
  /** Seconds the guest kernel reported itself stuck (soft lockups: TCG stalls, not the servers). */
  lockupS: number;
}

const PHASES = [
  ["firmware → DHCP ACK", (m: Marks) => m.ack - m.start],
  ["ACK → bootscript", (m: Marks) => m.bootscript - m.ack],
  ["→ kernel + initrd downloaded", (m: Marks) => m.initrdDone - m.bootscript],
  ["→ rootfs downloaded (Linux, dracut, DHCP, fetch)", (m: Marks) => m.rootfsDone - m.initrdDone],
  ["→ cloud-init done (systemd, cloud-init)", (m: Marks) => m.cloudInitDone - m.rootfsDone],
  ["total", (m: Marks) => m.cloudInitDone - m.start],
] as const;

/** CPU seconds (user + system) of a process and all its descendants, from /proc. */
function treeCpuSeconds(root: number): number {
  const procs = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      procs.set(Number(entry), { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // gone meanwhile
    }
  }
  let ticks = 0;
  const queue = [root];
  while (queue.length) {
    const pid = queue.pop()!;
    ticks += procs.get(pid)?.ticks ?? 0;
    for (const [child, p] of procs) if (p.ppid === pid) queue.push(child);
  }
  return ticks / TICK;
}

const loadAverage = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

/** Boots the VM once and waits for cloud-init's final line; the caller reads the servers' logs. */
async function bootOnce(dir: string, label: string, serverPid: () => number[]) {
  const serialLog = path.join(dir, `${label}.serial`);
  const cpuBefore = serverPid().reduce((s, p) => s + treeCpuSeconds(p), 0);
  const start = Date.now();
  const vm: Vm = startVm({ tap: NODE.tap, mac: NODE.mac, serialLog, reboot: false, memoryMb: OS_VM_MIB });
  const serial = new SerialClock(vm, serialLog);
  try {
    const done = await serial.until(`${label}: cloud-init's final stage`, CONSOLE.cloudInitDone, BOOT_TIMEOUT);
    if (done[1] !== "DataSourceNoCloudNet") throw new Error(`${label}: cloud-init ran without our data (${done[1]})`);
    const qemuCpu = treeCpuSeconds(vm.proc.pid!);
    const serverCpu = serverPid().reduce((s, p) => s + treeCpuSeconds(p), 0) - cpuBefore;
    return { start, cloudInitDone: serial.at(CONSOLE.cloudInitDone)!, qemuCpu, serverCpu, lockupS: softLockupSeconds(vm.serial()) };
  } finally {
    serial.stop();
    vm.kill();
    await vm.exited;
  }
}

/**
 * How long the guest kernel said it was stuck: each soft lockup is reported every ~26 s with a
 * growing "stuck for Ns"; a report not larger than the one before starts a new stall.
 */
function softLockupSeconds(serial: string): number {
  let total = 0;
  let last = 0;
  for (const m of serial.matchAll(/soft lockup - CPU#\d+ stuck for (\d+)s/g)) {
    const s = Number(m[1]);
    total += s > last ? s - last : s;
    last = s;
  }
  return total;
}

/** The agent's "images: sent" log lines: when each transfer ended and how long it took. */
function agentTransfers(output: string): Array<{ end: number; ms: number; path: string }> {
  const out: Array<{ end: number; ms: number; path: string }> = [];
  for (const line of output.split("\n")) {
    if (!line.includes('"images: sent"')) continue;
    try {
      const j = JSON.parse(line.slice(line.indexOf("{")));
      out.push({ end: Date.parse(j.time), ms: j.ms, path: j.path });
    } catch {
      // not a JSON line
    }
  }
  return out;
}

async function runOurs(dir: string, image: OsImage, publicKey: string) {
  const stateDir = path.join(dir, "state");
  mkdirSync(path.join(dir, "admin-home"), { recursive: true });
  const files = installOsImage(image, path.join(stateDir, "images"), "debian");
  writeFileSync(path.join(dir, "agent.yaml"), AGENT_YAML);
  const head = await startHeadNode(
    cleanEnv({ OCHAMI_STATE_DIR: stateDir, OCHAMI_AGENT_CONFIG: path.join(dir, "agent.yaml") }),
    path.join(dir, "npm-start.log"),
  );
  try {
    const ochami = ochamiOnHead(dir, stateDir);
    await configureNode(ochami, dir, files, publicKey);
    const boot = await bootOnce(dir, "ours", () => [head.proc.pid!]);
    const events = await waitFor(
      async () => {
        const h = (await nsHttp("GET", `${API}/boot/v1/endpoint-history?name=${NODE.xname}&history=true`)).json() as any[];
        return h.some((e) => e.endpoint === "rootfs") ? h : undefined;
      },
      10_000,
      "the boot history",
    );
    const first = (endpoint: string) => Math.min(...events.filter((e) => e.endpoint === endpoint).map((e) => e.epoch_ms as number));
    const sent = agentTransfers(head.output());
    const ended = (name: string) => sent.find((t) => t.path.includes(`/${name}-`));
    const initrd = ended("initramfs");
    const rootfs = ended("rootfs");
    if (!initrd || !rootfs) throw new Error(`no "images: sent" log line for the initrd or the rootfs:\n${head.output().slice(-3000)}`);
    const marks: Marks = {
      ...boot,
      ack: first("dhcp"),
      bootscript: first("bootscript"),
      initrdDone: initrd.end,
      rootfsStart: rootfs.end - rootfs.ms,
      rootfsDone: rootfs.end,
    };
    // What the static run serves: exactly what ours answered this node.
    const token = (await ochami(["auth", "token"])).trim();
    const get = async (url: string, auth = true) => {
      const r = await nsHttp("GET", url, auth ? { token } : {});
      if (r.status !== 200) throw new Error(`GET ${url}: ${r.status} ${r.text}`);
      return r.text;
    };
    const imp = `${API}/cloud-init/admin/impersonation/${NODE.xname}`;
    const documents: Record<string, string> = {
      bootscript: await get(`${API}/boot/v1/bootscript?mac=${NODE.mac}`, false),
      "meta-data": await get(`${imp}/meta-data`),
      "user-data": await get(`${imp}/user-data`),
      "vendor-data": await get(`${imp}/vendor-data`),
    };
    // And every file vendor-data includes (the group's cloud-config, the cluster CA's).
    for (const [, file] of documents["vendor-data"].matchAll(/^https?:\/\/[^/\s]+\/cloud-init\/([^/\s]+)$/gm))
      documents[`cloud-init/${file}`] = await get(`${imp}/${file}`);
    return { marks, documents, files };
  } finally {
    await head.stop();
  }
}

async function runStatic(
  dir: string,
  image: OsImage,
  documents: Record<string, string>,
  bootUrl: string,
): Promise<{ marks: Marks; versions: Record<string, string> }> {
  const www = path.join(dir, "www");
  const images = path.join(dir, "images");
  mkdirSync(path.join(www, "boot", "v1"), { recursive: true });
  mkdirSync(path.join(www, "cloud-init"), { recursive: true });
  installOsImage(image, images, "debian");
  writeFileSync(path.join(www, "boot", "v1", "bootscript"), documents.bootscript, { mode: 0o644 });
  for (const doc of ["meta-data", "user-data", "vendor-data"])
    writeFileSync(path.join(www, "cloud-init", doc), documents[doc], { mode: 0o644 });
  for (const [name, text] of Object.entries(documents))
    if (name.startsWith("cloud-init/")) writeFileSync(path.join(www, name), text, { mode: 0o644 });

  const nginxDir = path.join(dir, "nginx");
  mkdirSync(nginxDir);
  const accessLog = path.join(nginxDir, "access.log");
  writeFileSync(
    path.join(nginxDir, "nginx.conf"),
    // Workers as root: the tree is under a private (0700) temporary directory.
    `daemon off;\nuser root;\nworker_processes 1;\npid ${nginxDir}/nginx.pid;\nerror_log ${nginxDir}/error.log warn;\n` +
      `events { worker_connections 64; }\n` +
      `http {\n  sendfile on;\n  tcp_nopush on;\n  default_type text/plain;\n` +
      `  log_format timed '$msec $request_time $status $bytes_sent $remote_addr $uri';\n  access_log ${accessLog} timed;\n` +
      `  client_body_temp_path ${nginxDir}/body;\n  proxy_temp_path ${nginxDir}/proxy;\n  fastcgi_temp_path ${nginxDir}/fastcgi;\n` +
      `  uwsgi_temp_path ${nginxDir}/uwsgi;\n  scgi_temp_path ${nginxDir}/scgi;\n` +
      `  server { listen ${HEAD_IP}:8080; root ${images}; }\n` +
      `  server { listen ${HEAD_IP}:8082; root ${www}; }\n}\n`,
  );
  const children: ChildProcess[] = [];
  const dhcpLog: Array<{ at: number; line: string }> = [];
  try {
    const nginx = spawn(
      "ip",
      ["netns", "exec", NS, "nginx", "-p", nginxDir, "-c", path.join(nginxDir, "nginx.conf"), "-e", `${nginxDir}/error.log`],
      {
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    children.push(nginx);
    const dnsmasq = spawn(
      "ip",
      [
        ...["netns", "exec", NS, "dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--port=0", "--interface=e2-br0", "--bind-interfaces"],
        "--dhcp-range=10.64.1.100,10.64.1.199,255.255.255.0,1h",
        `--dhcp-host=${NODE.mac},${NODE.ip},nid${String(NODE.nid).padStart(4, "0")},1h`,
        `--dhcp-boot=${bootUrl}`,
        ...["--domain=cluster.test", "--dhcp-authoritative", "--no-ping", "--no-resolv", "--no-hosts", "--log-dhcp"],
        `--dhcp-leasefile=${path.join(dir, "dnsmasq.leases")}`,
        "--user=root",
        "--log-facility=-",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    children.push(dnsmasq);
    // iPXE fetches its boot file only once IPv6 router discovery has ended too: unanswered, that
    // is 15.75 s of solicitations. Ours answers them (the agent's router advertisement); the
    // static side does it with radvd, advertising the same: no prefix, router lifetime 0.
    const radvdConf = path.join(dir, "radvd.conf");
    writeFileSync(
      radvdConf,
      "interface e2-br0 {\n  AdvSendAdvert on;\n  AdvDefaultLifetime 0;\n  MinRtrAdvInterval 30;\n  MaxRtrAdvInterval 100;\n};\n",
      { mode: 0o644 },
    );
    const radvd = spawn(
      "ip",
      [
        "netns",
        "exec",
        NS,
        "radvd",
        "--nodaemon",
        `--config=${radvdConf}`,
        `--pidfile=${path.join(dir, "radvd.pid")}`,
        "--logmethod=stderr",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    children.push(radvd);
    await new ProcessOutput(radvd, [radvd.stderr!]).until(/started/, 10_000, "radvd's start");
    dnsmasq.stderr!.on("data", (d: Buffer) => {
      const at = Date.now();
      for (const line of d.toString().split("\n")) if (line) dhcpLog.push({ at, line });
    });
    await new ProcessOutput(dnsmasq, [dnsmasq.stderr!]).until(
      /DHCP, sockets bound exclusively to interface e2-br0/,
      10_000,
      "dnsmasq's start",
    );
    await waitFor(
      async () =>
        (
          await run("ip", ["netns", "exec", NS, "curl", "-sf", "-o", "/dev/null", `http://${HEAD_IP}:8082/cloud-init/meta-data`], {
            allowFail: true,
          })
        ).code === 0,
      10_000,
      "nginx's start",
      { everyMs: 100 },
    );
    writeFileSync(accessLog, "");

    const boot = await bootOnce(dir, "static", () => [nginx.pid!, dnsmasq.pid!, radvd.pid!]);
    const log = readFileSync(accessLog, "utf8")
      .trim()
      .split("\n")
      .map((l) => {
        const [msec, seconds, status, bytes, ip, uri] = l.split(" ");
        return { end: Number(msec) * 1000, ms: Number(seconds) * 1000, status: Number(status), bytes: Number(bytes), ip, uri };
      })
      .filter((r) => r.ip === NODE.ip);
    const find = (part: string) => {
      const r = log.find((e) => e.uri.includes(part));
      if (!r) throw new Error(`nginx served no ${part} to the node:\n${log.map((e) => e.uri).join("\n")}`);
      return r;
    };
    const ack = dhcpLog.find((l) => l.at >= boot.start && l.line.includes(`DHCPACK(e2-br0) ${NODE.ip} ${NODE.mac}`));
    if (!ack) throw new Error(`no DHCPACK in dnsmasq's log:\n${dhcpLog.map((l) => l.line).join("\n")}`);
    const script = find("/boot/v1/bootscript");
    const rootfs = find("/rootfs-");
    return {
      marks: {
        ...boot,
        ack: ack.at,
        bootscript: script.end - script.ms,
        initrdDone: find("/initramfs-").end,
        rootfsStart: rootfs.end - rootfs.ms,
        rootfsDone: rootfs.end,
      },
      versions: {
        nginx: (await run("nginx", ["-v"])).stderr.trim(),
        dnsmasq: (await run("dnsmasq", ["--version"])).stdout.split("\n")[0],
        // radvd --version exits 1 after printing its version.
        radvd: (await run("radvd", ["--version"], { allowFail: true })).stdout.split("\n")[0],
      },
    };
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(
      children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : undefined)),
    );
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

async function main() {
  assertNeeds("bench/boot.ts", {
    root: true,
    commands: [
      "ip",
      "sysctl",
      "qemu-system-x86_64",
      "mmdebstrap",
      "mksquashfs",
      "apt-cache",
      "dnsmasq",
      "nginx",
      "radvd",
      "curl",
      "ssh-keygen",
    ],
    files: ["/usr/lib/ipxe/qemu/pxe-e1000.rom"],
  });
  const loadAtStart = loadAverage();
  const t0 = Date.now();
  const image = await buildOsImage();
  console.log(`image ${image.key} (kernel ${image.kver}) ${image.built ? `built in ${seconds(Date.now() - t0)} s` : "from the cache"}`);
  const work = mkdtempSync(path.join(tmpdir(), "boot-bench-"));
  const rounds: Array<{ ours: Marks; static: Marks }> = [];
  let versions: Record<string, string> = {};
  try {
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "admin@head", "-f", path.join(work, "id_ed25519")]);
    const publicKey = readFileSync(path.join(work, "id_ed25519.pub"), "utf8").trim();
    await destroyBootNetwork();
    await createBootNetwork([NODE.tap]);
    for (let round = 0; round < ROUNDS; round++) {
      const oursDir = path.join(work, `ours-${round}`);
      const staticDir = path.join(work, `static-${round}`);
      mkdirSync(oursDir);
      mkdirSync(staticDir);
      const ours = await runOurs(oursDir, image, publicKey);
      console.log(`round ${round + 1}: ours ${seconds(ours.marks.cloudInitDone - ours.marks.start)} s (load ${loadAverage()})`);
      const bootUrl = `http://${HEAD_IP}:8082/boot/v1/bootscript?mac=${NODE.mac}`;
      const stat = await runStatic(staticDir, image, ours.documents, bootUrl);
      versions = stat.versions;
      console.log(`round ${round + 1}: static ${seconds(stat.marks.cloudInitDone - stat.marks.start)} s (load ${loadAverage()})`);
      rounds.push({ ours: ours.marks, static: stat.marks });
    }
  } finally {
    await destroyBootNetwork();
    rmSync(work, { recursive: true, force: true });
  }

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = PHASES.map(([name, f]) => {
    const ours = median(rounds.map((r) => f(r.ours)));
    const stat = median(rounds.map((r) => f(r.static)));
    return { phase: name, oursS: Number(seconds(ours)), staticS: Number(seconds(stat)), ratio: Number((ours / stat).toFixed(2)) };
  });
  const cpu = (k: "qemuCpu" | "serverCpu" | "lockupS") => ({
    ours: Number(median(rounds.map((r) => r.ours[k])).toFixed(1)),
    static: Number(median(rounds.map((r) => r.static[k])).toFixed(1)),
  });
  const rootfsTransfer = {
    ours: Number(seconds(median(rounds.map((r) => r.ours.rootfsDone - r.ours.rootfsStart)))),
    static: Number(seconds(median(rounds.map((r) => r.static.rootfsDone - r.static.rootfsStart)))),
  };
  const total = rows.at(-1)!;
  const result = {
    date: new Date().toISOString(),
    rounds: ROUNDS,
    image: { key: image.key, kernel: image.kver },
    loadAverage: { start: loadAtStart, end: loadAverage() },
    static: versions,
    phases: rows,
    rootfsTransferS: rootfsTransfer,
    qemuCpuS: cpu("qemuCpu"),
    serverCpuS: cpu("serverCpu"),
    softLockupS: cpu("lockupS"),
    target: { totalRatio: 1.1, met: total.ratio <= 1.1 },
    raw: rounds,
  };
  const md = [
    `one boot of the Debian image (kernel ${image.kver}), ${ROUNDS} round(s), median; load average ${loadAtStart} → ${result.loadAverage.end}`,
    "",
    "| phase | ours (s) | static (s) | ours / static |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.phase} | ${r.oursS} | ${r.staticS} | ${r.ratio} |`),
    `| rootfs transfer alone | ${rootfsTransfer.ours} | ${rootfsTransfer.static} | |`,
    `| QEMU CPU over the boot (s) | ${result.qemuCpuS.ours} | ${result.qemuCpuS.static} | |`,
    `| servers' CPU over the boot (s): npm start / nginx + dnsmasq + radvd | ${result.serverCpuS.ours} | ${result.serverCpuS.static} | |`,
    `| guest soft lockups (s; QEMU without KVM) | ${result.softLockupS.ours} | ${result.softLockupS.static} | |`,
    "",
    `target: total within 1.1× of static: ${result.target.met ? "met" : "not met"} (${total.ratio}×)`,
  ].join("\n");
  console.log(`\n${md}`);
  const results = path.join(here, "results");
  mkdirSync(results, { recursive: true });
  writeFileSync(path.join(results, "boot.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(results, "boot.md"), `${md}\n`);
  console.log(`\nresults: ${path.relative(process.cwd(), results)}/boot.{json,md}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
