/**
 * The cluster view: every node laid out by location (cabinet → chassis → slot → node), coloured by
 * its boot stage, filtered and searched; a legend that counts (and picks) stages; and a table of
 * the selected nodes, the ones needing attention first.
 *
 * Built for 100,000 nodes: the map is one string of small elements set at once (a filter change
 * re-renders it), offscreen cabinets skip layout (`content-visibility`), and a live update only
 * rewrites the class of the cells whose stage changed. One cell is focusable at a time (roving
 * tabindex); it gets its accessible name when it gets focus.
 */
import { STAGE_LABELS, STAGES } from "./boot-state.js";
import { $, duration, esc, html, macDigits, setHtml } from "./dom.js";

const TABLE_ROWS = 200;
const LEGEND = ["none", ...STAGES];
const STAGE_RANK = Object.fromEntries(LEGEND.map((s, i) => [s, i]));

export class ClusterView {
  /** `open(xname)` shows a node. */
  constructor(root, cluster, open) {
    this.root = root;
    this.cluster = cluster;
    this.open = open;
    this.filters = { q: "", group: "", state: "", role: "", stage: "" };
    this.stuckMs = 300_000;
    /** Nodes passing the filters (search, group, state, role), in map order. */
    this.selection = [];
    /** The focusable cell (an index into `selection`) and each cell's chassis row. */
    this.focusAt = 0;
    this.rowOf = new Int32Array(0);
    this.rowStarts = [];
    this.cabinetStarts = [];
    this.tableKey = "";
    this.wire();
  }

