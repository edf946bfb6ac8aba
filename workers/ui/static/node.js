/**
 * The node view: one node's boot timeline, its SMD record, interfaces and groups, the boot
 * parameters that win for it and why, the bootscript it gets, its cloud-init documents, and links
 * to every raw answer shown. Each part is read on its own (a part the token has no scope for says
 * so instead); the timeline follows the log while the view is open.
 */
import { api, apiJson, apiText, MissingScope } from "./api.js";
import { bootsOf, isFailure, STAGE_LABELS } from "./boot-state.js";
import { $, clock, dateTime, duration, html, setHtml } from "./dom.js";

export class NodeView {
  constructor(root, cluster) {
    this.root = root;
    this.cluster = cluster;
    this.id = "";
    this.generation = 0;
  }

  show(id) {
    this.id = id;
    const gen = ++this.generation;
    const enc = encodeURIComponent(id);
    const paths = {
      history: `/boot/v1/endpoint-history?history=true&name=${enc}&limit=2000`,
      component: `/hsm/v2/State/Components/${enc}`,
      interfaces: `/hsm/v2/Inventory/EthernetInterfaces?ComponentID=${enc}`,
      memberships: `/hsm/v2/memberships/${enc}`,
      boot: `/ui/api/nodes/${enc}/boot`,
      params: `/boot/v1/bootparameters?name=${enc}`,
      metaData: `/cloud-init/admin/impersonation/${enc}/meta-data`,
      vendorData: `/cloud-init/admin/impersonation/${enc}/vendor-data`,
    };
    this.paths = paths;
    const node = this.cluster.byId.get(id);
    setHtml(
      this.root,
      html`<p><a href="#/">← Cluster</a></p>
      <h2 id="node-title" tabindex="-1">${id}</h2>
      <p id="node-summary">${node ? "" : "Not a Node in SMD (as the page last read it)."}</p>
      <section aria-labelledby="h-timeline"><h3 id="h-timeline">Boot timeline</h3><div id="n-timeline">loading…</div></section>
      <section aria-labelledby="h-boot"><h3 id="h-boot">Boot parameters and bootscript</h3><div id="n-boot">loading…</div></section>
      <section aria-labelledby="h-smd"><h3 id="h-smd">SMD</h3><div id="n-component">loading…</div><div id="n-interfaces"></div><div id="n-groups"></div></section>
      <section aria-labelledby="h-ci"><h3 id="h-ci">cloud-init</h3><div id="n-cloud-init">loading…</div></section>
      <section aria-labelledby="h-raw"><h3 id="h-raw">Raw API answers</h3>
        <ul>${Object.values(paths).map((p) => html`<li><a href="${rawLink(p)}"><code>GET ${p}</code></a></li>`)}</ul></section>`,
    );
    $("#node-title", this.root).focus();
    this.summary();
    const part = (sel, load) =>
      load().then(
        (markup) => gen === this.generation && setHtml($(sel, this.root), markup),
        (err) => gen === this.generation && setHtml($(sel, this.root), failure(err)),
      );
    part("#n-timeline", () => this.timeline());
    part("#n-boot", () => this.boot());
    part("#n-component", () => this.component());
    part("#n-interfaces", () => this.interfaces());
    part("#n-groups", () => this.groups());
    part("#n-cloud-init", () => this.cloudInit());
  }

  /** The stage line, from what the cluster view knows. */
  summary() {
    const node = this.cluster.byId.get(this.id);
    if (!node) return;
    const s = node.stage;
    const f = node.facts;
    const text = s
      ? `${s.stuck ? `stuck at ${STAGE_LABELS[s.stage]}` : STAGE_LABELS[s.stage]}${f.step ? ` — latest step ${f.step} ${duration(this.cluster.now() - f.at)} ago` : ""}`
      : "";
    setHtml(
      $("#node-summary", this.root),
      html`<i class="n ${s ? `${s.stage}${s.stuck ? " stuck" : ""}` : "none"}" aria-hidden="true"></i> ${text}${
        node.nid >= 0 ? ` · NID ${node.nid}` : ""
      } · ${node.state || "?"} · ${node.role || "no role"}${node.enabled ? "" : " · disabled"}`,
    );
  }

