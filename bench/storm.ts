/**
 * `npm run bench`: a boot storm against the real runner, beside nginx and plain Node in the same run.
 *
 *  1. Starts the API as `npm start` does (workerd + persisted local D1, temp state directory).
 *  2. Imports N nodes as an admin does: `ochami discover static` of a generated nodes.yaml (N BMCs,
 *     N nodes with one interface each, all in group `compute`); then one BSS entry for role
 *     Compute, cluster defaults and a `compute` cloud-init group with meta-data and a file.
 *  3. Storm: wrk drives bootscript (a random node's MAC per request), meta-data and vendor-data (a
 *     random node's address per request, in X-Forwarded-For from the trusted loopback proxy with
 *     its proxy secret, as the on-prem agent's node proxy forwards node requests).
 *  4. Anchors: the same bytes (every node's real bootscript and meta-data, fetched from the API and
 *     checked) as static files behind nginx (2 workers, sendfile, access_log off: the settings the
 *     project's anchors were first measured with) and behind workerd itself with a worker that only
 *     answers them from memory (bench/lib/workerd-static.ts: the platform's floor, so what the API
 *     costs above it is ours), each run right after every storm of step 3 with the same wrk
 *     settings (this machine's speed drifts by up to ±25 % over minutes: a ratio compares runs
 *     seconds apart); plain Node `http` from memory once per case at the end.
 *  5. Admin at scale: list all components after topping SMD up to BENCH_LIST_COMPONENTS.
 * Peak RSS is read from /proc (VmHWM) for workerd, nginx (workers summed) and the Node server.
 *
 * Step 3 is repeated for every number of API processes in BENCH_PROCESSES and every snapshot
 * mode in BENCH_SNAPSHOT, each a fresh runner on the same state directory, storms back to back;
 * beside each wrk run, the CPU time the API processes and the database process used, per request
 * (from /proc/<pid>/stat: the figure that holds when other work shares the machine).
 *
 * Environment: BENCH_NODES (10000), BENCH_LIST_COMPONENTS (100000), BENCH_SECONDS (10),
 * BENCH_CONNECTIONS (50), BENCH_THREADS (2), BENCH_PROCESSES (1,2 and the runner's default for
 * this machine when larger: API processes), BENCH_SNAPSHOT (exclusive,shared: the
 * OCHAMI_BOOT_SNAPSHOT modes; exclusive is what `npm start` runs; off), BENCH_WARMUP_SECONDS (3:
 * an uncounted wrk run before each case), BENCH_LOG=1 (workerd's output).
 * Output: a markdown table on stdout, and bench/results/storm-<time>.{json,md} (git-ignored).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type ApiServer, startApiServer } from "../head-node/api-runner";
import { defaultApiProcesses } from "../head-node/plan";
import { repoRoot } from "../shared/head-node-state";
import { freePort } from "../test/head-node/ports";
import { assertNeeds } from "../test/support/needs";
import { waitFor } from "../test/support/wait";
import { call, configureBoot, importNodes, loadAverage, peakRssMb, snapshotsBuilt, wrkWithCpu } from "./lib/cluster";
import { ip, mac, xname } from "./lib/nodes";
import { startWorkerdStatic } from "./lib/workerd-static";
import { randomNodeScript, runWrk, type WrkResult, warmUp } from "./lib/wrk";

const NODES = Number(process.env.BENCH_NODES ?? 10_000);
const LIST_COMPONENTS = Math.max(NODES, Number(process.env.BENCH_LIST_COMPONENTS ?? 100_000));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const list = (v: string) =>
  v
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
const PROCESSES = process.env.BENCH_PROCESSES
  ? list(process.env.BENCH_PROCESSES).map(Number)
  : [...new Set([1, 2, defaultApiProcesses()])].sort((a, b) => a - b);
const SNAPSHOT_MODES = list(process.env.BENCH_SNAPSHOT ?? "exclusive,shared");
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const wrkOpts = { threads: THREADS, connections: CONNECTIONS, seconds: SECONDS };
// The node proxy's proof towards the API: without it X-Forwarded-For from loopback is not believed.
const PROXY_SECRET = randomBytes(32).toString("base64url");
const PROXY_HEADERS = { "X-Ochami-Proxy-Secret": PROXY_SECRET };
const asProxy = (nodeIp: string) => ({ ...PROXY_HEADERS, "X-Forwarded-For": nodeIp });

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

async function waitForHttp(url: string, timeoutMs = 10_000) {
  let last: unknown;
  const answers = async () => {
    try {
      await (await fetch(url)).arrayBuffer();
      return true;
    } catch (err) {
      last = err;
      return false;
    }
  };
  await waitFor(answers, timeoutMs, () => `${url} to answer (last: ${last})`, { everyMs: 50 });
}

/** Runs `fn` over 0..n-1 with `width` in flight. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

interface Row {
  case: string;
  server: string;
  result: WrkResult;
  peakRssMb: number;
  /** CPU time per request, µs: the API processes together, and the database process. */
  apiCpuUs?: number;
  dbCpuUs?: number;
  /** The anchors run right after this storm (API rows only). */
  workerd?: WrkResult;
  /** CPU time per request of the workerd anchor, µs. */
  workerdCpuUs?: number;
  nginx?: WrkResult;
}

