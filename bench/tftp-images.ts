/**
 * `npm run bench:tftp-images`: the agent's TFTP and image servers against the programs a site
 * would otherwise run, in one run on one machine (shared machines are noisy: compare the ratios).
 *
 * - TFTP: 20 sequential `atftp --option "blksize 1468" -g` of a 1 MiB file (an iPXE binary's
 *   size) and one get of a 10 MiB file, agent vs Debian's tftpd-hpa (`in.tftpd -L -a … -s …`).
 *   Target: agent ≥ tftpd-hpa.
 * - Images: `curl -o /dev/null` of a 1 GiB file, agent vs Debian's nginx (own minimal config,
 *   1 worker, sendfile on, access_log off). Target: agent ≥ 0.9 × nginx.
 * - Image storm: BENCH_STORM_CLIENTS (100) curl processes fetching one BENCH_STORM_MIB (256) MiB
 *   rootfs at once; aggregate MB/s (all bytes over the time until the last one finished), agent
 *   vs the same nginx (BENCH_NGINX_WORKERS: 1, or `auto` for one worker per core; the storm's CPU
 *   is summed over them). Target: agent ≥ nginx.
 * - The agent's resident memory (VmRSS now, VmHWM peak) after all of it.
 *
 * Servers run as child processes on free loopback ports; requests alternate between the two
 * servers so a noisy neighbour hurts both alike; the median and the best round are reported
 * (BENCH_ROUNDS, default 7). Results: a markdown table
 * on stdout and bench/results/tftp-images.{json,md}.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import dgram from "node:dgram";
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { assertNeeds } from "../test/support/needs";
import { waitFor } from "../test/support/wait";

const here = import.meta.dirname;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const STORM_CLIENTS = Number(process.env.BENCH_STORM_CLIENTS ?? 100);
const STORM_MIB = Number(process.env.BENCH_STORM_MIB ?? 256);
const STORM_ROUNDS = Number(process.env.BENCH_STORM_ROUNDS ?? 3);
/** nginx's worker processes (1: one process against the agent's one, as first measured; `auto` for one per core). */
const NGINX_WORKERS = process.env.BENCH_NGINX_WORKERS ?? "1";
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function freeUdpPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket("udp4");
    s.bind(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sha = (file: string) => createHash("sha256").update(readFileSync(file)).digest("hex");

function timed(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return seconds;
}

function atftpGet(port: number, file: string, out: string, options: string[] = []): number {
  return timed("atftp", ["--option", "blksize 1468", ...options, "-g", "-r", file, "-l", out, "127.0.0.1", String(port)]);
}

function curlGet(url: string): number {
  const r = spawnSync("curl", ["-sS", "-o", "/dev/null", "-w", "%{size_download} %{time_total}", url], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`curl ${url} failed: ${r.stderr}`);
  const [size, seconds] = r.stdout.split(" ").map(Number);
  if (size !== GiB) throw new Error(`curl ${url}: got ${size} bytes`);
  return seconds;
}

/**
 * `clients` curl processes fetching `url` at once; aggregate MB/s over the wall time until the
 * last one finished, each download's size checked.
 */
async function curlStorm(url: string, clients: number, size: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from(
      { length: clients },
      () =>
        new Promise<void>((resolve, reject) => {
          const c = spawn("curl", ["-sS", "-o", "/dev/null", "-w", "%{size_download}", url], { stdio: ["ignore", "pipe", "pipe"] });
          let out = "";
          let err = "";
          c.stdout!.on("data", (d) => (out += d));
          c.stderr!.on("data", (d) => (err += d));
          c.on("error", reject);
          // "close", not "exit": the output may still be unread when the process exits.
          c.on("close", (code) => {
            if (code !== 0) reject(new Error(`curl ${url} failed (${code}): ${err}`));
            else if (Number(out) !== size) reject(new Error(`curl ${url}: got ${out} bytes of ${size}`));
            else resolve();
          });
        }),
    ),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return (clients * size) / seconds / 1e6;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string) => Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0);
  return { rssMiB: Math.round(kb("VmRSS") / 1024), peakMiB: Math.round(kb("VmHWM") / 1024) };
}

async function startAgent(tftpRoot: string, imageRoot: string) {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, "tftp-images-agent.ts"), tftpRoot, imageRoot], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`agent exited (${code})`)));
  });
  return { child, ...(JSON.parse(line) as { tftpPort: number; imagesPort: number }) };
}

async function waitForTcp(port: number) {
  await waitFor(
    () => spawnSync("curl", ["-s", "-o", "/dev/null", `http://127.0.0.1:${port}/`]).status === 0,
    10_000,
    `an HTTP server on port ${port}`,
    { everyMs: 50 },
  );
}