  /** New events of the log arrived: those of this node refresh the timeline and the stage line. */
  onEvents(events) {
    if (this.id && events.some((e) => e.name === this.id)) this.refresh();
  }

  /** Reads the timeline again (the cluster was read again: the log is followed from a new point). */
  refresh() {
    if (!this.id) return;
    const gen = this.generation;
    this.summary();
    this.timeline().then(
      (markup) => gen === this.generation && setHtml($("#n-timeline", this.root), markup),
      () => {},
    );
  }

  async timeline() {
    const events = await apiJson(this.paths.history);
    if (!events.length) return html`<p>No boot step recorded for this node (the log keeps the newest events of the cluster).</p>`;
    events.sort((a, b) => a.epoch_ms - b.epoch_ms || a.id - b.id);
    const boots = bootsOf(events);
    const table = (boot) => {
      let prev = boot.start;
      const rows = boot.steps.map(({ event: e, sinceMs }) => {
        const gap = e.epoch_ms - prev;
        prev = e.epoch_ms;
        return html`<tr class="${isFailure(e.detail) ? "is-failed" : ""}"><td>${clock(e.epoch_ms)}</td><td>${e.endpoint}</td>
          <td class="num">+${(sinceMs / 1000).toFixed(1)} s</td><td class="num">${duration(gap)}</td><td>${e.detail}</td></tr>`;
      });
      return html`<table><caption>Boot of ${dateTime(boot.start)}</caption><thead><tr><th scope="col">time</th><th scope="col">step</th>
        <th scope="col">since firmware DHCP</th><th scope="col">after previous</th><th scope="col">detail</th></tr></thead><tbody>${rows}</tbody></table>`;
    };
    const [latest, ...older] = boots;
    return html`${table(latest)}${
      older.length
        ? html`<details><summary>${older.length} earlier boot${older.length === 1 ? "" : "s"}</summary>${older.map(table)}</details>`
        : ""
    }`;
  }

  async boot() {
    const b = await apiJson(this.paths.boot, { scope: "bss:read" });
    if (!b.node) return html`<p>SMD has no Node component ${this.id}: it boots nothing.</p>`;
    const asked = b.asked.mac ? `mac=${b.asked.mac}` : `name=${b.asked.name}`;
    const rows = b.candidates.map(
      (c) => html`<tr class="${c.wins ? "wins" : ""}"><td>${c.wins ? "wins" : ""}</td><td>${c.kind}</td><td><code>${c.key}</code></td>
        <td><code>${c.kernel}</code></td><td><code>${c.initrd}</code></td><td><code>${c.params}</code></td></tr>`,
    );
    const why = b.matched_by
      ? html`<p>It boots the entry of its <strong>${b.matched_by}</strong> (${b.candidates.find((c) => c.wins)?.key}): the most specific of the ${
          b.candidates.length
        } that name it (xname, then the MAC it boots from and its other MACs, NID, role, Default).</p>`
      : html`<p><strong>Nothing to boot:</strong> ${b.reason}</p>`;
    return html`${why}
      ${rows.length ? html`<table><caption>Entries that name this node, most specific first</caption><thead><tr><th scope="col">winner</th><th scope="col">by</th><th scope="col">key</th><th scope="col">kernel</th><th scope="col">initrd</th><th scope="col">params</th></tr></thead><tbody>${rows}</tbody></table>` : ""}
      ${b.command_line ? html`<p>Kernel command line:</p><pre>${b.command_line}</pre>` : ""}
      <p>The script <code>GET /boot/v1/bootscript?${asked}</code> answers now (shown here without recording a boot step):</p>
      <pre id="n-script">${b.script}</pre>`;
  }

