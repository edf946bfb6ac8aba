/**
 * The dashboard's entry: login, the views (by the URL's #fragment), loading the cluster and
 * following the boot history.
 *
 * Live updates poll the history's log (`GET /boot/v1/endpoint-history?history=true&after_id=…`)
 * every 2 s, as `ochami bss history --follow` does, rather than a server-sent event stream: D1
 * tells nobody about new rows, so a stream would run the same query in a loop inside the worker
 * for every open page, holding a request open per viewer; EventSource cannot send the token
 * (an Authorization header) either. A poll costs one indexed read of what is new (`id > cursor`)
 * and survives restarts of either side with no reconnection logic.
 */
import { ApiError, apiJson, hasScope, loginWithClient, logout, MissingScope, onSessionChange, sessionInfo, useToken } from "./api.js";
import { ClusterView } from "./cluster.js";
import { $, duration, html, setHtml } from "./dom.js";
import { Cluster } from "./model.js";
import { failure, NodeView, showRaw } from "./node.js";
import { UnknownView } from "./unknown.js";

const POLL_MS = 2000;
/** Stuck is a matter of time: the views are re-checked this often even when nothing happens. */
const TICK_MS = 5000;
const LOG_LIMIT = 10_000;
/** A name the log mentions that SMD did not list: read the inventory again, at most this often. */
const INVENTORY_RELOAD_MS = 10_000;

const cluster = new Cluster();
const sections = ["login", "cluster", "node", "unknown", "raw"].map((id) => $(`#${id}`));
const clusterView = new ClusterView($("#cluster"), cluster, openNode);
const nodeView = new NodeView($("#node"), cluster);
const unknownView = new UnknownView($("#unknown"), cluster);
const live = { timer: 0, ticker: 0, lastPoll: 0, error: "", events: [], generation: 0, inventoryAt: 0 };

function openNode(id) {
  location.hash = `#/node/${encodeURIComponent(id)}`;
}

// ---------------------------------------------------------------------------- login

$("#login-client").addEventListener("submit", async (e) => {
  e.preventDefault();
  const f = e.target;
  await attempt(() => loginWithClient(f.client_id.value.trim(), f.client_secret.value, f.scope.value.trim()));
  f.client_secret.value = "";
});

$("#login-token").addEventListener("submit", async (e) => {
  e.preventDefault();
  await attempt(() => useToken(e.target.token.value));
  e.target.token.value = "";
});

$("#logout").addEventListener("click", () => logout("logout"));

async function attempt(login) {
  const msg = $("#login-message");
  msg.textContent = "";
  try {
    await login();
  } catch (err) {
    msg.textContent = err instanceof ApiError ? `The token endpoint refused: ${err.detail}` : err.message;
  }
}

const LOGOUT_REASONS = {
  logout: "Logged out.",
  expired: "The token expired: log in again.",
  rejected: "The token endpoint no longer accepts these credentials (revoked?): log in again.",
};

onSessionChange((s, reason) => {
  renderSession();
  if (reason === "login") {
    void start();
  } else if (!s.loggedIn) {
    stop();
    $("#login-message").textContent = LOGOUT_REASONS[reason] ?? "";
    route();
  }
});

function renderSession() {
  const s = sessionInfo();
  $("#logout").hidden = !s.loggedIn;
  if (!s.loggedIn) return setHtml($("#who"), "");
  const left = s.expiresAt ? s.expiresAt - Date.now() : 0;
  const expiry = !s.expiresAt ? "" : s.renews ? `renewed before it expires (in ${duration(left)})` : `expires in ${duration(left)}`;
  setHtml($("#who"), html`${s.who} · scopes <code>${s.scopes.join(" ") || "none"}</code>${expiry ? ` · ${expiry}` : ""}`);
}

// ---------------------------------------------------------------------------- views

window.addEventListener("hashchange", route);

