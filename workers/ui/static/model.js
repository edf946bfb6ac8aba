/**
 * The cluster as the page knows it: SMD's nodes (components, interfaces, groups) and each node's
 * boot facts (boot-state.js), kept up to date from the boot history's log. Views read it; only
 * app.js loads it.
 */
import { applyEvent, classify, emptyFacts, factsFromRow } from "./boot-state.js";
import { macDigits } from "./dom.js";

const XNAME_NODE = /^x(\d+)c(\d+)s(\d+)b(\d+)n(\d+)$/;

export class Cluster {
  constructor() {
    this.clear();
  }

  /** Forgets everything (a logout). */
  clear() {
    /** Nodes sorted by location; each `{id, nid, state, role, enabled, loc, facts, macs, ips, groups, view}`. */
    this.nodes = [];
    this.byId = new Map();
    /** Group label → Set of member xnames. */
    this.groups = new Map();
    /** The log's cursor: the newest event id folded in. */
    this.cursor = 0;
    /** Server clock minus this page's clock (stuck is measured on the server's clock). */
    this.clockSkew = 0;
    /** Facts by node name, as GET /ui/api/boots last gave them. */
    this.boots = undefined;
    /** Names the log mentioned that SMD did not list when it was read: the inventory changed. */
    this.unlisted = new Set();
  }

  now() {
    return Date.now() + this.clockSkew;
  }

  /** SMD's Node components (GET /hsm/v2/State/Components?type=Node), keeping what is known of each. */
  setComponents(components) {
    const old = this.byId;
    this.byId = new Map();
    for (const c of components) {
      if (c.Type && c.Type !== "Node") continue;
      const prev = old.get(c.ID);
      const node = prev ?? {
        id: c.ID,
        facts: this.boots?.get(c.ID) ?? emptyFacts(),
        macs: "",
        ips: "",
        groups: [],
        view: undefined,
        loc: locationOf(c.ID),
      };
      node.nid = typeof c.NID === "number" ? c.NID : -1;
      node.state = c.State ?? "";
      node.role = c.Role ?? "";
      node.enabled = c.Enabled !== false;
      this.byId.set(c.ID, node);
    }
    this.nodes = [...this.byId.values()].sort(byLocation);
    this.unlisted.clear();
  }

  /** EthernetInterfaces: what search by MAC and IP looks in. */
  setInterfaces(interfaces) {
    const macs = new Map();
    const ips = new Map();
    for (const i of interfaces) {
      const id = i.ComponentID;
      if (!id) continue;
      macs.set(id, `${macs.get(id) ?? ""} ${macDigits(i.MACAddress ?? "")}`);
      const addresses = (i.IPAddresses ?? []).map((a) => a.IPAddress).join(" ");
      ips.set(id, `${ips.get(id) ?? ""} ${addresses}`);
    }
    for (const n of this.nodes) {
      n.macs = macs.get(n.id) ?? "";
      n.ips = ips.get(n.id) ?? "";
    }
  }

  /** SMD groups (GET /hsm/v2/groups). */
  setGroups(groups) {
    this.groups = new Map(groups.map((g) => [g.label, new Set(g.members?.ids ?? [])]));
    for (const n of this.nodes) n.groups = [];
    for (const [label, ids] of this.groups) for (const id of ids) this.byId.get(id)?.groups.push(label);
  }

  /** GET /ui/api/boots: every node's facts, the log's cursor and the server's clock. */
  setBoots(summary) {
    this.cursor = summary.cursor;
    this.clockSkew = summary.now_ms - Date.now();
    this.boots = new Map(summary.nodes.map((row) => [row[0], factsFromRow(row)]));
    for (const n of this.nodes) n.facts = this.boots.get(n.id) ?? emptyFacts();
  }

  /**
   * Folds events of the log in (oldest first); returns the nodes whose facts changed. Events of
   * requesters SMD does not know (name "") count in `unknownSeen`.
   */
  applyEvents(events) {
    const changed = new Set();
    let unknownSeen = 0;
    for (const e of events) {
      this.cursor = Math.max(this.cursor, e.id);
      if (!e.name) {
        unknownSeen++;
        continue;
      }
      const node = this.byId.get(e.name);
      if (!node) {
        this.unlisted.add(e.name);
        continue;
      }
      if (applyEvent(node.facts, e)) changed.add(node);
    }
    return { changed, unknownSeen };
  }

  classify(node, stuckMs) {
    return classify(node.facts, this.now(), stuckMs);
  }

  /** Distinct values of a component field, sorted, for the filters. */
  valuesOf(field) {
    return [...new Set(this.nodes.map((n) => n[field]).filter(Boolean))].sort();
  }
}

/** Cabinet, chassis, slot, BMC and node numbers of a node xname; undefined for other names. */
export function locationOf(id) {
  const m = XNAME_NODE.exec(id);
  return m ? { cabinet: +m[1], chassis: +m[2], slot: +m[3], bmc: +m[4], node: +m[5] } : undefined;
}

function byLocation(a, b) {
  const la = a.loc;
  const lb = b.loc;
  if (!la || !lb) return la ? -1 : lb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  return la.cabinet - lb.cabinet || la.chassis - lb.chassis || la.slot - lb.slot || la.bmc - lb.bmc || la.node - lb.node;
}
