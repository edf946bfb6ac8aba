/**
 * `npx tsx bench/db-memory.ts`: does the database workerd's memory level off under a long mixed
 * load? Runs a real `npm start` (temp state directory, auth off, free ports), registers N nodes,
 * then for BENCH_SECONDS drives, all at once: bootscripts and meta-data of random nodes (each
 * recorded in the boot history, i.e. a database write), batches of agent boot events, and an
 * admin reading the components and the boot history now and then. Every 5 s it samples the
 * resident memory (VmRSS) of both workerd processes, read from /proc (the database's pid from the
 * runtime directory's owner record).
 *
 * Environment: BENCH_NODES (2000), BENCH_SECONDS (240), BENCH_CONNECTIONS (8 per wrk),
 * OCHAMI_HISTORY_MAX (passed to the worker: the boot history's bound; default 100000), BENCH_LOG=1
 * (npm start's output, workerd's included, on stderr).
 * Output: the samples and, per third of the run, the database process's mean RSS and its slope.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "../shared/head-node-state";
import { freePort } from "../test/head-node/ports";
import { assertNeeds } from "../test/support/needs";
import { ProcessOutput } from "../test/support/output";
import { randomNodeScript } from "./lib/wrk";

const NODES = Number(process.env.BENCH_NODES ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 240);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 8);
const SAMPLE_MS = 5000;
/** The node proxy's secret: meta-data is asked for nodes by X-Forwarded-For, believed only with it. */
const PROXY_SECRET = randomBytes(32).toString("base64url");

const hex3 = (i: number) => [(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, "0")).join(":");
const mac = (i: number) => `52:54:00:${hex3(i)}`;
const ip = (i: number) => `10.${((i + 1) >> 16) & 0xff}.${((i + 1) >> 8) & 0xff}.${(i + 1) & 0xff}`;
const xname = (i: number) => `x${1000 + Math.floor(i / 512)}c${Math.floor(i / 64) % 8}s${Math.floor(i / 2) % 32}b${i % 2}n0`;

/** A field of /proc/<pid>/status in MB (VmRSS; RssAnon: heaps, V8 and SQLite's page cache; RssFile: mapped files). */
function statusMb(pid: number, field = "VmRSS"): number {
  try {
    const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
    return Math.round(Number(kb ?? 0) / 1024);
  } catch {
    return Number.NaN;
  }
}
const rssMb = (pid: number) => statusMb(pid);

/** The database's files on disk (SQLite database, WAL, shared memory), in MB. */
function databaseFilesMb(stateDir: string): number {
  const dir = path.join(stateDir, "v3", "d1", "miniflare-D1DatabaseObject");
  let bytes = 0;
  for (const f of readdirSync(dir)) bytes += statSync(path.join(dir, f)).size;
  return Math.round(bytes / 1024 / 1024);
}

async function call(base: string, method: string, p: string, body?: unknown, headers?: Record<string, string>) {
  const res = await fetch(`${base}${p}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${text.slice(0, 300)}`);
  return text;
}

