/**
 * `npm run bench:scale`: does the boot path hold its speed as the cluster grows? Two clusters side
 * by side, each as `npm start` runs it (one API process, `exclusive` snapshot) and set up as
 * bench/storm.ts sets up its own (lib/cluster.ts): BENCH_SCALE_NODES (10000,100000) nodes each.
 * Then, BENCH_ROUNDS (2) times, each case (bootscript, bootscript-once, meta-data, vendor-data) storms each cluster
 * in turn with the same wrk settings as `npm run bench`: the sizes are compared within seconds of
 * each other, since this machine's speed drifts by up to ±25 % over minutes (one storm against
 * another run's figure measures the drift as much as the size).
 *
 * Each request asks for a random node of its cluster, so with 100,000 nodes most requests miss the
 * answers a snapshot keeps (32,768), where with 10,000 nearly all find theirs: the ratio measures
 * the cluster's size and how often an answer is reused together. `bootscript-once` tells them
 * apart: each request's URL is one no request asked before (a query parameter the API ignores
 * counts the requests), so no answer is ever reused, at either size, as in a storm of first boots,
 * where each node asks once; its ratio is what the cluster's size alone costs.
 * Reported per case and round: req/s and API CPU µs per request of each size, the ratio of the
 * largest to the smallest; and each cluster's API peak RSS.
 *
 * Environment: BENCH_SCALE_NODES, BENCH_ROUNDS, BENCH_SECONDS (10), BENCH_CONNECTIONS (50),
 * BENCH_THREADS (2), BENCH_WARMUP_SECONDS (3: an uncounted wrk run per cluster and case first).
 * Output: a markdown table on stdout, and bench/results/scale-<time>.{json,md} (git-ignored).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type ApiServer, startApiServer } from "../head-node/api-runner";
import { repoRoot } from "../shared/head-node-state";
import { freePort } from "../test/head-node/ports";
import { assertNeeds } from "../test/support/needs";
import { configureBoot, importNodes, peakRssMb, snapshotsBuilt, wrkWithCpu } from "./lib/cluster";
import { randomNodeScript, warmUp } from "./lib/wrk";

const SIZES = (process.env.BENCH_SCALE_NODES ?? "10000,100000").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const wrkOpts = {
  threads: Number(process.env.BENCH_THREADS ?? 2),
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  seconds: Number(process.env.BENCH_SECONDS ?? 10),
};
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const PROXY_SECRET = randomBytes(32).toString("base64url");
const PROXY_HEADERS = { "X-Ochami-Proxy-Secret": PROXY_SECRET };
const CASES = ["bootscript", "bootscript-once", "meta-data", "vendor-data"] as const;

interface Cluster {
  nodes: number;
  api: ApiServer;
  scripts: Record<(typeof CASES)[number], string>;
  importSeconds: number;
}

interface Storm {
  case: string;
  round: number;
  nodes: number;
  requestsPerSecond: number;
  p99Ms: number;
  apiCpuUs: number;
  errors: number;
  errorKinds: string;
  /** What changed in the API process during the storm that a storm alone should not change ("" when nothing did). */
  anomalies: string;
}

async function cluster(work: string, nodes: number): Promise<Cluster> {
  const dir = path.join(work, String(nodes));
  mkdirSync(dir);
  const api = await startApiServer({
    port: await freePort(),
    stateDir: path.join(dir, "state"),
    processes: 1,
    vars: {
      OCHAMI_AUTH: "off",
      OCHAMI_TRUSTED_PROXIES: "127.0.0.1",
      OCHAMI_PROXY_SECRET: PROXY_SECRET,
      OCHAMI_NODE_BASE_URL: "http://10.0.0.254:8081",
      OCHAMI_BOOT_SNAPSHOT: "exclusive",
    },
    onLog: (line) => process.env.BENCH_LOG && console.error(`[workerd ${nodes}] ${line}`),
  });
  const importSeconds = await importNodes(api.url, dir, nodes);
  await configureBoot(api.url);
  await snapshotsBuilt(api.url, 1);
  console.error(`${nodes} nodes imported in ${importSeconds} s, snapshot built`);
  return {
    nodes,
    api,
    importSeconds,
    scripts: {
      bootscript: randomNodeScript(dir, "bs", nodes, `"/boot/v1/bootscript?mac=52:54:00:" .. hex(i)`),
      "bootscript-once": randomNodeScript(dir, "bs-once", nodes, `"/boot/v1/bootscript?mac=52:54:00:" .. hex(i) .. "&ask=" .. n`),
      "meta-data": randomNodeScript(dir, "md", nodes, `"/cloud-init/meta-data"`, "ip(i)", PROXY_HEADERS),
      "vendor-data": randomNodeScript(dir, "vd", nodes, `"/cloud-init/vendor-data"`, "ip(i)", PROXY_HEADERS),
    },
  };
}

/** The API process's snapshot counters that should not move during a storm without writes. */
async function snapshotCounters(url: string): Promise<{ rebuilds: number; fallbacks: number; checks: number }> {
  // A connection of its own: the storm blocks this process (wrk runs synchronously) past workerd's
  // 5 s idle close, and a pooled connection would be reused before its close is seen.
  const res = await fetch(`${url}/boot/v1/service/snapshot`, { headers: { Connection: "close" } });
  const { rebuilds, fallbacks, checks } = (await res.json()) as Record<string, number>;
  return { rebuilds, fallbacks, checks };
}

