/**
 * `npm run bench:dashboard`: what the dashboard costs in the browser at cluster scale.
 *
 * Starts the API as `npm start` does (workerd + persisted local D1, auth on), imports N nodes
 * (components and a group through the API; their interfaces, one each, written into the local D1
 * with `wrangler d1 execute` before the start: SMD takes them one per request, about 70 a second
 * on this machine), records a boot history for them (every stage, a tenth with none, some
 * stuck), then opens /ui in Debian's Chromium (headless, playwright-core),
 * logs in with client credentials and reads the page's own performance measures:
 *   first render   from asking the API to the first painted frame of the map (`ui:first-render`),
 *                  split into fetching (four reads in parallel) and building the page
 *   update         a wave of steps reported as the agent reports them, from the poll's answer to
 *                  the next painted frame (`ui:update`: fold the events, re-check every node,
 *                  rewrite the squares that changed)
 *   filter         re-laying the map out for a search, and back to every node (`ui:render`)
 * and Chromium's own counters (the main thread's CPU time over the first render and the update,
 * DOM nodes, JS heap). Environment: BENCH_NODES (10000, several
 * comma-separated: 10000,100000), BENCH_WAVE (nodes in the update wave, default a tenth),
 * BENCH_SCREENSHOT (a path: a PNG of the page after the wave, as docs/images/dashboard.png).
 * Results are printed and written to bench/results/dashboard-<time>.json (git-ignored).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Page } from "playwright-core";
import { startApiServer } from "../head-node/api-runner";
import { applyMigrations } from "../head-node/api-runner/migrate";
import { quietWranglerEnv } from "../head-node/api-runner/quiet-env";
import { authVars, ensureAuthState } from "../head-node/auth-state";
import { repoRoot } from "../shared/head-node-state";
import { freePort } from "../test/head-node/ports";
import { adminApi, makeNodes, type TestNode } from "../test/head-node/ui-cluster";
import { assertNeeds } from "../test/support/needs";

const CHROMIUM = "/usr/bin/chromium";
const SIZES = (process.env.BENCH_NODES ?? "10000").split(",").map(Number);

/** A boot history: node i stopped at one of the steps below (or never booted), at a time in the last 20 minutes. */
function history(nodes: TestNode[], now: number): object[] {
  const events: object[] = [];
  const plan = ["dhcp", "tftp", "bootscript", "kernel", "initrd", "os-dhcp", "meta-data", "user-data", "vendor-data"];
  nodes.forEach((n, i) => {
    if (i % 10 === 0) return;
    const upTo = i % plan.length;
    const start = now - 1_200_000 + ((i * 7919) % 1_140_000);
    plan.slice(0, upTo + 1).forEach((step, k) => {
      const t = start + k * 1500;
      if (step === "os-dhcp") events.push({ mac: n.mac, ip: n.ip, name: n.xname, endpoint: "dhcp", epoch_ms: t, detail: `ACK ${n.ip}` });
      else if (step === "dhcp")
        events.push({ mac: n.mac, ip: n.ip, name: n.xname, endpoint: "dhcp", epoch_ms: t, detail: `ACK ${n.ip} file=ipxe.efi` });
      else events.push({ name: n.xname, endpoint: step, epoch_ms: t, detail: step === "vendor-data" ? "0 includes" : step });
    });
  });
  return events;
}