  wire() {
    const r = this.root;
    let timer = 0;
    $("#q", r).addEventListener("input", (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => this.setFilter("q", e.target.value.trim()), 150);
    });
    for (const f of ["group", "state", "role"]) $(`#f-${f}`, r).addEventListener("change", (e) => this.setFilter(f, e.target.value));
    $("#f-stuck", r).addEventListener("change", (e) => {
      const s = Number(e.target.value);
      if (Number.isFinite(s) && s >= 1) this.stuckMs = s * 1000;
      this.refresh();
    });
    $("#filters", r).addEventListener("submit", (e) => e.preventDefault());
    $("#legend", r).addEventListener("click", (e) => {
      const b = e.target.closest("button[data-stage]");
      if (!b) return;
      this.filters.stage = this.filters.stage === b.dataset.stage ? "" : b.dataset.stage;
      this.refresh();
    });
    const map = $("#map", r);
    map.addEventListener("keydown", (e) => this.onKey(e));
    map.addEventListener("click", (e) => {
      const k = this.cellIndex(e.target);
      if (k >= 0) this.open(this.selection[k].id);
    });
    map.addEventListener("mouseover", (e) => {
      const k = this.cellIndex(e.target);
      if (k >= 0) e.target.title = this.describe(this.selection[k]);
    });
  }

  /** Shows nothing (a logout): the next render starts afresh. */
  clear() {
    this.selection = [];
    this.focusAt = 0;
    this.tableKey = "";
    for (const id of ["#map", "#table", "#legend", "#counts"]) setHtml($(id, this.root), "");
    $("#legend", this.root).dataset.key = "";
  }

  setFilter(name, value) {
    if (this.filters[name] === value) return;
    this.filters[name] = value;
    this.render();
  }

  /** The filter choices SMD offers (after the inventory loads or changes). */
  fillChoices() {
    const c = this.cluster;
    const fill = (id, values, extra = "") => {
      const sel = $(id, this.root);
      const current = sel.value;
      setHtml(sel, html`<option value="">all${extra}</option>${values.map((v) => html`<option>${v}</option>`)}`);
      sel.value = values.includes(current) ? current : "";
    };
    fill("#f-state", c.valuesOf("state"));
    fill("#f-role", c.valuesOf("role"));
    fill("#f-group", [...c.groups.keys()].sort());
  }

  matches(n) {
    const f = this.filters;
    if (f.state && n.state !== f.state) return false;
    if (f.role && n.role !== f.role) return false;
    if (f.group && !this.cluster.groups.get(f.group)?.has(n.id)) return false;
    if (f.q) {
      const q = f.q.toLowerCase();
      const digits = macDigits(q);
      const hit =
        n.id.toLowerCase().includes(q) ||
        String(n.nid) === q ||
        (digits.length >= 4 && /^[0-9a-f:.-]+$/.test(q) && n.macs.includes(digits)) ||
        n.ips.split(" ").some((ip) => ip !== "" && ip.startsWith(q));
      if (!hit) return false;
    }
    return true;
  }

  /** Re-lays the map out for the current filters, then refreshes it. */
  render() {
    const t0 = performance.now();
    for (const n of this.cluster.nodes) n.view = undefined;
    this.selection = this.cluster.nodes.filter((n) => this.matches(n));
    // Stages first: the squares are born with their class, the legend and table follow.
    this.refresh();
    const map = $("#map", this.root);
    map.innerHTML = this.mapHtml(this.selection);
    const cells = map.getElementsByClassName("n");
    for (let k = 0; k < this.selection.length; k++) this.selection[k].view = cells[k];
    this.focusAt = Math.min(this.focusAt, Math.max(0, this.selection.length - 1));
    if (this.selection.length) this.makeFocusable(this.focusAt);
    $("#map-empty", this.root).hidden = this.selection.length > 0;
    performance.measure("ui:render", { start: t0, end: performance.now(), detail: { nodes: this.selection.length } });
  }

  /** Cabinets → chassis rows → slots → cells, and for the keyboard each cell's row. */
  mapHtml(list) {
    const parts = [];
    this.rowOf = new Int32Array(list.length);
    this.rowStarts = [];
    this.cabinetStarts = [];
    let k = 0;
    while (k < list.length) {
      const loc = list[k].loc;
      const cabinetEnd = this.runEnd(list, k, (n) => (loc ? n.loc?.cabinet === loc.cabinet : !n.loc));
      const title = loc ? `x${loc.cabinet}` : "other names";
      const count = cabinetEnd - k;
      parts.push(
        `<section class="cab" aria-label="${esc(`cabinet ${title}, ${count} nodes`)}"><h3>${esc(title)} <small>${count} node${count === 1 ? "" : "s"}</small></h3>`,
      );
      this.cabinetStarts.push(k);
      while (k < cabinetEnd) {
        const c = list[k].loc;
        const rowEnd = c ? this.runEnd(list, k, (n) => n.loc.chassis === c.chassis, cabinetEnd) : cabinetEnd;
        const row = this.rowStarts.length;
        this.rowStarts.push(k);
        parts.push(`<div class="ch"><span class="lbl">${c ? `c${c.chassis}` : ""}</span>`);
        while (k < rowEnd) {
          const s = list[k].loc;
          const slotEnd = s ? this.runEnd(list, k, (n) => n.loc.slot === s.slot, rowEnd) : rowEnd;
          parts.push(`<span class="sl" data-slot="${s ? `s${s.slot}` : ""}">`);
          for (; k < slotEnd; k++) {
            this.rowOf[k] = row;
            parts.push(`<i class="${list[k].cls}" data-k="${k}"></i>`);
          }
          parts.push("</span>");
        }
        parts.push("</div>");
      }
      parts.push("</section>");
    }
    return parts.join("");
  }

  /** The end of the run of `list` from `from` whose nodes satisfy `same`. */
  runEnd(list, from, same, limit = list.length) {
    let k = from + 1;
    while (k < limit && same(list[k])) k++;
    return k;
  }

  cellIndex(el) {
    return el instanceof Element && el.classList.contains("n") ? Number(el.dataset.k) : -1;
  }

  /**
   * Brings every shown square, the legend and the table up to date with the nodes' facts and the
   * clock (a node becomes stuck with no event at all). Rewrites only the squares that changed
   * (before the map is laid out, it only computes their classes).
   */
  refresh() {
    const counts = Object.fromEntries(LEGEND.map((s) => [s, 0]));
    const stuckAt = Object.fromEntries(LEGEND.map((s) => [s, 0]));
    let stuck = 0;
    // What the table lists, the ones needing attention first: the stuck, then each stage in
    // boot order (nodes in map order within one), without sorting every node.
    const stuckNodes = [];
    const byStage = LEGEND.map(() => []);
    for (const n of this.selection) {
      const cls = this.squareClass(n);
      const s = n.stage;
      counts[s.stage]++;
      if (s.stuck) {
        stuck++;
        stuckAt[s.stage]++;
      }
      if (n.picked) (s.stuck ? stuckNodes : byStage[STAGE_RANK[s.stage]]).push(n);
      if (n.cls !== cls) {
        n.cls = cls;
        if (n.view) n.view.className = cls;
      }
    }
    // The focusable square says what it shows now.
    const focusable = this.selection[this.focusAt];
    focusable?.view?.setAttribute("aria-label", this.describe(focusable));
    this.renderLegend(counts, stuck, stuckAt);
    // Stuck longest first.
    stuckNodes.sort((a, b) => a.facts.at - b.facts.at);
    const top = stuckNodes.slice(0, TABLE_ROWS);
    for (const list of byStage) {
      if (top.length >= TABLE_ROWS) break;
      top.push(...list.slice(0, TABLE_ROWS - top.length));
    }
    this.renderTable(top, stuckNodes.length + byStage.reduce((sum, l) => sum + l.length, 0));
  }

  /** The node's stage now (kept in `n.stage`), whether the legend's pick includes it (`n.picked`), and its square's class. */
  squareClass(n) {
    const s = this.cluster.classify(n, this.stuckMs);
    const wanted = this.filters.stage;
    n.stage = s;
    n.picked = !wanted || (wanted === "stuck" ? s.stuck : s.stage === wanted);
    return `n ${s.stage}${s.stuck ? " stuck" : ""}${s.failed ? " failed" : ""}${n.picked ? "" : " dim"}`;
  }

  renderLegend(counts, stuck, stuckAt) {
    const wanted = this.filters.stage;
    const button = (stage, count, note = "") =>
      html`<button type="button" data-stage="${stage}" aria-pressed="${wanted === stage}"><i class="n ${stage}${stage === "stuck" ? " dhcp" : ""}" aria-hidden="true"></i>${STAGE_LABELS[stage]} <b>${count}</b>${note}</button>`;
    const where = LEGEND.filter((s) => stuckAt[s]).map((s) => `${STAGE_LABELS[s]} ${stuckAt[s]}`);
    const legend = html`${LEGEND.map((s) => button(s, counts[s]))}${button("stuck", stuck, where.length ? html` <small>(${where.join(", ")})</small>` : "")}`;
    const el = $("#legend", this.root);
    if (el.dataset.key !== legend.text) {
      // Keep keyboard focus on the button that had it.
      const focused = el.contains(document.activeElement) ? document.activeElement.dataset.stage : undefined;
      el.dataset.key = legend.text;
      setHtml(el, legend);
      if (focused) $(`button[data-stage="${focused}"]`, el)?.focus();
    }
    $("#counts", this.root).textContent =
      `${this.selection.length} of ${this.cluster.nodes.length} nodes shown; stuck means no step for ${duration(this.stuckMs)}`;
  }

  /** The selected nodes, the ones needing attention first: stuck (longest first), then the earliest stage. */
  /** `top`: the first rows, in order; `total`: how many nodes the table stands for. */
  renderTable(top, total) {
    const now = this.cluster.now();
    // Ages change every second: redraw only when what is listed changed, or every 10 s.
    const key = `${total}|${top.map((n) => n.id + n.cls + n.facts.at).join()}|${Math.floor(now / 10_000)}`;
    if (key === this.tableKey) return;
    this.tableKey = key;
    const rows = top.map(
      (n) => html`<tr class="${n.stage.stuck ? "is-stuck" : ""}">
        <td><a href="#/node/${n.id}">${n.id}</a></td><td>${n.nid >= 0 ? n.nid : ""}</td>
        <td><i class="n ${n.cls.slice(2).replace(" dim", "")}" aria-hidden="true"></i> ${stageText(n.stage)}</td>
        <td>${n.facts.step || "—"}</td><td>${n.facts.at ? `${duration(now - n.facts.at)} ago` : ""}</td><td>${n.facts.detail}</td></tr>`,
    );
    const more = total > top.length ? html`<p>and ${total - top.length} more (narrow the filters to list them)</p>` : "";
    setHtml(
      $("#table", this.root),
      total
        ? html`<table><thead><tr><th scope="col">node</th><th scope="col">NID</th><th scope="col">stage</th><th scope="col">latest step</th><th scope="col">when</th><th scope="col">detail</th></tr></thead><tbody>${rows}</tbody></table>${more}`
        : html`<p>No node matches.</p>`,
    );
  }

  describe(n) {
    const s = n.stage ?? this.cluster.classify(n, this.stuckMs);
    const f = n.facts;
    const when = f.at ? `, ${duration(this.cluster.now() - f.at)} ago` : "";
    return `${n.id}${n.nid >= 0 ? ` (NID ${n.nid})` : ""}: ${stageText(s)}${f.step ? ` — ${f.step}${when}` : ""}${f.detail ? `: ${f.detail}` : ""}`;
  }

  // ------------------------------------------------------------------------ keyboard

  makeFocusable(k) {
    const old = this.selection[this.focusAt]?.view;
    if (old) {
      old.removeAttribute("tabindex");
      old.removeAttribute("role");
      old.removeAttribute("aria-label");
    }
    this.focusAt = k;
    const el = this.selection[k].view;
    el.tabIndex = 0;
    el.setAttribute("role", "link");
    el.setAttribute("aria-label", this.describe(this.selection[k]));
    return el;
  }

  /** Arrows move between nodes (up and down by chassis row), Home/End, PageUp/PageDown by cabinet, Enter opens. */
  onKey(e) {
    const k = this.cellIndex(e.target);
    if (k < 0) return;
    const last = this.selection.length - 1;
    const row = this.rowOf[k];
    const rowEnd = (r) => (r + 1 < this.rowStarts.length ? this.rowStarts[r + 1] : this.selection.length) - 1;
    const inRow = (r) => Math.min(this.rowStarts[r] + (k - this.rowStarts[row]), rowEnd(r));
    const cabinet = this.cabinetStarts.findLastIndex((s) => s <= k);
    let to;
    switch (e.key) {
      case "ArrowRight":
        to = Math.min(k + 1, last);
        break;
      case "ArrowLeft":
        to = Math.max(k - 1, 0);
        break;
      case "ArrowDown":
        to = row + 1 < this.rowStarts.length ? inRow(row + 1) : k;
        break;
      case "ArrowUp":
        to = row > 0 ? inRow(row - 1) : k;
        break;
      case "Home":
        to = 0;
        break;
      case "End":
        to = last;
        break;
      case "PageDown":
        to = this.cabinetStarts[cabinet + 1] ?? k;
        break;
      case "PageUp": {
        // To the start of this cabinet, or of the one before when already there.
        const c = this.cabinetStarts[cabinet] === k ? cabinet - 1 : cabinet;
        to = this.cabinetStarts[Math.max(0, c)];
        break;
      }
      case "Enter":
      case " ":
        e.preventDefault();
        this.open(this.selection[k].id);
        return;
      default:
        return;
    }
    e.preventDefault();
    this.makeFocusable(to).focus();
  }
}

function stageText(s) {
  const label = STAGE_LABELS[s.stage];
  if (s.stuck) return `stuck at ${label}${s.failed ? " (failed)" : ""}`;
  return s.failed ? `${label} (failed)` : label;
}