async function storm(c: Cluster, name: (typeof CASES)[number], round: number): Promise<Storm> {
  const pid = c.api.process.pid;
  const before = await snapshotCounters(c.api.url);
  const {
    result: r,
    cpuUs: [apiCpuUs],
  } = wrkWithCpu({ url: c.api.url, script: c.scripts[name], ...wrkOpts }, [c.api.processes.map((p) => p.pid!)]);
  // A storm reads only: a rebuild, a read from D1, a generation check or a new API process during
  // it would be what its errors or a slow figure come from.
  const after = await snapshotCounters(c.api.url);
  const anomalies = [
    ...Object.entries(after)
      .filter(([k, v]) => v !== before[k as keyof typeof before])
      .map(([k, v]) => `${k} ${before[k as keyof typeof before]} → ${v}`),
    ...(c.api.process.pid === pid ? [] : [`API process ${pid} replaced by ${c.api.process.pid}`]),
  ].join(", ");
  const s = {
    case: name,
    round,
    nodes: c.nodes,
    requestsPerSecond: r.requestsPerSecond,
    p99Ms: r.p99Ms,
    apiCpuUs,
    errors: r.non2xx + r.socketErrors,
    errorKinds: r.errorKinds,
    anomalies,
  };
  console.error(
    `${name} round ${round}, ${c.nodes} nodes: ${s.requestsPerSecond} req/s, ${apiCpuUs} µs API CPU per request, ${s.errors} errors` +
      (s.errors ? ` (${s.errorKinds})` : "") +
      (anomalies ? `; during it: ${anomalies}` : ""),
  );
  return s;
}

async function main() {
  assertNeeds("bench/scale.ts", { commands: ["wrk"] });
  const work = mkdtempSync(path.join(tmpdir(), "ochami-scale-"));
  const clusters: Cluster[] = [];
  const storms: Storm[] = [];
  try {
    for (const nodes of SIZES) clusters.push(await cluster(work, nodes));
    let warmUpErrors = 0;
    for (const name of CASES)
      for (const c of clusters) warmUpErrors += warmUp({ url: c.api.url, script: c.scripts[name], ...wrkOpts, seconds: WARMUP_SECONDS });
    for (let round = 1; round <= ROUNDS; round++)
      for (const name of CASES) for (const c of clusters) storms.push(await storm(c, name, round));
    report(clusters, storms, warmUpErrors);
  } finally {
    for (const c of clusters) await c.api.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function report(clusters: Cluster[], storms: Storm[], warmUpErrors: number) {
  const [small, large] = [Math.min(...SIZES), Math.max(...SIZES)];
  const of = (name: string, round: number, nodes: number) => storms.find((s) => s.case === name && s.round === round && s.nodes === nodes)!;
  const md = [
    `Boot path by cluster size: ${SIZES.join(" and ")} nodes side by side, one API process each (exclusive), ` +
      `wrk -t${wrkOpts.threads} -c${wrkOpts.connections} -d${wrkOpts.seconds}s, ${new Date().toISOString()}`,
    "",
    `| case | round | ${SIZES.map((n) => `${n} nodes: req/s (API CPU µs/req)`).join(" | ")} | × (${large} over ${small}) | errors |`,
    `|---|---:|${SIZES.map(() => "---:|").join("")}---:|---:|`,
    ...CASES.flatMap((name) =>
      Array.from({ length: ROUNDS }, (_, i) => {
        const row = SIZES.map((n) => of(name, i + 1, n));
        const ratio = of(name, i + 1, large).requestsPerSecond / of(name, i + 1, small).requestsPerSecond;
        return `| ${name} | ${i + 1} | ${row.map((s) => `${s.requestsPerSecond} (${s.apiCpuUs})`).join(" | ")} | ${ratio.toFixed(2)} | ${row.reduce((a, s) => a + s.errors, 0)} |`;
      }),
    ),
    "",
    `Errors in the uncounted warm-up storms (${WARMUP_SECONDS} s per cluster and case, before the rounds): ${warmUpErrors}.`,
    ...storms
      .filter((s) => s.errors || s.anomalies)
      .map(
        (s) =>
          `- ${s.case} round ${s.round}, ${s.nodes} nodes: ${[s.errorKinds, s.anomalies && `during it ${s.anomalies}`].filter(Boolean).join("; ")}`,
      ),
    "",
    `| cluster | import (\`ochami discover static\`) | API peak RSS |`,
    "|---:|---:|---:|",
    ...clusters.map((c) => `| ${c.nodes} nodes | ${c.importSeconds} s | ${peakRssMb(c.api.processes.map((p) => p.pid!))} MB |`),
  ].join("\n");
  console.log(md);
  const dir = path.join(repoRoot, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const stem = path.join(dir, `scale-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  writeFileSync(`${stem}.json`, JSON.stringify({ sizes: SIZES, rounds: ROUNDS, wrk: wrkOpts, storms, warmUpErrors }, null, 2));
  writeFileSync(`${stem}.md`, `${md}\n`);
  console.error(`written ${path.relative(repoRoot, stem)}.{json,md}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