async function pool(n: number, width: number, fn: (i: number) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

async function main() {
  assertNeeds("bench/db-memory.ts", { commands: ["wrk"] });
  const work = mkdtempSync(path.join(tmpdir(), "ochami-dbmem-"));
  const [port, imagesPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const api = `http://127.0.0.1:${port}`;
  const env = {
    ...process.env,
    PORT: String(port),
    OCHAMI_STATE_DIR: path.join(work, "state"),
    OCHAMI_AUTH: "off",
    OCHAMI_TRUSTED_PROXIES: "127.0.0.1",
    OCHAMI_PROXY_SECRET: PROXY_SECRET,
    OCHAMI_IMAGES_PORT: String(imagesPort),
    OCHAMI_AGENT_METRICS_PORT: String(metricsPort),
    OCHAMI_AGENT_LOG_LEVEL: "warn",
  };
  const start = spawn(process.execPath, ["--import", "tsx", "head-node/start.ts"], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = new ProcessOutput(start);
  if (process.env.BENCH_LOG) for (const stream of [start.stdout!, start.stderr!]) stream.on("data", (d) => process.stderr.write(d));
  const loads: ChildProcess[] = [];
  try {
    // npm start refusing its settings ends it: say so instead of waiting on nothing.
    const exited = new Promise<never>((_, reject) =>
      start.once("exit", (code) => reject(new Error(`npm start exited (${code}) before it was ready:\n${output.text}`))),
    );
    const socket = (await Promise.race([output.until(/^ {2}database\s+unix:(\S+)/m, 120_000, "npm start's listener lines"), exited]))[1];
    const owner = JSON.parse(readFileSync(path.join(path.dirname(socket), "owner.json"), "utf8"));
    const pids = { database: owner.workerd.database.pid as number, api: owner.workerd.api.pid as number };

    let t0 = Date.now();
    const Components = Array.from({ length: NODES }, (_, i) => ({ ID: xname(i), State: "Ready", NID: i + 1, Role: "Compute" }));
    await call(api, "POST", "/hsm/v2/State/Components", { Components });
    await pool(NODES, 8, (i) =>
      call(api, "POST", "/hsm/v2/Inventory/EthernetInterfaces", {
        MACAddress: mac(i),
        ComponentID: xname(i),
        IPAddresses: [{ IPAddress: ip(i) }],
      }),
    );
    await call(api, "PUT", "/boot/v1/bootparameters", {
      hosts: ["Compute"],
      kernel: "http://10.0.0.254:8080/vmlinuz",
      params: "console=ttyS0",
    });
    await call(api, "POST", "/cloud-init/admin/groups", { name: "compute", "meta-data": { syslog_aggregator: "10.0.0.254" } });
    console.error(`registered ${NODES} nodes in ${(Date.now() - t0) / 1000} s; database pid ${pids.database}, API pid ${pids.api}`);

    const lua = path.join(work, "lua");
    mkdirSync(lua);
    const wrk = (script: string) => {
      const p = spawn("wrk", [`-t1`, `-c${CONNECTIONS}`, `-d${SECONDS}s`, "--timeout", "5s", "-s", script, api], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      p.stdout!.on("data", (d) => (out += d));
      loads.push(p);
      return new Promise<string>((r) => p.on("close", () => r(out)));
    };
    t0 = Date.now();
    const deadline = t0 + SECONDS * 1000;
    const wrks = [
      wrk(randomNodeScript(lua, "bs", NODES, `"/boot/v1/bootscript?mac=52:54:00:" .. hex(i)`)),
      wrk(randomNodeScript(lua, "md", NODES, `"/cloud-init/meta-data"`, "ip(i)", { "X-Ochami-Proxy-Secret": PROXY_SECRET })),
    ];
    // The agent's share: a batch of DHCP and kernel events every half second.
    let events = 0;
    const agent = (async () => {
      while (Date.now() < deadline) {
        const batch = Array.from({ length: 50 }, () => {
          const i = Math.floor(Math.random() * NODES);
          return { mac: mac(i), ip: ip(i), endpoint: events++ % 2 ? "dhcp" : "kernel", epoch_ms: Date.now(), detail: "bench" };
        });
        await call(api, "POST", "/boot/v1/endpoint-history", { events: batch }).catch((e) => console.error(String(e)));
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    // An admin now and then: every component, and the last minute of history.
    const admin = (async () => {
      while (Date.now() < deadline && process.env.BENCH_ADMIN !== "off") {
        await call(api, "GET", "/hsm/v2/State/Components").catch((e) => console.error(String(e)));
        await call(api, "GET", `/boot/v1/endpoint-history?history=true&after_id=0`).catch((e) => console.error(String(e)));
        await new Promise((r) => setTimeout(r, 5000));
      }
    })();
    const samples: Array<{ s: number; database: number; api: number }> = [];
    while (Date.now() < deadline) {
      samples.push({ s: Math.round((Date.now() - t0) / 1000), database: rssMb(pids.database), api: rssMb(pids.api) });
      console.error(
        `t=${samples.at(-1)!.s}s  database ${samples.at(-1)!.database} MB (anon ${statusMb(pids.database, "RssAnon")}, file ${statusMb(pids.database, "RssFile")}, shmem ${statusMb(pids.database, "RssShmem")}; files on disk ${databaseFilesMb(env.OCHAMI_STATE_DIR)} MB)  API ${samples.at(-1)!.api} MB`,
      );
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    const wrkOut = await Promise.all(wrks);
    await Promise.all([agent, admin]);
    samples.push({ s: Math.round((Date.now() - t0) / 1000), database: rssMb(pids.database), api: rssMb(pids.api) });
    const rps = wrkOut.map((o) => /Requests\/sec:\s+([\d.]+)/.exec(o)?.[1] ?? "?");
    const history = JSON.parse(await call(api, "GET", "/boot/v1/service/snapshot"));
    report(samples, { rps, events, snapshot: history });
  } finally {
    for (const p of loads) p.kill("SIGTERM");
    start.kill("SIGTERM");
    await new Promise((r) => start.once("close", r));
    rmSync(work, { recursive: true, force: true });
  }
}

function report(samples: Array<{ s: number; database: number; api: number }>, info: Record<string, unknown>) {
  const third = Math.floor(samples.length / 3);
  const parts = [samples.slice(0, third), samples.slice(third, 2 * third), samples.slice(2 * third)];
  const mean = (xs: number[]) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
  const slope = (xs: typeof samples) =>
    xs.length > 1 ? (((xs.at(-1)!.database - xs[0].database) / (xs.at(-1)!.s - xs[0].s)) * 60).toFixed(1) : "?";
  console.log(`database workerd RSS over ${samples.at(-1)!.s} s (${NODES} nodes; bootscript and meta-data req/s: ${info.rps})`);
  console.log("| part | from s | database mean MB | database MB/min | API mean MB |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [k, p] of parts.entries())
    console.log(`| ${k + 1} | ${p[0]?.s} | ${mean(p.map((x) => x.database))} | ${slope(p)} | ${mean(p.map((x) => x.api))} |`);
  console.log(`min ${Math.min(...samples.map((x) => x.database))} MB, max ${Math.max(...samples.map((x) => x.database))} MB`);
  console.log(`agent events posted: ${info.events}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