  async component() {
    const c = await apiJson(this.paths.component, { scope: "smd:read" });
    const rows = Object.entries(c).map(
      ([k, v]) => html`<tr><th scope="row">${k}</th><td>${typeof v === "object" ? JSON.stringify(v) : String(v)}</td></tr>`,
    );
    return html`<table><caption>Component</caption><tbody>${rows}</tbody></table>`;
  }

  async interfaces() {
    const list = await apiJson(this.paths.interfaces, { scope: "smd:read" });
    if (!list.length) return html`<p>No EthernetInterface in SMD names this node: DHCP and cloud-init cannot know it.</p>`;
    const rows = list.map(
      (i) =>
        html`<tr><td><code>${i.MACAddress}</code></td><td>${(i.IPAddresses ?? []).map((a) => `${a.IPAddress}${a.Network ? ` (${a.Network})` : ""}`).join(", ")}</td><td>${i.Description ?? ""}</td><td>${i.LastUpdate ?? ""}</td></tr>`,
    );
    return html`<table><caption>Interfaces</caption><thead><tr><th scope="col">MAC</th><th scope="col">IP addresses</th><th scope="col">description</th><th scope="col">last update</th></tr></thead><tbody>${rows}</tbody></table>`;
  }

  async groups() {
    const m = await apiJson(this.paths.memberships, { scope: "smd:read" });
    const labels = m.groupLabels ?? [];
    return html`<p>Groups: ${labels.length ? labels.join(", ") : "none"}${m.partitionName ? ` · partition ${m.partitionName}` : ""}</p>`;
  }

  async cloudInit() {
    const [meta, vendor] = await Promise.all([
      apiText(this.paths.metaData, { scope: "cloud-init:read" }),
      apiText(this.paths.vendorData, { scope: "cloud-init:read" }),
    ]);
    const groups = vendor
      .split("\n")
      .map((l) => /\/([^/]+)\.yaml$/.exec(l.trim())?.[1])
      .filter(Boolean);
    const files = await Promise.all(
      groups.map(async (g) => {
        const path = `/cloud-init/admin/impersonation/${encodeURIComponent(this.id)}/${encodeURIComponent(g)}.yaml`;
        const text = await apiText(path, { scope: "cloud-init:read" }).catch((err) => `(${err.message})`);
        return html`<h4>Group ${g} <a href="${rawLink(path)}">raw</a></h4><pre>${text}</pre>`;
      }),
    );
    return html`<h4>meta-data</h4><pre id="n-meta-data">${meta}</pre><h4>vendor-data</h4><pre id="n-vendor-data">${vendor}</pre>${files}`;
  }
}

/** The page's own view of a raw answer: fetched with the token, which a plain link would not send. */
export function rawLink(path) {
  return `#/raw/${encodeURIComponent(path)}`;
}

export async function showRaw(root, path) {
  setHtml(
    root,
    html`<p><a href="#/">← Cluster</a></p><h2 id="raw-title" tabindex="-1">GET <code>${path}</code></h2><div id="raw-body">loading…</div>`,
  );
  $("#raw-title", root).focus();
  const curl = `curl -H "Authorization: Bearer $TOKEN" '${location.origin}${path}'`;
  try {
    const res = await api(path);
    const type = res.headers.get("content-type") ?? "";
    let body = await res.text();
    if (type.includes("json")) body = JSON.stringify(JSON.parse(body), null, 2);
    setHtml($("#raw-body", root), html`<p>${res.status} · ${type}</p><pre>${body}</pre><p>The same from a shell:</p><pre>${curl}</pre>`);
  } catch (err) {
    setHtml($("#raw-body", root), html`${failure(err)}<p>The same from a shell:</p><pre>${curl}</pre>`);
  }
}

/** What a part shows when it cannot be read: the scope it needs, or the API's answer. */
export function failure(err) {
  if (err instanceof MissingScope)
    return html`<p class="needs">Needs scope <code>${err.scope}</code>: log in with a client that has it.</p>`;
  return html`<p class="error">${err.message}</p>`;
}