function route() {
  const hash = location.hash.replace(/^#\/?/, "");
  const loggedIn = sessionInfo().loggedIn;
  const [view, ...rest] = hash.split("/");
  const arg = decodeURIComponent(rest.join("/"));
  const show = (id) => {
    for (const s of sections) s.hidden = s.id !== id;
  };
  if (view !== "unknown") unknownView.hide();
  if (!loggedIn) {
    show("login");
    return;
  }
  for (const a of document.querySelectorAll("nav a")) a.removeAttribute("aria-current");
  if (view === "node" && arg) {
    show("node");
    nodeView.show(arg);
  } else if (view === "unknown") {
    show("unknown");
    document.querySelector('nav a[href="#/unknown"]').setAttribute("aria-current", "page");
    void unknownView.show();
  } else if (view === "raw" && arg) {
    show("raw");
    nodeView.id = "";
    void showRaw($("#raw"), arg);
  } else {
    show("cluster");
    nodeView.id = "";
    document.querySelector('nav a[href="#/"]').setAttribute("aria-current", "page");
  }
}

// ---------------------------------------------------------------------------- data

async function start() {
  stop();
  const gen = ++live.generation;
  route();
  await loadCluster(gen);
  if (gen !== live.generation) return;
  live.ticker = setInterval(tick, TICK_MS);
  schedulePoll(gen, 0);
}

/** Forgets everything read with the token that was (a new login reads again). */
function stop() {
  live.generation++;
  clearTimeout(live.timer);
  clearInterval(live.ticker);
  cluster.clear();
  clusterView.clear();
  nodeView.id = "";
  unknownView.hide();
  for (const id of ["#node", "#unknown", "#raw", "#scope-notes"]) setHtml($(id), "");
  setHtml($("#status"), "");
  Object.assign(live, { lastPoll: 0, error: "", events: [] });
}

/**
 * SMD's nodes, interfaces and groups, and every node's boot facts, then the map. First render:
 * from asking to the first frame that shows the map (`ui:first-render`, performance measures).
 */
async function loadCluster(gen) {
  const t0 = performance.now();
  const notes = [];
  if (!hasScope("smd:read")) notes.push(html`<p class="needs">The nodes come from SMD: needs scope <code>smd:read</code>.</p>`);
  if (!hasScope("bss:read"))
    notes.push(
      html`<p class="needs">Boot stages come from the boot history: needs scope <code>bss:read</code>; every node shows as "no boot seen".</p>`,
    );
  setHtml($("#scope-notes"), html`${notes}`);
  setHtml($("#status"), "Loading the cluster…");
  const soft = (p) => p.catch((err) => (err instanceof MissingScope ? undefined : Promise.reject(err)));
  // All four asked at once; the map needs only the first two, the group filter and the search
  // by MAC or IP the others, which follow it.
  const later = [
    soft(apiJson("/hsm/v2/groups", { scope: "smd:read" })),
    soft(apiJson("/hsm/v2/Inventory/EthernetInterfaces", { scope: "smd:read" })),
  ];
  for (const p of later) p.catch(() => {}); // awaited below, unless the map fails first
  try {
    const [components, boots] = await Promise.all([
      soft(apiJson("/hsm/v2/State/Components?type=Node", { scope: "smd:read" })),
      soft(apiJson("/ui/api/boots", { scope: "bss:read" })),
    ]);
    if (gen !== live.generation) return;
    const t1 = performance.now();
    if (boots) cluster.setBoots(boots);
    cluster.setComponents(components?.Components ?? []);
    live.inventoryAt = Date.now();
    clusterView.fillChoices();
    const tModel = performance.now();
    clusterView.render();
    const tDom = performance.now();
    await nextFrame();
    const t2 = performance.now();
    // Asking and parsing; the page's model of the cluster; the map's elements; layout and paint.
    const detail = { nodes: cluster.nodes.length, fetchMs: t1 - t0, modelMs: tModel - t1, domMs: tDom - tModel, frameMs: t2 - tDom };
    performance.measure("ui:first-render", { start: t0, end: t2, detail });
    setHtml($("#status"), html`${cluster.nodes.length} nodes loaded in ${duration(t2 - t0)}.`);
    // A node shown meanwhile read its timeline before the log's new starting point.
    if (!$("#node").hidden) nodeView.refresh();
    const [groups, interfaces] = await Promise.all(later);
    if (gen !== live.generation) return;
    cluster.setGroups(groups ?? []);
    cluster.setInterfaces(interfaces ?? []);
    clusterView.fillChoices();
    // A search typed meanwhile looks again, now with the MACs and addresses.
    if (clusterView.filters.q) clusterView.render();
  } catch (err) {
    setHtml($("#status"), failure(err));
  }
}

/** Resolves after the browser has laid out and painted what was just set. */
function nextFrame() {
  return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
}

function schedulePoll(gen, ms) {
  clearTimeout(live.timer);
  live.timer = setTimeout(() => void poll(gen), ms);
}

/**
 * New events of the log, folded into the nodes' facts; the views follow. Update cost: from the
 * answer to the next painted frame (`ui:update`).
 */
async function poll(gen) {
  if (!hasScope("bss:read")) return;
  let more = false;
  try {
    const events = await apiJson(`/boot/v1/endpoint-history?history=true&after_id=${cluster.cursor}&limit=${LOG_LIMIT}`, {
      scope: "bss:read",
    });
    if (gen !== live.generation) return;
    live.error = "";
    live.lastPoll = Date.now();
    // A full answer holds the newest events: when it does not start right after the cursor, some
    // were left out, and the facts are read whole instead. Otherwise more may follow at once.
    more = events.length >= LOG_LIMIT;
    if (more && events[0].id !== cluster.cursor + 1) {
      more = false;
      await measured(events.length, async () => {
        await reloadBoots(gen);
        return { resync: true };
      });
    } else if (events.length) {
      await measured(events.length, () => {
        const { changed, unknownSeen } = cluster.applyEvents(events);
        clusterView.refresh();
        nodeView.onEvents(events);
        if (unknownSeen) void unknownView.reload();
        return { changed: changed.size };
      });
      live.events.push(...events.map((e) => e.epoch_ms));
      if (cluster.unlisted.size && Date.now() - live.inventoryAt > INVENTORY_RELOAD_MS) await loadCluster(gen);
    }
  } catch (err) {
    if (gen !== live.generation) return;
    live.error = err.message;
  }
  renderStatus();
  if (gen === live.generation) schedulePoll(gen, more ? 0 : POLL_MS);
}

/** Runs an update of the views, then measures it up to the next painted frame (`ui:update`). */
async function measured(events, update) {
  const t0 = performance.now();
  const extra = await update();
  const tScript = performance.now();
  await nextFrame();
  const end = performance.now();
  performance.measure("ui:update", { start: t0, end, detail: { events, scriptMs: tScript - t0, frameMs: end - tScript, ...extra } });
}

async function reloadBoots(gen) {
  const boots = await apiJson("/ui/api/boots", { scope: "bss:read" });
  if (gen !== live.generation) return;
  cluster.setBoots(boots);
  clusterView.refresh();
}

function tick() {
  renderSession();
  // Also while a node is shown: its stage line reads what this finds (stuck comes with time alone).
  clusterView.refresh();
  if (!$("#node").hidden) nodeView.summary();
  renderStatus();
}

function renderStatus() {
  const minuteAgo = Date.now() + cluster.clockSkew - 60_000;
  live.events = live.events.filter((t) => t >= minuteAgo);
  const ago = live.lastPoll ? `${duration(Date.now() - live.lastPoll)} ago` : "not yet";
  setHtml(
    $("#status"),
    live.error
      ? html`<span class="error">Boot history unreachable: ${live.error} (retrying every ${POLL_MS / 1000} s)</span>`
      : html`Live: boot history read ${ago}, every ${POLL_MS / 1000} s · ${live.events.length} steps in the last minute · ${cluster.nodes.length} nodes`,
  );
}

// Keyboard: "/" jumps to the search box, as on many sites.
document.addEventListener("keydown", (e) => {
  if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement) return;
  if ($("#cluster").hidden) return;
  e.preventDefault();
  $("#q").focus();
});

route();
renderSession();