/** Runs wrk while counting the CPU time the API and database processes spend. */
function measured(api: ApiServer, url: string, script: string): Pick<Row, "result" | "apiCpuUs" | "dbCpuUs"> {
  const { result, cpuUs } = wrkWithCpu({ url, script, ...wrkOpts }, [api.processes.map((p) => p.pid!), [api.databaseProcess.pid!]]);
  return { result, apiCpuUs: cpuUs[0], dbCpuUs: cpuUs[1] };
}

async function main() {
  assertNeeds("bench/storm.ts", { commands: ["wrk", "nginx"] });
  const work = mkdtempSync(path.join(tmpdir(), "ochami-storm-"));
  // nginx workers run as nobody: the files they serve must be world-readable.
  chmodSync(work, 0o755);
  const children: ChildProcess[] = [];
  const port = await freePort();
  /** workerd's lines about failed database requests: a storm must cause none. */
  const linkLines: string[] = [];
  const serve = (processes: number, snapshot: string) =>
    startApiServer({
      port,
      stateDir: path.join(work, "state"),
      processes,
      vars: {
        OCHAMI_AUTH: "off",
        OCHAMI_TRUSTED_PROXIES: "127.0.0.1",
        OCHAMI_PROXY_SECRET: PROXY_SECRET,
        OCHAMI_NODE_BASE_URL: "http://10.0.0.254:8081",
        OCHAMI_BOOT_SNAPSHOT: snapshot,
      },
      onLog: (line) => {
        if (/connection (to the database process )?(was )?lost|Internal Server Error|could not write/i.test(line)) linkLines.push(line);
        if (process.env.BENCH_LOG) console.error(`[workerd] ${line}`);
      },
    });
  let api = await serve(PROCESSES[0], SNAPSHOT_MODES[0]);
  const admin: Record<string, number | string> = {};
  let warmUpErrors = 0;
  const rows: Row[] = [];
  try {
    // ---- import, as an admin does it
    admin.importSeconds = await importNodes(api.url, work, NODES);
    console.error(`imported ${NODES} nodes with ochami discover static in ${admin.importSeconds} s`);
    await configureBoot(api.url);

    // ---- the bytes every node gets, checked, as static files for the anchors
    const www = path.join(work, "www");
    for (const d of ["bootscript", "meta-data", "vendor-data"]) mkdirSync(path.join(www, d), { recursive: true });
    let t0 = Date.now();
    await pool(NODES, 16, async (i) => {
      const script = await (await call(api.url, "GET", `/boot/v1/bootscript?mac=${mac(i)}`)).text();
      if (!script.includes(`xname=${xname(i)} nid=${i + 1} `)) throw new Error(`node ${i}: unexpected bootscript\n${script}`);
      const meta = await (await fetch(`${api.url}/cloud-init/meta-data`, { headers: asProxy(ip(i)) })).text();
      if (!meta.includes(`local-hostname: nid${String(i + 1).padStart(6, "0")}`))
        throw new Error(`node ${i}: unexpected meta-data\n${meta}`);
      const vendor = await (await fetch(`${api.url}/cloud-init/vendor-data`, { headers: asProxy(ip(i)) })).text();
      writeFileSync(path.join(www, "bootscript", mac(i)), script);
      writeFileSync(path.join(www, "meta-data", ip(i)), meta);
      writeFileSync(path.join(www, "vendor-data", ip(i)), vendor);
    });
    console.error(`fetched and checked every node's bootscript, meta-data and vendor-data in ${(Date.now() - t0) / 1000} s`);
    const snapshot = await (await call(api.url, "GET", "/boot/v1/service/snapshot")).json();
    console.error(`snapshot: ${JSON.stringify(snapshot)}`);

    // ---- the anchors, serving the same bytes; each runs right after every storm of the API (below),
    // so a ratio compares runs seconds apart: this machine's speed drifts by ±25 % over minutes.
    const nginxPort = await freePort();
    const nginxDir = path.join(work, "nginx");
    mkdirSync(nginxDir);
    const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((t) => `  ${t}_temp_path ${nginxDir}/${t};\n`).join("");
    writeFileSync(
      path.join(nginxDir, "nginx.conf"),
      `daemon off;\nworker_processes 2;\npid ${nginxDir}/nginx.pid;\nerror_log ${nginxDir}/error.log warn;\nevents { worker_connections 1024; }\n` +
        `http {\n  access_log off;\n  sendfile on;\n  default_type text/plain;\n${temps}  server { listen 127.0.0.1:${nginxPort}; root ${www}; }\n}\n`,
    );
    const nginx = spawn("nginx", ["-e", `${nginxDir}/error.log`, "-p", nginxDir, "-c", path.join(nginxDir, "nginx.conf")], {
      stdio: "ignore",
    });
    children.push(nginx);
    await waitForHttp(`http://127.0.0.1:${nginxPort}/bootscript/${mac(0)}`);
    const nodePort = await freePort();
    const node = spawn(process.execPath, [path.join(repoRoot, "bench", "lib", "static-server.mjs"), www, String(nodePort)], {
      stdio: "ignore",
    });
    children.push(node);
    await waitForHttp(`http://127.0.0.1:${nodePort}/bootscript/${mac(0)}`);
    const workerdPort = await freePort();
    const workerd = startWorkerdStatic(www, workerdPort);
    children.push(workerd);
    await waitForHttp(`http://127.0.0.1:${workerdPort}/bootscript/${mac(0)}`, 60_000);
    const [nginxUrl, workerdUrl] = [`http://127.0.0.1:${nginxPort}`, `http://127.0.0.1:${workerdPort}`];

    // ---- the storms, back to back: every number of API processes, every snapshot mode
    const lua = path.join(work, "lua");
    mkdirSync(lua);
    const cases = [
      {
        name: "bootscript",
        api: randomNodeScript(lua, "bs", NODES, `"/boot/v1/bootscript?mac=52:54:00:" .. hex(i)`),
        file: randomNodeScript(lua, "bs-static", NODES, `"/bootscript/52:54:00:" .. hex(i)`),
      },
      {
        name: "meta-data",
        api: randomNodeScript(lua, "md", NODES, `"/cloud-init/meta-data"`, "ip(i)", PROXY_HEADERS),
        file: randomNodeScript(lua, "md-static", NODES, `"/meta-data/" .. ip(i)`),
      },
      {
        name: "vendor-data",
        api: randomNodeScript(lua, "vd", NODES, `"/cloud-init/vendor-data"`, "ip(i)", PROXY_HEADERS),
        file: randomNodeScript(lua, "vd-static", NODES, `"/vendor-data/" .. ip(i)`),
      },
    ];
    for (const processes of PROCESSES)
      for (const mode of SNAPSHOT_MODES) {
        // Every configuration starts alike: new processes, each with its snapshot built.
        await api.stop();
        api = await serve(processes, mode);
        await snapshotsBuilt(api.url, processes);
        const server = `ochami N=${processes} ${mode}`;
        for (const c of cases) {
          warmUpErrors += warmUp({ url: api.url, script: c.api, ...wrkOpts, seconds: WARMUP_SECONDS });
          const load = loadAverage();
          const r: Row = { case: c.name, server, ...measured(api, api.url, c.api), peakRssMb: peakRssMb(api.processes.map((p) => p.pid!)) };
          // workerd compiles as it serves, as the API did in its warm-up.
          warmUp({ url: workerdUrl, script: c.file, ...wrkOpts, seconds: WARMUP_SECONDS });
          const anchor = wrkWithCpu({ url: workerdUrl, script: c.file, ...wrkOpts }, [[workerd.pid!]]);
          [r.workerd, r.workerdCpuUs] = [anchor.result, anchor.cpuUs[0]];
          r.nginx = runWrk({ url: nginxUrl, script: c.file, ...wrkOpts });
          rows.push(r);
          console.error(
            `${server} ${c.name}: ${r.result.requestsPerSecond} req/s, p99 ${r.result.p99Ms} ms, ` +
              `CPU ${r.apiCpuUs} µs API + ${r.dbCpuUs} µs database per request (load ${load}); ` +
              `beside it workerd static ${r.workerd.requestsPerSecond} req/s (p99 ${r.workerd.p99Ms} ms, CPU ${r.workerdCpuUs} µs), ` +
              `nginx ${r.nginx.requestsPerSecond} req/s (p99 ${r.nginx.p99Ms} ms)` +
              (r.result.errorKinds ? `; API errors: ${r.result.errorKinds}` : ""),
          );
        }
      }

    for (const c of cases)
      rows.push({
        case: c.name,
        server: "Node http",
        result: runWrk({ url: `http://127.0.0.1:${nodePort}`, script: c.file, ...wrkOpts }),
        peakRssMb: peakRssMb([node.pid!]),
      });
    admin.nginxPeakRssMb = peakRssMb([nginx.pid!, ...childPids(nginx.pid!)]);
    admin.workerdStaticPeakRssMb = peakRssMb([workerd.pid!]);
    workerd.kill("SIGTERM");

    // ---- admin at scale: list every component
    const extra = LIST_COMPONENTS - 2 * NODES; // discover static made a BMC and a node per node
    t0 = Date.now();
    for (let done = 0; done < extra; done += 10_000) {
      const Components = Array.from({ length: Math.min(10_000, extra - done) }, (_, k) => ({
        ID: xname(done + k).replace(/^x(\d+)/, (_, n) => `x${Number(n) + 3000}`),
        State: "Ready",
        NID: 500_000 + done + k,
      }));
      await call(api.url, "POST", "/hsm/v2/State/Components", { Components });
    }
    admin.topUpSeconds = (Date.now() - t0) / 1000;
    t0 = Date.now();
    const list = (await (await call(api.url, "GET", "/hsm/v2/State/Components")).json()) as { Components: unknown[] };
    admin.listSeconds = (Date.now() - t0) / 1000;
    admin.listed = list.Components.length;
    admin.workerdPeakRssMb = peakRssMb(api.processes.map((p) => p.pid!));
    admin.snapshot = JSON.stringify(await (await call(api.url, "GET", "/boot/v1/service/snapshot")).json());
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await api.stop();
    rmSync(work, { recursive: true, force: true });
  }
  admin.linkErrors = linkLines.length;
  admin.warmUpErrors = warmUpErrors;
  if (linkLines.length) console.error(`workerd reported database link failures:\n${linkLines.slice(0, 20).join("\n")}`);
  report(rows, admin);
}

