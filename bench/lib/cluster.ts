/**
 * A benchmark's cluster, set up as an admin does it: the runner started as `npm start` runs it,
 * N nodes imported with `ochami discover static`, then boot parameters for role Compute, cluster
 * defaults and a `compute` cloud-init group (bench/storm.ts, bench/scale.ts). Also what those
 * benchmarks read of their processes: CPU time and peak memory from /proc.
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../../shared/head-node-state";
import { waitFor } from "../../test/support/wait";
import { mac, nodesYaml } from "./nodes";
import { runWrk, type WrkResult } from "./wrk";

export async function call(base: string, method: string, p: string, body?: unknown): Promise<Response> {
  const res = await fetch(`${base}${p}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
  return res;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr!.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("exit", (code) => resolve({ code, stderr }));
  });
}

/** `ochami discover static` of a generated nodes file for `nodes` nodes (work: a directory of the caller's); seconds it took. */
export async function importNodes(apiUrl: string, work: string, nodes: number): Promise<number> {
  const file = path.join(work, "nodes.yaml");
  writeFileSync(file, nodesYaml(nodes));
  const t0 = Date.now();
  const cli = await run(
    process.execPath,
    [
      path.join(repoRoot, "bin", "ochami.mjs"),
      "--ignore-config",
      "--cluster-uri",
      apiUrl,
      "--no-token",
      "discover",
      "static",
      "-d",
      `@${file}`,
    ],
    { ...process.env, HOME: work },
  );
  if (cli.code !== 0) throw new Error(`ochami discover static failed (${cli.code}):\n${cli.stderr}`);
  return (Date.now() - t0) / 1000;
}

/** What every imported node boots: one BSS entry for role Compute, cluster defaults, a `compute` cloud-init group. */
export async function configureBoot(apiUrl: string): Promise<void> {
  await call(apiUrl, "PUT", "/boot/v1/bootparameters", {
    hosts: ["Compute"],
    kernel: "http://10.0.0.254:8080/compute/vmlinuz",
    initrd: "http://10.0.0.254:8080/compute/initramfs.img",
    params: "nomodeset ro root=live:http://10.0.0.254:8080/compute/rootfs ip=dhcp console=ttyS0,115200",
  });
  await call(apiUrl, "POST", "/cloud-init/admin/cluster-defaults", {
    "cluster-name": "storm",
    "short-name": "nid",
    "nid-length": 6,
    "public-keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBench admin@head"],
  });
  await call(apiUrl, "POST", "/cloud-init/admin/groups", {
    name: "compute",
    "meta-data": { syslog_aggregator: "10.0.0.254" },
    file: { content: "#cloud-config\nruncmd:\n- echo storm\n", encoding: "plain" },
  });
}

/** Boot reads on new connections until every API process has built its snapshot. */
export async function snapshotsBuilt(url: string, processes: number): Promise<void> {
  const built = new Set<number>();
  await waitFor(
    async () => {
      const close = { headers: { Connection: "close" } };
      await (await fetch(`${url}/boot/v1/bootscript?mac=${mac(0)}`, close)).arrayBuffer();
      const s = (await (await fetch(`${url}/boot/v1/service/snapshot`, close)).json()) as { process: number; rebuilds: number };
      if (s.rebuilds > 0) built.add(s.process);
      return built.size === processes;
    },
    120_000,
    () => `every API process to build its snapshot (built: ${[...built].join(", ") || "none"})`,
    { everyMs: 100 },
  );
}

/** Peak resident memory (VmHWM) of processes, in MB. */
export function peakRssMb(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      kb += Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      /* gone */
    }
  }
  return Math.round(kb / 1024);
}

/** CPU time (user + system) of processes so far, in clock ticks (1/100 s on Linux). */
export function cpuTicks(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    } catch {
      /* gone */
    }
  }
  return ticks;
}

/**
 * One wrk run, and the CPU time each group of processes spent per request in it (µs): the figure
 * that holds when other work shares the machine.
 */
export function wrkWithCpu(opts: Parameters<typeof runWrk>[0], groups: number[][]): { result: WrkResult; cpuUs: number[] } {
  const before = groups.map((pids) => cpuTicks(pids));
  const result = runWrk(opts);
  // A clock tick is 10 ms: 10,000 µs.
  const cpuUs = groups.map((pids, i) => Math.round(((cpuTicks(pids) - before[i]) * 10_000) / Math.max(1, result.requests)));
  return { result, cpuUs };
}

export const loadAverage = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
