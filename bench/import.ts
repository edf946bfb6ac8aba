/**
 * `npm run bench:import`: `ochami discover static` of a generated nodes.yaml (N BMCs and N nodes
 * with one interface each, all in group `compute`, as `npm run bench` imports them) into a fresh
 * API started as `npm start` does, timed end to end; then the same file again (every record
 * unchanged: the read-and-compare path alone).
 *
 * Environment: BENCH_NODES (10000), BENCH_ROUNDS (3: each on a fresh database),
 * BENCH_CPU_PROF=<dir> (the CLI runs with node --cpu-prof into that directory),
 * BENCH_BASELINE=<dir>: another checkout of this repository (say `git archive <commit>` unpacked,
 * node_modules linked) whose API and CLI are timed the same way, alternating with this one, as
 * the anchor of the same run. Besides wall time, the CPU time of the CLI (from /usr/bin/time) and
 * of the API and database processes are reported: they hold better than wall time on a busy machine.
 * Output: stdout and bench/results/import.{json,md} (git-ignored).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "../shared/head-node-state";
import { freePort } from "../test/head-node/ports";
import { nodesYaml } from "./lib/nodes";

const NODES = Number(process.env.BENCH_NODES ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PROFILE_DIR = process.env.BENCH_CPU_PROF;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Run {
  seconds: number;
  cliCpuSeconds: number;
}

function ochami(checkout: string, url: string, home: string, file: string, label: string): Promise<Run> {
  const prof = PROFILE_DIR ? ["--cpu-prof", "--cpu-prof-dir", PROFILE_DIR, "--cpu-prof-name", `import-${label}.cpuprofile`] : [];
  const args = [...prof, path.join(checkout, "bin", "ochami.mjs"), "--ignore-config", "--cluster-uri", url, "--no-token"];
  const timeFile = path.join(home, `time-${label}`);
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const p = spawn("/usr/bin/time", ["-f", "%U %S", "-o", timeFile, process.execPath, ...args, "discover", "static", "-d", `@${file}`], {
      env: { ...process.env, HOME: home },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    p.stderr!.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("exit", (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      if (code !== 0) return reject(new Error(`ochami discover static failed (${code}):\n${stderr}`));
      const [user, sys] = readFileSync(timeFile, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
      resolve({ seconds, cliCpuSeconds: user + sys });
    });
  });
}

interface Row {
  checkout: string;
  round: number;
  load: string;
  import: Run;
  apiCpuSeconds: number;
  again: Run;
}

async function importOnce(checkout: string, work: string, file: string, round: number): Promise<Row> {
  // The checkout's own runner: its worker bundle and migrations.
  const runner = (await import(path.join(checkout, "head-node", "api-runner", "index.ts"))) as typeof import("../head-node/api-runner");
  const name = checkout === repoRoot ? "this" : "baseline";
  const api = await runner.startApiServer({
    port: await freePort(),
    stateDir: path.join(work, `state-${name}-${round}`),
    vars: { OCHAMI_AUTH: "off" },
    onLog: () => {},
  });
  try {
    const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
    const cpu0 = cpuSeconds(api.process.pid!) + cpuSeconds(api.databaseProcess.pid!);
    const first = await ochami(checkout, api.url, work, file, `${name}-${round}-first`);
    const apiCpu = cpuSeconds(api.process.pid!) + cpuSeconds(api.databaseProcess.pid!) - cpu0;
    const again = await ochami(checkout, api.url, work, file, `${name}-${round}-again`);
    const row = { checkout: name, round, load, import: first, apiCpuSeconds: apiCpu, again };
    console.log(
      `${name.padEnd(8)} round ${round}: import ${first.seconds.toFixed(2)} s (CPU: CLI ${first.cliCpuSeconds.toFixed(2)} s, API+database ${apiCpu.toFixed(2)} s), ` +
        `again (all unchanged) ${again.seconds.toFixed(2)} s; load ${load}`,
    );
    return row;
  } finally {
    await api.stop();
  }
}

async function main() {
  const work = mkdtempSync(path.join(tmpdir(), "ochami-import-"));
  const file = path.join(work, "nodes.yaml");
  writeFileSync(file, nodesYaml(NODES));
  const checkouts = [repoRoot, ...(process.env.BENCH_BASELINE ? [path.resolve(process.env.BENCH_BASELINE)] : [])];
  // Build each CLI bundle once, outside the timings.
  for (const checkout of checkouts)
    await new Promise((r) =>
      spawn(process.execPath, [path.join(checkout, "bin", "ochami.mjs"), "--version"], { stdio: "ignore" }).on("exit", r),
    );
  const rows: Row[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) for (const checkout of checkouts) rows.push(await importOnce(checkout, work, file, round));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const summary = Object.fromEntries(
    ["this", "baseline"]
      .filter((name) => rows.some((r) => r.checkout === name))
      .map((name) => {
        const mine = rows.filter((r) => r.checkout === name);
        return [
          name,
          {
            importSeconds: median(mine.map((r) => r.import.seconds)),
            cliCpuSeconds: median(mine.map((r) => r.import.cliCpuSeconds)),
            apiCpuSeconds: median(mine.map((r) => r.apiCpuSeconds)),
            againSeconds: median(mine.map((r) => r.again.seconds)),
          },
        ];
      }),
  );
  console.log(`medians over ${ROUNDS} rounds, ${NODES} nodes: ${JSON.stringify(summary)}`);
  const results = path.join(repoRoot, "bench", "results");
  mkdirSync(results, { recursive: true });
  writeFileSync(path.join(results, "import.json"), `${JSON.stringify({ nodes: NODES, summary, rows }, null, 2)}\n`);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