function report(rows: Row[], admin: Record<string, number | string>) {
  const cpu = (us: number | undefined) => (us === undefined ? "" : String(us));
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const storms = rows.filter((r) => r.nginx && r.workerd);
  const medianNginx = (c: string) => {
    const v = storms
      .filter((r) => r.case === c)
      .map((r) => r.nginx!.requestsPerSecond)
      .sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  };
  const md = [
    `Boot storm: ${NODES} nodes, wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s, API processes ${PROCESSES.join(",")}, ` +
      `snapshot ${SNAPSHOT_MODES.join(",")}, ${new Date().toISOString()}, load average at the end ${loadAverage()}`,
    "",
    "Each storm of the API, then the anchors right after it on the same bytes (× = the API's req/s over the anchor's):",
    "",
    "| case | server | req/s | × nginx | × workerd static | p50 ms | p99 ms | nginx req/s, p99 ms | workerd static req/s, p99 ms, CPU µs/req | non-2xx | socket errors | API CPU µs/req | DB CPU µs/req | peak RSS MB |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...storms.map((r) => {
      const [n, w] = [r.nginx!, r.workerd!];
      return (
        `| ${r.case} | ${r.server} | ${r.result.requestsPerSecond} | ${ratio(r.result.requestsPerSecond, n.requestsPerSecond)} | ` +
        `${ratio(r.result.requestsPerSecond, w.requestsPerSecond)} | ${r.result.p50Ms} | ${r.result.p99Ms} | ${n.requestsPerSecond}, ${n.p99Ms} | ` +
        `${w.requestsPerSecond}, ${w.p99Ms}, ${cpu(r.workerdCpuUs)} | ${r.result.non2xx + n.non2xx + w.non2xx} | ${r.result.socketErrors + n.socketErrors + w.socketErrors} | ` +
        `${cpu(r.apiCpuUs)} | ${cpu(r.dbCpuUs)} | ${r.peakRssMb} |`
      );
    }),
    "",
    `Anchors' memory (peak RSS): nginx ${admin.nginxPeakRssMb} MB, workerd static ${admin.workerdStaticPeakRssMb} MB. Plain Node \`http\`, same bytes from memory, once per case (× the median nginx run of the case):`,
    "",
    "| case | req/s | × nginx | p50 ms | p99 ms | non-2xx | socket errors | peak RSS MB |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows
      .filter((r) => r.server === "Node http")
      .map(
        (r) =>
          `| ${r.case} | ${r.result.requestsPerSecond} | ${ratio(r.result.requestsPerSecond, medianNginx(r.case))} | ${r.result.p50Ms} | ${r.result.p99Ms} | ${r.result.non2xx} | ${r.result.socketErrors} | ${r.peakRssMb} |`,
      ),
    "",
    "| admin operation | result |",
    "|---|---|",
    `| import ${NODES} nodes (\`ochami discover static\`) | ${admin.importSeconds} s |`,
    `| list ${admin.listed} components (GET /hsm/v2/State/Components) | ${admin.listSeconds} s |`,
    `| API workerd peak RSS (all processes) over the last runner's run | ${admin.workerdPeakRssMb} MB |`,
    `| failed or retried database requests workerd reported over every storm | ${admin.linkErrors} |`,
    `| errors in the API's uncounted warm-up storms (${WARMUP_SECONDS} s before each) | ${admin.warmUpErrors} |`,
    `| boot snapshot at the end | ${admin.snapshot} |`,
  ].join("\n");
  console.log(md);
  const dir = path.join(repoRoot, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const stem = path.join(dir, `storm-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  writeFileSync(
    `${stem}.json`,
    JSON.stringify(
      {
        nodes: NODES,
        seconds: SECONDS,
        connections: CONNECTIONS,
        threads: THREADS,
        processes: PROCESSES,
        snapshot: SNAPSHOT_MODES,
        rows,
        admin,
      },
      null,
      2,
    ),
  );
  writeFileSync(`${stem}.md`, `${md}\n`);
  console.error(`written ${path.relative(repoRoot, stem)}.{json,md}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
