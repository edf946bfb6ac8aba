import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BootEventReporter } from "../../onprem-agent/boot-events";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { cleanEnv, type Started, startHeadNode } from "./auth-process";
import { freePort } from "./ports";
import { adminApi, agentReporter, agentSteps, makeNodes, nodeFetch, postInventory, type TestNode, TRUSTED_PROXY_VARS } from "./ui-cluster";

/**
 * The dashboard in Debian's Chromium (headless, driven by playwright-core) against `npm start`
 * with auth on: login with client credentials, the imported nodes coloured by their boot step
 * after real boot-history events (reported as the agent reports them, fetched as nodes fetch
 * them), live without a reload, filters and search, the node view, unknown MACs, scopes, token
 * renewal, keyboard navigation, and no request leaving the origin.
 */
const CHROMIUM = "/usr/bin/chromium";
const LIVE_MS = 30_000;
/** Screenshots stay here after the run (git-ignored), for a human to look at. */
const ARTEFACTS = path.resolve(process.env.OCHAMI_TEST_ARTEFACTS ?? "test-results", "ui");
/** axe-core, Deque's accessibility rules engine, evaluated inside the page. */
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

describe("dashboard in a real browser", () => {
  const missing = requirements({ commands: [CHROMIUM] });
  const stateDir = mkdtempSync(path.join(tmpdir(), "ui-dash-"));
  const nodes: TestNode[] = makeNodes({ cabinets: 2, chassis: 2, slots: 2 });
  let head: Started;
  let url: string;
  let call: ReturnType<typeof adminApi>;
  let dashboard: { id: string; secret: string };
  let agent: { id: string; secret: string };
  let reporter: BootEventReporter;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Every request the pages made, and those to another origin (aborted). */
  const requests: string[] = [];
  const external: string[] = [];
  /** Console errors and uncaught exceptions of every page, but the deliberate cross-origin probe's. */
  const consoleErrors: string[] = [];
  const PROBE = "dashboard-probe.invalid";

  /** A browser context whose requests are recorded (in `requests`, and in its own `seen`). */
  async function watched(seen: string[] = []): Promise<BrowserContext> {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ctx.on("console", (m) => {
      if (m.type() === "error" && !m.text().includes(PROBE)) consoleErrors.push(`${m.location().url}: ${m.text()}`);
    });
    ctx.on("weberror", (e) => consoleErrors.push(`uncaught: ${e.error().message}`));
    await ctx.route("**/*", (route) => {
      const u = route.request().url();
      requests.push(u);
      seen.push(u);
      if (new URL(u).origin === url) return route.continue();
      external.push(u);
      return route.abort();
    });
    return ctx;
  }

  async function login(p: Page, who: { id: string; secret: string }, scope = "") {
    await p.goto(`${url}/ui`);
    await p.fill("input[name=client_id]", who.id);
    await p.fill("input[name=client_secret]", who.secret);
    await p.fill("input[name=scope]", scope);
    await p.click("#login-client button[type=submit]");
  }

  /** The class of node i's square (the map lists nodes in location order, as makeNodes makes them). */
  const cellClass = (i: number) => page.locator(`#map .n[data-k="${i}"]`).getAttribute("class");
  const shown = () => page.locator("#map .n").count();
  const untilClass = (i: number, expected: string) =>
    waitFor(async () => (await cellClass(i)) === expected, LIVE_MS, `node ${nodes[i].xname} to be "${expected}"`);

  beforeAll(async () => {
    if (missing) return;
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    head = await startHeadNode(
      cleanEnv({
        PORT: String(port),
        HOST: "127.0.0.1",
        OCHAMI_STATE_DIR: stateDir,
        HOME: stateDir,
        OCHAMI_AGENT: "off",
        // The test's fetches speak for nodes by their address, as the agent's node proxy does.
        ...TRUSTED_PROXY_VARS,
      }),
      240_000,
    );
    const admin = JSON.parse(readFileSync(path.join(stateDir, "auth", "admin-client.json"), "utf8"));
    const token = await fetch(`${url}/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: admin.client_id, client_secret: admin.client_secret }),
    }).then((r) => r.json());
    call = adminApi(url, token.access_token);
    const client = async (name: string, scope: string) => {
      const c = (await call("POST", "/auth/clients", { name, scope })) as { client_id: string; client_secret: string };
      return { id: c.client_id, secret: c.client_secret };
    };
    dashboard = await client("dashboard", "smd:read bss:read cloud-init:read");
    agent = await client("agent", "boot:report");
    reporter = agentReporter(url, agent.id, agent.secret);

    await postInventory(call, nodes);
    const ids = (role: string) => nodes.filter((n) => n.role === role).map((n) => n.xname);
    await call("POST", "/hsm/v2/groups", { label: "compute", members: { ids: ids("Compute") } });
    await call("POST", "/hsm/v2/groups", { label: "login", members: { ids: ids("Service") } });
    await call("PUT", "/boot/v1/bootparameters", { hosts: ["Default"], kernel: "http://10.1.0.1/default/vmlinuz" });
    await call("PUT", "/boot/v1/bootparameters", {
      hosts: ["Compute"],
      kernel: "http://10.1.0.1/compute/vmlinuz",
      initrd: "http://10.1.0.1/compute/initramfs.img",
      params: "console=ttyS0",
    });
    await call("PUT", "/cloud-init/admin/groups/compute", {
      name: "compute",
      description: "compute nodes",
      file: { encoding: "plain", content: "#cloud-config\nruncmd:\n- echo hello-from-compute\n" },
    });

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    context = await watched();
    page = await context.newPage();
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await reporter?.close();
    await head?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it.skipIf(missing)("the page alone is a login form: it asks the API for nothing, and allows only this origin", async () => {
    const res = await page.goto(`${url}/ui`);
    expect(res!.headers()["content-security-policy"]).toContain("connect-src 'self'");
    await expect(page.locator("#login-client").isVisible()).resolves.toBe(true);
    expect(await page.locator("#cluster").isHidden()).toBe(true);
    const paths = requests.map((u) => new URL(u).pathname);
    expect(
      paths.every((p) => p === "/ui" || /^\/ui\/[\w-]+\.(js|css)$/.test(p)),
      paths.join(" "),
    ).toBe(true);
  });

  it.skipIf(missing)("logs in with client credentials and lays the imported nodes out by cabinet, chassis and slot", async () => {
    await login(page, dashboard);
    await waitFor(async () => (await shown()) === nodes.length, LIVE_MS, "every node on the map");
    expect(await page.locator("#map .cab h3").allTextContents()).toEqual(["x1000 16 nodes", "x1001 16 nodes"]);
    expect(await page.locator("#map .cab").first().locator(".ch").count()).toBe(2);
    expect(await page.locator("#map .cab").first().locator(".sl").count()).toBe(4);
    expect(await page.textContent("#who")).toContain(`client ${dashboard.id}`);
    expect(await page.textContent("#who")).toContain("smd:read bss:read cloud-init:read");
    // No boot seen yet: every square hollow.
    expect(await cellClass(0)).toBe("n none");
    expect(await page.textContent("#legend")).toContain(`no boot seen ${nodes.length}`);
  });

  it.skipIf(missing)("colours nodes by where their boot is as the history grows, without a reload", async () => {
    await page.evaluate(() => {
      (window as any).sameDocument = true;
    });
    const now = Date.now();
    const [full, kernel, script, initrd, cloud, old] = nodes;
    // What the agent reports (its own reporter and batching): DHCP with a boot file, TFTP, kernel, initrd.
    for (const e of agentSteps(full, now - 30_000)) reporter.report(e);
    for (const e of agentSteps(kernel, now - 20_000, "kernel")) reporter.report(e);
    for (const e of agentSteps(script, now - 20_000, "tftp")) reporter.report(e);
    for (const e of agentSteps(initrd, now - 20_000)) reporter.report(e);
    for (const e of agentSteps(cloud, now - 20_000)) reporter.report(e);
    // Stopped at its kernel ten minutes ago: stuck (the default threshold is 5 minutes).
    for (const e of agentSteps(old, now - 600_000, "kernel")) reporter.report(e);
    await reporter.flush();
    // What the API records itself, fetched as the nodes fetch it.
    for (const n of [full, script]) expect((await nodeFetch(url, `/boot/v1/bootscript?mac=${n.mac}`, n.ip)).status).toBe(200);
    // The booted OS's own DHCP moves nothing; then cloud-init fetches its documents and group file.
    reporter.report({ mac: full.mac, ip: full.ip, endpoint: "dhcp", epoch_ms: Date.now(), detail: `ACK ${full.ip}` });
    await reporter.flush();
    for (const doc of ["meta-data", "user-data", "vendor-data", "compute.yaml"])
      expect((await nodeFetch(url, `/cloud-init/${doc}`, full.ip)).status).toBe(200);
    expect((await nodeFetch(url, "/cloud-init/meta-data", cloud.ip)).status).toBe(200);

    await untilClass(0, "n done");
    await untilClass(1, "n kernel");
    await untilClass(2, "n bootscript");
    await untilClass(3, "n initrd");
    await untilClass(4, "n cloud-init");
    await untilClass(5, "n kernel stuck");
    expect(await page.evaluate(() => (window as any).sameDocument)).toBe(true);
    const legend = await page.textContent("#legend");
    for (const count of [
      "done 1",
      "kernel 2",
      "bootscript 1",
      "initrd 1",
      "cloud-init 1",
      `no boot seen ${nodes.length - 6}`,
      "stuck 1 (kernel 1)",
    ])
      expect(legend).toContain(count);
    // The table puts the stuck node first, saying where it stopped.
    const first = page.locator("#table tbody tr").first();
    expect(await first.locator("td").first().textContent()).toBe(old.xname);
    expect(await first.textContent()).toContain("stuck at kernel");
    const updates = await page.evaluate(() => performance.getEntriesByName("ui:update").length);
    expect(updates).toBeGreaterThan(0);
  });

  it.skipIf(missing)("shows the same stages after a reload, from the facts read whole", async () => {
    const before = await Promise.all(nodes.slice(0, 7).map((_, i) => cellClass(i)));
    await login(page, dashboard);
    await waitFor(async () => (await shown()) === nodes.length, LIVE_MS, "the map after a reload");
    expect(await Promise.all(nodes.slice(0, 7).map((_, i) => cellClass(i)))).toEqual(before);
  });

  it.skipIf(missing)("filters by group, state and role, and searches by xname, NID, MAC and IP", async () => {
    const count = async () => shown();
    await page.selectOption("#f-group", "login");
    await waitFor(async () => (await count()) === nodes.filter((n) => n.role === "Service").length, LIVE_MS, "the login group");
    await page.selectOption("#f-group", "");
    await page.selectOption("#f-role", "Compute");
    await waitFor(async () => (await count()) === nodes.filter((n) => n.role === "Compute").length, LIVE_MS, "role Compute");
    await page.selectOption("#f-role", "");
    await page.selectOption("#f-state", "Off");
    await waitFor(async () => (await count()) === nodes.filter((n) => n.state === "Off").length, LIVE_MS, "state Off");
    await page.selectOption("#f-state", "");
    const search = async (q: string, expected: TestNode[]) => {
      await page.fill("#q", q);
      await waitFor(
        async () =>
          (await count()) === expected.length &&
          (await page.locator("#table tbody td:first-child").allTextContents()).sort().join() ===
            expected
              .map((n) => n.xname)
              .sort()
              .join(),
        LIVE_MS,
        `search ${q}`,
      );
    };
    const n = nodes[13];
    await search(n.mac.toUpperCase().replaceAll(":", "-"), [n]);
    await search(n.ip, [n]);
    await search(String(n.nid), [n]);
    await search(
      "x1001c1",
      nodes.filter((x) => x.xname.startsWith("x1001c1")),
    );
    await search("", nodes);
    // A stage from the legend: its nodes listed, the others dimmed on the map.
    await page.click('#legend button[data-stage="done"]');
    await waitFor(async () => (await page.locator("#table tbody tr").count()) === 1, LIVE_MS, "only the done node listed");
    expect(await page.getAttribute('#legend button[data-stage="done"]', "aria-pressed")).toBe("true");
    expect(await cellClass(1)).toBe("n kernel dim");
    await page.click('#legend button[data-stage="done"]');
    await untilClass(1, "n kernel");
  });

  it.skipIf(missing)("moves between nodes with the keyboard and opens one with Enter", async () => {
    await page.focus("#q");
    for (let i = 0; i < 20 && !(await page.evaluate(() => document.activeElement?.classList.contains("n"))); i++)
      await page.keyboard.press("Tab");
    const focused = () =>
      page.evaluate(() => [Number((document.activeElement as HTMLElement).dataset.k), document.activeElement!.getAttribute("aria-label")]);
    expect((await focused())[0]).toBe(0);
    expect((await focused())[1]).toContain(`${nodes[0].xname} (NID 1): done`);
    await page.keyboard.press("ArrowRight");
    expect((await focused())[0]).toBe(1);
    // Down: the same place in the next chassis (8 nodes a chassis here).
    await page.keyboard.press("ArrowDown");
    expect((await focused())[0]).toBe(9);
    await page.keyboard.press("PageDown");
    expect((await focused())[0]).toBe(16);
    await page.keyboard.press("PageUp");
    expect((await focused())[0]).toBe(0);
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("Enter");
    await waitFor(() => page.url().endsWith(`#/node/${nodes[1].xname}`), LIVE_MS, "the node view");
    // The URL changes before the page's hashchange handler draws the view and focuses its title.
    await waitFor(async () => (await page.evaluate(() => document.activeElement?.id)) === "node-title", LIVE_MS, "focus on the title");
    // "/" jumps to the search from the cluster view.
    await login(page, dashboard);
    await waitFor(async () => (await shown()) === nodes.length, LIVE_MS, "the map");
    await page.keyboard.press("/");
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("q");
  });

  it.skipIf(missing)(
    "shows a node: timeline, SMD record, interfaces, groups, winning boot parameters and why, script, cloud-init, raw answers",
    async () => {
      const n = nodes[0];
      const steps = async () => (await call("GET", `/boot/v1/endpoint-history?history=true&name=${n.xname}`)) as unknown[];
      const recorded = (await steps()).length;
      await page.click(`#map .n[data-k="0"]`);
      await waitFor(async () => (await page.locator("#n-cloud-init pre").count()) >= 3, LIVE_MS, "the node view's parts");
      const column = (k: number) => page.locator(`#n-timeline tbody tr td:nth-child(${k})`).allTextContents();
      expect(await column(2)).toEqual([
        "dhcp",
        "tftp",
        "kernel",
        "initrd",
        "bootscript",
        "dhcp",
        "meta-data",
        "user-data",
        "vendor-data",
        "cloud-init-group",
      ]);
      const since = await column(3);
      expect([since[0], since[2], since[3]]).toEqual(["+0.0 s", "+2.0 s", "+2.5 s"]);
      const component = await page.textContent("#n-component");
      expect(component).toContain(n.xname);
      expect(component).toContain("Compute");
      expect(await page.textContent("#n-interfaces")).toContain(n.mac);
      expect(await page.textContent("#n-groups")).toContain("compute");
      const boot = await page.textContent("#n-boot");
      expect(boot).toContain("It boots the entry of its role (Compute)");
      expect(await page.locator("#n-boot tr.wins td").allTextContents()).toEqual([
        "wins",
        "role",
        "Compute",
        "http://10.1.0.1/compute/vmlinuz",
        "http://10.1.0.1/compute/initramfs.img",
        "console=ttyS0",
      ]);
      expect(await page.textContent("#n-script")).toContain(
        "kernel --name kernel http://10.1.0.1/compute/vmlinuz initrd=initrd console=ttyS0",
      );
      expect(await page.textContent("#n-meta-data")).toContain("instance-id:");
      expect(await page.textContent("#n-vendor-data")).toContain("/compute.yaml");
      expect(await page.textContent("#n-cloud-init")).toContain("hello-from-compute");
      // Reading what it boots recorded no boot step.
      expect((await steps()).length).toBe(recorded);
      // A raw answer, fetched with the token.
      await page.click(`a[href="#/raw/${encodeURIComponent(`/hsm/v2/State/Components/${n.xname}`)}"]`);
      await waitFor(async () => (await page.textContent("#raw-body"))?.includes(`"ID": "${n.xname}"`), LIVE_MS, "the raw component");
      expect(await page.textContent("#raw-body")).toContain(
        `curl -H "Authorization: Bearer $TOKEN" '${url}/hsm/v2/State/Components/${n.xname}'`,
      );
    },
  );

  it.skipIf(missing)("follows a node's timeline live while its view is open", async () => {
    const n = nodes[1];
    await login(page, dashboard);
    await waitFor(async () => (await shown()) === nodes.length, LIVE_MS, "the map");
    await page.goto(`${url}/ui#/node/${n.xname}`);
    await waitFor(async () => (await page.locator("#n-timeline tbody tr").count()) === 3, LIVE_MS, "dhcp, tftp, kernel");
    reporter.report(agentSteps(n, Date.now() - 20_000)[3]);
    await reporter.flush();
    await waitFor(async () => (await page.locator("#n-timeline tbody tr").count()) === 4, LIVE_MS, "the initrd step, live");
    expect(await page.locator("#n-timeline tbody tr").last().textContent()).toContain("initrd");
  });

  it.skipIf(missing)("lists unknown MACs seen by DHCP, with when and where, and the commands that add one", async () => {
    const mac = "02:ff:00:00:00:42";
    reporter.report({
      mac,
      ip: "10.100.9.200",
      endpoint: "dhcp",
      epoch_ms: Date.now() - 60_000,
      detail: "bootloop ACK 10.100.9.200 file=default",
    });
    reporter.report({ mac, ip: "10.100.9.200", endpoint: "tftp", epoch_ms: Date.now() - 59_000, detail: "default" });
    await reporter.flush();
    await page.click('nav a[href="#/unknown"]');
    const row = page.locator("#unknown-list tbody tr", { hasText: mac });
    await waitFor(async () => (await row.count()) === 1, LIVE_MS, "the unknown MAC");
    const text = await row.textContent();
    expect(text).toContain("10.100.9.200");
    // Its latest step, what it got, and every step it took.
    expect(text).toContain("tftp: default");
    expect(text).toMatch(/10\.100\.9\.200\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\d+(\.\d)? s ago/);
    expect(text).toMatch(/dhcp, tftp|tftp, dhcp/);
    await row.locator("summary").click();
    await row.locator("input.x").fill("x1002c0s0b0n0");
    await row.locator("input.nid").fill("77");
    expect(await row.locator(".cmd").textContent()).toBe(
      `ochami smd component add x1002c0s0b0n0 77\nochami smd iface add x1002c0s0b0n0 ${mac}`,
    );
    // Another one appears while the list is open, and what was typed stays.
    reporter.report({
      mac: "02:ff:00:00:00:43",
      ip: "10.100.9.201",
      endpoint: "dhcp",
      epoch_ms: Date.now(),
      detail: "bootloop ACK 10.100.9.201 file=default",
    });
    await reporter.flush();
    await waitFor(
      async () => (await page.locator("#unknown-list tbody tr", { hasText: "02:ff:00:00:00:43" }).count()) === 1,
      LIVE_MS,
      "the second MAC, live",
    );
    expect(await row.locator("input.x").inputValue()).toBe("x1002c0s0b0n0");
  });

  /** axe-core's violations on the page as it is now, as "rule (impact): nodes" lines. */
  async function accessibilityViolations(p: Page): Promise<string[]> {
    await p.evaluate(AXE_SOURCE);
    const violations = (await p.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((r) => r.violations)`)) as {
      id: string;
      impact: string;
      nodes: { target: string[] }[];
    }[];
    return violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  }

  it.skipIf(missing)("passes axe-core's accessibility rules on every view, and is photographed at desktop and narrow widths", async () => {
    mkdirSync(ARTEFACTS, { recursive: true });
    const views: [string, string, () => Promise<unknown>][] = [
      ["cluster", "#/", () => waitFor(async () => (await shown()) === nodes.length, LIVE_MS, "the map")],
      [
        "node",
        `#/node/${nodes[0].xname}`,
        () => waitFor(async () => (await page.locator("#n-cloud-init pre").count()) >= 3, LIVE_MS, "the node view"),
      ],
      [
        "unknown",
        "#/unknown",
        () => waitFor(async () => (await page.locator("#unknown-list tbody tr").count()) >= 2, LIVE_MS, "the unknown list"),
      ],
    ];
    const found: string[] = [];
    for (const width of [1280, 390]) {
      await page.setViewportSize({ width, height: 900 });
      // One login per width (the token lives in the page's memory), then the views by their links.
      await login(page, dashboard);
      for (const [name, hash, ready] of views) {
        await page.evaluate((h) => {
          location.hash = h;
        }, hash);
        await ready();
        await page.screenshot({ path: path.join(ARTEFACTS, `${name}-${width}.png`), fullPage: width < 1000 });
        for (const v of await accessibilityViolations(page)) found.push(`${name} at ${width}px: ${v}`);
      }
    }
    // The login form, in a page of its own.
    const ctx = await watched();
    const p = await ctx.newPage();
    await p.goto(`${url}/ui`);
    await p.screenshot({ path: path.join(ARTEFACTS, "login-1280.png") });
    for (const v of await accessibilityViolations(p)) found.push(`login: ${v}`);
    await ctx.close();
    await page.setViewportSize({ width: 1280, height: 900 });
    expect(found).toEqual([]);
  });

  it.skipIf(missing)("decides stages as documented: the OS's DHCP moves nothing, done needs every included group file", async () => {
    // As a string: the test's own transform would rewrite a dynamic import inside a function.
    const stages = await page.evaluate(`(async () => {
      const m = await import("/ui/boot-state.js");
      const f = m.emptyFacts();
      const at = (facts) => {
        const s = m.classify(facts, 1000000, 300000);
        return s.stage + (s.stuck ? " stuck" : "") + (s.failed ? " failed" : "");
      };
      const step = (endpoint, t, detail = "") => m.applyEvent(f, { endpoint, epoch_ms: t, detail });
      const out = [at(f)];
      step("dhcp", 990000, "ACK 10.0.0.1 file=ipxe.efi");
      out.push(at(f));
      step("kernel", 991000);
      step("dhcp", 992000, "ACK 10.0.0.1");
      out.push(at(f));
      step("vendor-data", 993000, "2 includes");
      step("cloud-init-group", 994000, "compute");
      out.push(at(f));
      step("cloud-init-group", 995000, "404: node x is not a member of group gpu");
      out.push(at(f));
      step("cloud-init-group", 996000, "gpu");
      out.push(at(f));
      step("dhcp", 999000, "ACK 10.0.0.1");
      out.push(at(f));
      step("dhcp", 999500, "ACK 10.0.0.1 file=ipxe.efi");
      out.push(at(f));
      out.push(at({ ...f, at: 100000 }));
      return out;
    })()`);
    expect(stages).toEqual(["none", "dhcp", "kernel", "cloud-init", "cloud-init failed", "done", "done", "dhcp", "dhcp stuck"]);
  });

  it.skipIf(missing)("never sends a request to another origin: the policy blocks it before the network", async () => {
    const blocked = await page.evaluate(() =>
      fetch("http://dashboard-probe.invalid/").then(
        () => "sent",
        () => "blocked",
      ),
    );
    expect(blocked).toBe("blocked");
    expect(external).toEqual([]);
    expect(requests.length).toBeGreaterThan(20);
    expect(requests.every((u) => u.startsWith(`${url}/`))).toBe(true);
  });

  it.skipIf(missing)("shows nothing a token has no scope for, and sends no request for it", async () => {
    const seen: string[] = [];
    const ctx = await watched(seen);
    const p = await ctx.newPage();
    await login(p, agent);
    await waitFor(async () => (await p.textContent("#scope-notes"))?.includes("smd:read"), LIVE_MS, "the scope notes");
    expect(await p.textContent("#scope-notes")).toContain("needs scope bss:read");
    expect(await p.locator("#map .n").count()).toBe(0);
    const asked = seen.map((u) => new URL(u).pathname);
    expect(
      asked.filter((p) => p.startsWith("/hsm/") || p.startsWith("/ui/api/") || p.startsWith("/boot/") || p.startsWith("/cloud-init/")),
    ).toEqual([]);
    // A pasted token with smd:read only: the nodes, no stages.
    const token = await fetch(`${url}/token`, {
      method: "POST",
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: dashboard.id,
        client_secret: dashboard.secret,
        scope: "smd:read",
      }),
    }).then((r) => r.json());
    await p.click("#logout");
    await p.fill("textarea[name=token]", token.access_token);
    await p.click("#login-token button[type=submit]");
    await waitFor(async () => (await p.locator("#map .n").count()) === nodes.length, LIVE_MS, "the nodes");
    expect(await p.textContent("#who")).toMatch(/pasted token .* expires in/);
    expect(seen.some((u) => new URL(u).pathname === "/ui/api/boots")).toBe(false);
    await p.click("#logout");
    expect(await p.locator("#login").isVisible()).toBe(true);
    expect(await p.locator("#map .n").count()).toBe(0);
    await ctx.close();
  });

  it.skipIf(missing)("renews its token before it expires", async () => {
    const ctx = await watched();
    const p = await ctx.newPage();
    await p.clock.install();
    const tokens: string[] = [];
    p.on("request", (r) => {
      if (new URL(r.url()).pathname === "/token") tokens.push(r.method());
    });
    await login(p, dashboard);
    await waitFor(async () => (await p.locator("#map .n").count()) === nodes.length, LIVE_MS, "the map");
    expect(tokens).toEqual(["POST"]);
    // 80% of the hour's lifetime.
    await p.clock.fastForward("49:00");
    await waitFor(() => tokens.length === 2, LIVE_MS, "a second token request");
    await waitFor(async () => (await p.textContent("#who"))?.includes("(in 59 min"), LIVE_MS, "the new expiry");
    await ctx.close();
  });

  it.skipIf(missing)("logged no console error and threw no uncaught exception on any page", () => {
    expect(consoleErrors).toEqual([]);
  });
});
