/**
 * Requesters no node in SMD had when they asked: the MACs DHCP answered from the bootloop pool
 * (and addresses that fetched cloud-init documents), when and where they were seen, and the
 * commands that add one to SMD so that it boots on its next round.
 */
import { apiJson } from "./api.js";
import { $, dateTime, duration, html, setHtml } from "./dom.js";
import { failure } from "./node.js";

export class UnknownView {
  constructor(root, cluster) {
    this.root = root;
    this.cluster = cluster;
    this.visible = false;
    this.loading = undefined;
    root.addEventListener("input", (e) => {
      const row = e.target.closest("[data-mac]");
      if (row) this.updateCommand(row);
    });
  }

  show() {
    this.visible = true;
    setHtml(
      this.root,
      html`<h2 id="unknown-title" tabindex="-1">Unknown MACs</h2>
      <p>Requesters no node in SMD had when they asked, newest first: DHCP answers an unknown MAC from the bootloop pool with a
      script that reboots it, until it is added to SMD (the interface names the node, then its next DHCP boots it).</p>
      <div id="unknown-list" aria-live="polite">loading…</div>`,
    );
    $("#unknown-title", this.root).focus();
    return this.reload();
  }

  hide() {
    this.visible = false;
  }

  /** Reads the list again (the log saw an unknown requester); one read at a time. */
  reload() {
    if (!this.visible) return Promise.resolve();
    this.loading ??= apiJson("/ui/api/unknown", { scope: "bss:read" })
      .then(
        (list) => this.visible && this.render(list),
        (err) => this.visible && setHtml($("#unknown-list", this.root), failure(err)),
      )
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  render(list) {
    const el = $("#unknown-list", this.root);
    if (!list.length) return setHtml(el, html`<p>None: every requester the boot history saw is in SMD.</p>`);
    // Keep what the admin typed into the add forms across a refresh.
    const fields = [".x", ".nid", ".ip"];
    const typed = new Map(
      [...el.querySelectorAll("[data-mac]")].map((r) => [r.dataset.mac, { open: r.open, values: fields.map((f) => $(f, r).value) }]),
    );
    const now = this.cluster.now();
    const rows = list.map((u) => {
      const who = u.mac ? html`<code>${u.mac}</code>` : html`address only`;
      const add = u.known_as
        ? html`in SMD now as <a href="#/node/${u.known_as}">${u.known_as}</a>: boots on its next DHCP`
        : u.mac
          ? html`<details data-mac="${u.mac}"><summary>add to SMD</summary>
              <label>xname <input class="x" autocomplete="off" placeholder="x1000c0s0b0n0"></label>
              <label>NID <input class="nid" inputmode="numeric" autocomplete="off" placeholder="1"></label>
              <label>its address <input class="ip" autocomplete="off" placeholder="optional"></label>
              <pre class="cmd"></pre></details>`
          : "";
      return html`<tr><td>${who}</td><td>${u.ip}</td><td>${dateTime(u.first_ms)}</td><td>${duration(now - u.last_ms)} ago</td>
        <td class="num">${u.events}</td><td>${u.steps.join(", ")}</td><td>${u.endpoint}: ${u.detail}</td><td>${add}</td></tr>`;
    });
    setHtml(
      el,
      html`<table><caption>${list.length} requester${list.length === 1 ? "" : "s"}</caption><thead><tr><th scope="col">MAC</th><th scope="col">address (bootloop pool)</th>
        <th scope="col">first seen</th><th scope="col">last seen</th><th scope="col">events</th><th scope="col">steps</th><th scope="col">latest</th>
        <th scope="col">to boot it</th></tr></thead><tbody>${rows}</tbody></table>`,
    );
    for (const row of el.querySelectorAll("[data-mac]")) {
      const kept = typed.get(row.dataset.mac);
      if (kept) {
        row.open = kept.open;
        for (const [i, f] of fields.entries()) $(f, row).value = kept.values[i];
      }
      this.updateCommand(row);
    }
  }

  /** The commands, with what the admin typed (or placeholders). */
  updateCommand(row) {
    const x = $(".x", row).value.trim() || "<xname>";
    const nid = $(".nid", row).value.trim() || "<nid>";
    // The bootloop address is the pool's, lent for a few minutes: the node's own address is the admin's choice.
    const ip = $(".ip", row).value.trim() ? ` ${$(".ip", row).value.trim()}` : "";
    $(".cmd", row).textContent = `ochami smd component add ${x} ${nid}\nochami smd iface add ${x} ${row.dataset.mac}${ip}`;
  }
}
