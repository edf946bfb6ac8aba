/**
 * `npm run bench:bootscript`: how many iPXE boot scripts per second the real runner serves.
 *
 * Starts the API exactly as `npm start` does (workerd + persisted local D1, in a temp state dir),
 * populates N nodes (SMD components + EthernetInterfaces, boot parameters by MAC as the tutorial
 * does), then drives it with wrk (Debian package `wrk`) for each case:
 *   status      /boot/v1/service/status      no D1 at all: the worker's own ceiling here
 *   hsm         /boot/v1/service/hsm         one trivial D1 read (`SELECT 1`): local D1's ceiling here
 *   bootscript  /boot/v1/bootscript?mac=…    a random one of the N nodes per request, from the boot snapshot,
 *                                            plus the buffered boot-history write
 *   unknown     /boot/v1/bootscript?mac=…    MACs SMD does not know (the retry script)
 * Environment: BENCH_NODES (1000), BENCH_SECONDS (10), BENCH_CONNECTIONS (50), BENCH_THREADS (2),
 * BENCH_KEEP_STATE=1 (leave the D1 state directory for inspection), BENCH_LOG=1 (workerd's output),
 * BENCH_VARS (a JSON object of extra worker variables, e.g. {"OCHAMI_BOOT_SNAPSHOT":"off"}).
 * Results are printed and written to bench/results/bootscript-<time>.json (git-ignored).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startApiServer } from "../head-node/api-runner";
import { repoRoot } from "../shared/head-node-state";
import { freePort } from "../test/head-node/ports";
import { randomNodeScript, requireWrk, runWrk } from "./lib/wrk";

const NODES = Number(process.env.BENCH_NODES ?? 1000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);

const mac = (i: number, prefix = "52:54:00") =>
  `${prefix}:${[(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
const xname = (i: number) => `x${1000 + Math.floor(i / 512)}c${Math.floor(i / 64) % 8}s${Math.floor(i / 2) % 32}b${i % 2}n0`;

async function call(base: string, method: string, p: string, body?: unknown) {
  const res = await fetch(`${base}${p}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

/** fetch, once more on a fresh connection if the pooled one was closed while wrk ran. */
async function fetchFresh(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch {
    return fetch(url);
  }
}

async function populate(base: string) {
  const comps = Array.from({ length: NODES }, (_, i) => ({ ID: xname(i), State: "Ready", Role: "Compute", NID: i + 1 }));
  await call(base, "POST", "/hsm/v2/State/Components", { Components: comps });
  // EthernetInterfaces are created one per request (SMD's API); a few at a time.
  for (let i = 0; i < NODES; i += 16) {
    await Promise.all(
      Array.from({ length: Math.min(16, NODES - i) }, (_, j) =>
        call(base, "POST", "/hsm/v2/Inventory/EthernetInterfaces", {
          MACAddress: mac(i + j),
          ComponentID: xname(i + j),
          IPAddresses: [{ IPAddress: `172.16.${(i + j) >> 8}.${(i + j) & 0xff}` }],
        }),
      ),
    );
  }
  await call(base, "PUT", "/boot/v1/bootparameters", {
    macs: Array.from({ length: NODES }, (_, i) => mac(i)),
    kernel: "http://172.16.0.254:8080/compute/vmlinuz",
    initrd: "http://172.16.0.254:8080/compute/initramfs.img",
    params: "nomodeset ro root=live:http://172.16.0.254:8080/compute/rootfs ip=dhcp console=ttyS0,115200",
  });
}

/** A wrk Lua script asking for a random one of `count` MACs (`prefix` + 3 bytes) per request. */
const randomMacScript = (dir: string, name: string, prefix: string, count: number) =>
  randomNodeScript(dir, name, count, `"/boot/v1/bootscript?mac=${prefix}:" .. hex(i)`);

const wrkCase = (name: string, url: string, script?: string) => ({
  case: name,
  ...runWrk({ url, script, threads: THREADS, connections: CONNECTIONS, seconds: SECONDS }),
});

async function main() {
  requireWrk();
  const stateDir = mkdtempSync(path.join(tmpdir(), "ochami-bench-"));
  const port = await freePort();
  const api = await startApiServer({
    port,
    stateDir,
    vars: { OCHAMI_AUTH: "off", OCHAMI_NODE_BASE_URL: `http://172.16.0.254:${port}`, ...JSON.parse(process.env.BENCH_VARS ?? "{}") },
    onLog: (line) => process.env.BENCH_LOG && console.error(`[workerd] ${line}`),
  });
  try {
    const t0 = Date.now();
    await populate(api.url);
    console.log(`populated ${NODES} nodes in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const sample = await (await fetch(`${api.url}/boot/v1/bootscript?mac=${mac(NODES - 1)}`)).text();
    if (!sample.includes(`xname=${xname(NODES - 1)}`)) throw new Error(`unexpected bootscript:\n${sample}`);
    const scripts = mkdtempSync(path.join(tmpdir(), "ochami-bench-lua-"));
    const results = [
      wrkCase("status (no D1)", `${api.url}/boot/v1/service/status`),
      wrkCase("service/hsm (one trivial D1 read)", `${api.url}/boot/v1/service/hsm`),
      wrkCase(`bootscript, ${NODES} known nodes`, api.url, randomMacScript(scripts, "known", "52:54:00", NODES)),
      wrkCase("bootscript, unknown MACs", api.url, randomMacScript(scripts, "unknown", "02:99:00", NODES)),
    ];
    rmSync(scripts, { recursive: true, force: true });
    console.log(`wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s, ${NODES} nodes`);
    console.table(results);
    const history = (await (await fetchFresh(`${api.url}/boot/v1/endpoint-history?endpoint=bootscript&limit=100000`)).json()) as unknown[];
    console.log(`boot history: latest bootscript fetch recorded for ${history.length} nodes/MACs`);
    const dir = path.join(repoRoot, "bench", "results");
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `bootscript-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, JSON.stringify({ nodes: NODES, seconds: SECONDS, connections: CONNECTIONS, threads: THREADS, results }, null, 2));
    console.log(`written ${path.relative(repoRoot, file)}`);
  } finally {
    await api.stop();
    if (process.env.BENCH_KEEP_STATE) console.log(`state kept in ${stateDir}`);
    else rmSync(stateDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