/** Each node's interface (MAC and IP), as SMD stores them, in the local D1 while no workerd holds it. */
function seedInterfaces(stateDir: string, nodes: TestNode[]) {
  const q = (v: string) => `'${v.replaceAll("'", "''")}'`;
  const now = new Date().toISOString();
  const lines: string[] = [];
  for (let i = 0; i < nodes.length; i += 500) {
    const chunk = nodes.slice(i, i + 500);
    const id = (n: TestNode) => n.mac.replaceAll(":", "");
    lines.push(
      `INSERT INTO ethernet_interfaces (id, mac_address, component_id, last_update) VALUES ${chunk.map((n) => `(${q(id(n))}, ${q(n.mac)}, ${q(n.xname)}, ${q(now)})`).join(", ")};`,
      `INSERT INTO ethernet_interface_ips (interface_id, ip_address, position) VALUES ${chunk.map((n) => `(${q(id(n))}, ${q(n.ip)}, 0)`).join(", ")};`,
    );
  }
  const file = path.join(stateDir, "interfaces.sql");
  writeFileSync(file, lines.join("\n"));
  const wrangler = path.join(repoRoot, "node_modules", "wrangler", "bin", "wrangler.js");
  const r = spawnSync(process.execPath, [wrangler, "d1", "execute", "DB", "--local", "--persist-to", stateDir, "--file", file, "--yes"], {
    cwd: repoRoot,
    env: { ...quietWranglerEnv(stateDir), CI: "true" },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`wrangler d1 execute failed: ${r.stdout}${r.stderr}`);
}

const PAGE_READS = {
  components: "/hsm/v2/State/Components?type=Node",
  boots: "/ui/api/boots",
  groups: "/hsm/v2/groups",
  interfaces: "/hsm/v2/Inventory/EthernetInterfaces",
};

async function measures(page: Page, name: string) {
  return page.evaluate(
    (n) => performance.getEntriesByName(n).map((e) => ({ ms: e.duration, detail: (e as PerformanceMeasure).detail })),
    name,
  );
}

async function waitMeasure(page: Page, name: string, count: number, timeoutMs = 600_000) {
  await page.waitForFunction(([n, c]) => performance.getEntriesByName(n as string).length >= (c as number), [name, count], {
    timeout: timeoutMs,
    polling: 200,
  });
  return (await measures(page, name)).slice(count - 1);
}

async function run(size: number) {
  const stateDir = mkdtempSync(path.join(tmpdir(), "bench-dashboard-"));
  const state = await ensureAuthState(stateDir);
  const cabinets = Math.ceil(size / 256);
  const nodes = makeNodes({ cabinets, chassis: 8, slots: 8 }).slice(0, size);
  let t = performance.now();
  await applyMigrations(stateDir);
  seedInterfaces(stateDir, nodes);
  // workerd's last words, printed if the run fails.
  const log: string[] = [];
  const api = await startApiServer({
    port: await freePort(),
    stateDir,
    vars: authVars(state),
    onLog: (l) => log.push(l) && log.length > 50 && log.shift(),
  });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  try {
    const token = await fetch(`${api.url}/token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: state.admin.client_id,
        client_secret: state.admin.client_secret,
      }),
    }).then((r) => r.json() as Promise<{ access_token: string }>);
    const call = adminApi(api.url, token.access_token);
    for (let i = 0; i < nodes.length; i += 5000)
      await call("POST", "/hsm/v2/State/Components", {
        Components: nodes
          .slice(i, i + 5000)
          .map((n) => ({ ID: n.xname, Type: "Node", State: n.state, Role: n.role, NID: n.nid, Enabled: true })),
      });
    await call("POST", "/hsm/v2/groups", {
      label: "compute",
      members: { ids: nodes.filter((n) => n.role === "Compute").map((n) => n.xname) },
    });
    const importS = (performance.now() - t) / 1000;
    t = performance.now();
    const events = history(nodes, Date.now());
    for (let i = 0; i < events.length; i += 10_000) {
      await call("POST", "/boot/v1/endpoint-history", { events: events.slice(i, i + 10_000) });
      // Reading settles the recorder's queue: keeps it under its bound while the next batch is posted.
      await call("GET", "/boot/v1/endpoint-history?limit=1");
    }
    const historyS = (performance.now() - t) / 1000;
    console.log(`${size} nodes: imported in ${importS.toFixed(1)} s, ${events.length} boot events in ${historyS.toFixed(1)} s`);

    // The API's side alone: each read the page makes at login, one at a time.
    const serverMs: Record<string, number> = {};
    for (const [name, p] of Object.entries(PAGE_READS)) {
      const t0 = performance.now();
      const res = await fetch(`${api.url}${p}`, { headers: { authorization: `Bearer ${token.access_token}` } });
      const bytes = (await res.arrayBuffer()).byteLength;
      if (!res.ok) throw new Error(`${p}: ${res.status}`);
      serverMs[name] = Math.round(performance.now() - t0);
      serverMs[`${name}MB`] = Math.round(bytes / 1e5) / 10;
    }
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    const outside: string[] = [];
    await page.route("**/*", (r) => {
      if (new URL(r.request().url()).origin === api.url) return r.continue();
      outside.push(r.request().url());
      return r.abort();
    });
    // The page's main thread's CPU time (Chromium's ThreadTime): what a busy machine's waits leave out.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Performance.enable");
    const metric = async (name: string) => (await cdp.send("Performance.getMetrics")).metrics.find((m) => m.name === name)?.value ?? 0;
    await page.goto(`${api.url}/ui`);
    await page.fill("input[name=client_id]", state.admin.client_id);
    await page.fill("input[name=client_secret]", state.admin.client_secret);
    let cpu = await metric("ThreadTime");
    await page.click("#login-client button[type=submit]");
    const [first] = await waitMeasure(page, "ui:first-render", 1);
    const firstCpuMs = Math.round(((await metric("ThreadTime")) - cpu) * 1000);

    // A wave: a tenth of the nodes reboot (a firmware DHCP each), reported in one batch as the agent posts.
    const wave = Number(process.env.BENCH_WAVE ?? Math.max(1, Math.floor(size / 10)));
    const before = (await measures(page, "ui:update")).length;
    cpu = await metric("ThreadTime");
    const now = Date.now();
    const rebooted = nodes
      .slice(0, wave)
      .map((n) => ({ mac: n.mac, ip: n.ip, name: n.xname, endpoint: "dhcp", epoch_ms: now, detail: `ACK ${n.ip} file=ipxe.efi` }));
    for (let i = 0; i < rebooted.length; i += 10_000)
      await call("POST", "/boot/v1/endpoint-history", { events: rebooted.slice(i, i + 10_000) });
    let folded = 0;
    const updates: Array<{ ms: number; detail: { events: number; changed: number; scriptMs: number; frameMs: number } }> = [];
    while (folded < wave) {
      const got = await waitMeasure(page, "ui:update", before + updates.length + 1);
      const u = got.at(-1) as (typeof updates)[number];
      updates.push(u);
      folded += u.detail.events;
    }
    const updateCpuMs = Math.round(((await metric("ThreadTime")) - cpu) * 1000);
    // The README's picture: the map mid-boot, at desktop width (BENCH_SCREENSHOT=docs/images/dashboard.png).
    if (process.env.BENCH_SCREENSHOT) await page.screenshot({ path: path.resolve(repoRoot, process.env.BENCH_SCREENSHOT) });
    // Filtering: a search that leaves one cabinet, then back to every node.
    const renders = (await measures(page, "ui:render")).length;
    await page.fill("#q", "x1001");
    const [narrow] = await waitMeasure(page, "ui:render", renders + 1);
    await page.fill("#q", "");
    const [all] = await waitMeasure(page, "ui:render", renders + 2);
    const result = {
      nodes: size,
      events: events.length,
      firstRenderMs: Math.round(first.ms),
      firstCpuMs,
      fetchMs: Math.round(first.detail.fetchMs),
      modelMs: Math.round(first.detail.modelMs),
      domMs: Math.round(first.detail.domMs),
      frameMs: Math.round(first.detail.frameMs),
      wave,
      updates: updates.map((u) => ({
        ms: Math.round(u.ms),
        scriptMs: Math.round(u.detail.scriptMs),
        frameMs: Math.round(u.detail.frameMs),
        events: u.detail.events,
        changed: u.detail.changed,
      })),
      updateCpuMs,
      searchRenderMs: Math.round(narrow.ms),
      searchNodes: narrow.detail.nodes,
      fullRenderMs: Math.round(all.ms),
      serverMs,
      domNodes: await metric("Nodes"),
      jsHeapMB: Math.round((await metric("JSHeapUsedSize")) / 1e6),
      outsideRequests: outside.length,
      importS: Number(importS.toFixed(1)),
      historyS: Number(historyS.toFixed(1)),
    };
    console.log(JSON.stringify(result));
    return result;
  } catch (err) {
    console.error(`workerd's last lines:\n${log.join("\n")}`);
    throw err;
  } finally {
    await browser.close();
    await api.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function main() {
  assertNeeds("bench:dashboard", { commands: [CHROMIUM] });
  const results = [];
  for (const size of SIZES) results.push(await run(size));
  const dir = path.join(repoRoot, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `dashboard-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(results, null, 2));
  console.log(`written ${file}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