async function main() {
  assertNeeds("bench/tftp-images.ts", { commands: ["atftp", "in.tftpd", "nginx", "curl"] });

  const work = mkdtempSync(path.join(tmpdir(), "ti-bench-"));
  const children: ChildProcess[] = [];
  try {
    // tftpd-hpa drops to user "tftp" and nginx workers to "nobody": everything world-readable.
    chmodSync(work, 0o755);
    const tftpRoot = path.join(work, "tftp");
    const imageRoot = path.join(work, "images");
    mkdirSync(tftpRoot, { mode: 0o755 });
    mkdirSync(imageRoot, { mode: 0o755 });
    writeFileSync(path.join(tftpRoot, "ipxe-size.bin"), randomBytes(MiB), { mode: 0o644 });
    writeFileSync(path.join(tftpRoot, "ten.bin"), randomBytes(10 * MiB), { mode: 0o644 });
    const stormFile = path.join(imageRoot, "rootfs-storm");
    const stormBytes = STORM_MIB * MiB;
    writeFileSync(stormFile, randomBytes(stormBytes), { mode: 0o644 });
    const big = path.join(imageRoot, "rootfs-1g");
    const block = randomBytes(MiB);
    const fd = openSync(big, "w", 0o644);
    for (let i = 0; i < 1024; i++) writeSync(fd, block);
    closeSync(fd);

    const agent = await startAgent(tftpRoot, imageRoot);
    children.push(agent.child);

    const hpaPort = await freeUdpPort();
    const hpa = spawn("in.tftpd", ["-L", "-a", `127.0.0.1:${hpaPort}`, "-s", tftpRoot], { stdio: "ignore" });
    children.push(hpa);

    const nginxPort = await freeTcpPort();
    const nginxDir = path.join(work, "nginx");
    mkdirSync(nginxDir);
    const conf = path.join(nginxDir, "nginx.conf");
    writeFileSync(
      conf,
      `daemon off;\nworker_processes ${NGINX_WORKERS};\npid ${nginxDir}/nginx.pid;\nerror_log ${nginxDir}/error.log warn;\n` +
        `events { worker_connections ${Math.max(64, 2 * STORM_CLIENTS + 16)}; }\n` +
        `http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  default_type application/octet-stream;\n` +
        `  client_body_temp_path ${nginxDir}/body;\n  proxy_temp_path ${nginxDir}/proxy;\n  fastcgi_temp_path ${nginxDir}/fastcgi;\n` +
        `  uwsgi_temp_path ${nginxDir}/uwsgi;\n  scgi_temp_path ${nginxDir}/scgi;\n` +
        `  server { listen 127.0.0.1:${nginxPort}; root ${imageRoot}; }\n}\n`,
    );
    const nginx = spawn("nginx", ["-e", `${nginxDir}/error.log`, "-p", nginxDir, "-c", conf], { stdio: "ignore" });
    children.push(nginx);
    await waitForTcp(nginxPort);
    await waitForTcp(agent.imagesPort);

    const tftpServers = { agent: agent.tftpPort, "tftpd-hpa": hpaPort } as const;
    const small: Record<string, number[]> = { agent: [], "tftpd-hpa": [] };
    const large: Record<string, number[]> = { agent: [], "tftpd-hpa": [] };
    const windowed: number[] = [];
    const out = (name: string) => path.join(work, `got-${name}`);
    const check = (name: string, file: string) => {
      if (sha(out(name)) !== sha(path.join(tftpRoot, file))) throw new Error(`${name}: corrupt transfer of ${file}`);
    };
    // Warm-up (page cache, JIT) is not measured.
    for (const [name, port] of Object.entries(tftpServers)) atftpGet(port, "ten.bin", out(name));
    for (let round = 0; round < ROUNDS; round++) {
      // Gets alternate between the servers one by one, so both see the same load from neighbours.
      const seconds: Record<string, number> = { agent: 0, "tftpd-hpa": 0 };
      for (let i = 0; i < 20; i++) {
        for (const [name, port] of Object.entries(tftpServers)) seconds[name] += atftpGet(port, "ipxe-size.bin", out(name));
      }
      for (const [name, port] of Object.entries(tftpServers)) {
        small[name].push((20 * MiB) / seconds[name] / 1e6);
        check(name, "ipxe-size.bin");
        large[name].push((10 * MiB) / atftpGet(port, "ten.bin", out(name)) / 1e6);
        check(name, "ten.bin");
      }
      windowed.push((10 * MiB) / atftpGet(agent.tftpPort, "ten.bin", out("agent"), ["--option", "windowsize 8"]) / 1e6);
      check("agent", "ten.bin");
    }

    const httpServers = { agent: agent.imagesPort, nginx: nginxPort } as const;
    const gbps: Record<string, number[]> = { agent: [], nginx: [] };
    for (const port of Object.values(httpServers)) curlGet(`http://127.0.0.1:${port}/rootfs-1g`);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, port] of Object.entries(httpServers)) gbps[name].push(GiB / curlGet(`http://127.0.0.1:${port}/rootfs-1g`) / 1e9);
    }

    // The storm: every client at once, the servers one after the other, alternating per round.
    const storm: Record<string, number[]> = { agent: [], nginx: [] };
    /** Server CPU seconds per GB sent (nginx: its worker), measured beside the storm rounds. */
    const stormCpu: Record<string, number[]> = { agent: [], nginx: [] };
    const nginxWorkers = readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, "utf8").trim().split(/\s+/).map(Number);
    for (let round = 0; round < STORM_ROUNDS; round++) {
      for (const [name, port] of Object.entries(httpServers)) {
        const pids = name === "agent" ? [agent.child.pid!] : nginxWorkers;
        const cpu = () => pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0);
        const cpu0 = cpu();
        storm[name].push(await curlStorm(`http://127.0.0.1:${port}/rootfs-storm`, STORM_CLIENTS, stormBytes));
        stormCpu[name].push((cpu() - cpu0) / ((STORM_CLIENTS * stormBytes) / 1e9));
      }
    }
    const memory = memoryOf(agent.child.pid!);

    const r2 = (x: number) => Math.round(x * 100) / 100;
    const best = (xs: number[]) => Math.max(...xs);
    /** Median and best round of each side, and their ratios: on a shared machine the best round is the least disturbed one. */
    const compare = (agentRuns: number[], baseRuns: number[]) => ({
      agent: { median: r2(median(agentRuns)), best: r2(best(agentRuns)) },
      baseline: { median: r2(median(baseRuns)), best: r2(best(baseRuns)) },
      ratio: { median: r2(median(agentRuns) / median(baseRuns)), best: r2(best(agentRuns) / best(baseRuns)) },
    });
    const result = {
      when: new Date().toISOString(),
      rounds: ROUNDS,
      nginxWorkers: NGINX_WORKERS,
      loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number),
      tftp: {
        "1MiB_x20_blksize1468_MBps": { ...compare(small.agent, small["tftpd-hpa"]), baselineName: "tftpd-hpa", target: 1.0 },
        "10MiB_blksize1468_MBps": { ...compare(large.agent, large["tftpd-hpa"]), baselineName: "tftpd-hpa", target: 1.0 },
        "10MiB_blksize1468_windowsize8_MBps": { agent: { median: r2(median(windowed)), best: r2(best(windowed)) } },
        samples: { small, large, windowed },
      },
      images: {
        "1GiB_GBps": { ...compare(gbps.agent, gbps.nginx), baselineName: "nginx", target: 0.9 },
        samples: gbps,
        [`storm_${STORM_CLIENTS}x${STORM_MIB}MiB_MBps`]: { ...compare(storm.agent, storm.nginx), baselineName: "nginx", target: 1.0 },
        stormCpuSecondsPerGB: { agent: r2(median(stormCpu.agent)), nginx: r2(median(stormCpu.nginx)) },
        stormSamples: storm,
      },
      agentMemoryMiB: memory,
    };
    const row = (what: string, c: ReturnType<typeof compare>, base: string, target: string) =>
      `| ${what} | ${c.agent.median} / ${c.agent.best} | ${base} ${c.baseline.median} / ${c.baseline.best} | ${c.ratio.median} / ${c.ratio.best} | ${target} |`;
    const w = result.tftp["10MiB_blksize1468_windowsize8_MBps"].agent;
    const md = [
      `${ROUNDS} rounds, load average ${result.loadAverage.join(" ")}; each cell: median round / best round`,
      "",
      "| measurement | agent | baseline | ratio | target |",
      "|---|---:|---:|---:|---|",
      row("TFTP 20 × 1 MiB, atftp blksize 1468 (MB/s)", result.tftp["1MiB_x20_blksize1468_MBps"], "tftpd-hpa", "≥ 1.0"),
      row("TFTP 10 MiB, atftp blksize 1468 (MB/s)", result.tftp["10MiB_blksize1468_MBps"], "tftpd-hpa", "≥ 1.0"),
      `| TFTP 10 MiB, atftp blksize 1468 windowsize 8 (MB/s) | ${w.median} / ${w.best} | (tftpd-hpa has no windowsize) | | |`,
      row("images 1 GiB, curl (GB/s)", result.images["1GiB_GBps"], "nginx", "≥ 0.9"),
      row(
        `images storm: ${STORM_CLIENTS} curl × ${STORM_MIB} MiB at once, aggregate (MB/s, ${STORM_ROUNDS} rounds, nginx workers: ${NGINX_WORKERS})`,
        compare(storm.agent, storm.nginx),
        "nginx",
        "≥ 1.0",
      ),
      `| images storm: server CPU seconds per GB sent (median) | ${r2(median(stormCpu.agent))} | nginx ${r2(median(stormCpu.nginx))} | | |`,
      `| agent RSS after the runs / peak (MiB) | ${memory.rssMiB} / ${memory.peakMiB} | | | |`,
    ].join("\n");
    console.log(md);
    const results = path.join(here, "results");
    mkdirSync(results, { recursive: true });
    writeFileSync(path.join(results, "tftp-images.json"), `${JSON.stringify(result, null, 2)}\n`);
    writeFileSync(path.join(results, "tftp-images.md"), `${md}\n`);
    console.log(`\nresults: ${path.relative(process.cwd(), results)}/tftp-images.{json,md}`);
  } finally {
    // Each child gone before its files are removed (nginx and tftpd-hpa serve from `work`).
    await Promise.all(
      children
        .filter((child) => child.exitCode === null && child.signalCode === null)
        .map((child) => {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
          return exited.finally(() => clearTimeout(timer));
        }),
    );
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
