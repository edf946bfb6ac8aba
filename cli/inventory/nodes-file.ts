import { isIP } from "../../shared/ip";
import { normalizeMac } from "../../shared/mac";
import { parseXname, xnameParent } from "../../shared/xname";

/**
 * nodes.yaml, the static inventory `ochami discover static` reads, in both formats upstream's
 * ochami accepts, checked and normalised into one model. Pure.
 *
 *   current:     bmcs: [{name, xname, mac, ip, fqdn}]
 *                nodes: [{name, nid, xname, bmc, groups, interfaces: [{mac_addr, ip_addrs: [{name, ip_addr}]}]}]
 *   deprecated:  nodes: [{name, nid, xname, group|groups, bmc_mac, bmc_ip, bmc_fqdn, interfaces: [...]}]
 *                (chosen, as upstream, when any node has bmc_mac or bmc_ip)
 *
 * Differences from upstream, on purpose: every problem is reported at once with its place in the
 * file (upstream stops at the first, or panics on an interface without IPs); duplicate xnames,
 * NIDs and MACs are errors (upstream sends them and SMD keeps one silently or 409s); an IP's
 * network is read from `name` or `network` in both formats (upstream ignores `name` in the
 * deprecated format, which is what the seed's file uses).
 */
export interface InventoryIp {
  ip: string;
  network: string;
}

export interface InventoryInterface {
  mac: string;
  ips: InventoryIp[];
}

export interface InventoryBmc {
  xname: string;
  name?: string;
  mac?: string;
  ip?: string;
  fqdn?: string;
}

export interface InventoryNode {
  xname: string;
  name?: string;
  nid?: number;
  /** xname of its BMC, when it has one in `bmcs` (or the deprecated bmc_* keys). */
  bmc?: string;
  groups: string[];
  interfaces: InventoryInterface[];
}

export interface Inventory {
  format: "current" | "deprecated";
  bmcs: InventoryBmc[];
  nodes: InventoryNode[];
}

export class InventoryError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join("\n  ")}`);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

export function parseNodesFile(doc: unknown): Inventory {
  const problems: string[] = [];
  if (!isObj(doc) || !Array.isArray(doc.nodes))
    throw new InventoryError(["expected a mapping with a `nodes:` list (and, in the current format, `bmcs:`)"]);
  const rawNodes = doc.nodes as unknown[];
  const deprecated = rawNodes.some((n) => isObj(n) && (n.bmc_mac !== undefined || n.bmc_ip !== undefined));
  const str = (v: unknown, where: string, required = false): string | undefined => {
    if (v === undefined || v === null || v === "") {
      if (required) problems.push(`${where} is missing`);
      return undefined;
    }
    if (typeof v !== "string" && typeof v !== "number") {
      problems.push(`${where} must be a string`);
      return undefined;
    }
    return String(v).trim();
  };
  const mac = (v: unknown, where: string, required = false) => {
    const s = str(v, where, required);
    if (s === undefined) return undefined;
    const m = normalizeMac(s);
    if (!m) problems.push(`${where} '${s}' is not a MAC address`);
    return m;
  };
  const ip = (v: unknown, where: string, required = false) => {
    const s = str(v, where, required);
    if (s !== undefined && !isIP(s)) problems.push(`${where} '${s}' is not an IP address`);
    return s;
  };
  const xname = (v: unknown, where: string, type: "Node" | "NodeBMC") => {
    const s = str(v, where, true);
    if (s === undefined) return undefined;
    const x = parseXname(s);
    if (!x || x.type !== type) {
      problems.push(`${where} '${s}' is not a ${type} xname${type === "Node" ? " (like x1000c1s7b0n0)" : " (like x1000c1s7b0)"}`);
      return undefined;
    }
    return x.id;
  };

  const bmcs: InventoryBmc[] = [];
  // Lookups by xname and by name (the first entry wins; duplicates are reported below): a list
  // search per node made a 10,000-node file take over a minute to read.
  const bmcByXname = new Map<string, InventoryBmc>();
  const bmcByName = new Map<string, InventoryBmc>();
  const addBmc = (b: InventoryBmc) => {
    bmcs.push(b);
    if (!bmcByXname.has(b.xname)) bmcByXname.set(b.xname, b);
    if (b.name !== undefined && !bmcByName.has(b.name)) bmcByName.set(b.name, b);
  };
  if (!deprecated) {
    if (doc.bmcs !== undefined && !Array.isArray(doc.bmcs)) problems.push("bmcs must be a list");
    ((doc.bmcs as unknown[]) ?? []).forEach((b, i) => {
      const where = `bmcs[${i}]`;
      if (!isObj(b)) {
        problems.push(`${where} must be a mapping`);
        return;
      }
      const x = xname(b.xname, `${where}.xname`, "NodeBMC");
      if (!x) return;
      addBmc({
        xname: x,
        name: str(b.name, `${where}.name`),
        mac: mac(b.mac, `${where}.mac`),
        ip: ip(b.ip, `${where}.ip`),
        fqdn: str(b.fqdn, `${where}.fqdn`),
      });
    });
  }

  const nodes: InventoryNode[] = [];
  /** Each kept node's index in the file, for messages. */
  const nodeIndex: number[] = [];
  /** Every MAC with its place, including those of nodes with other mistakes. */
  const allMacs: Array<[string, string]> = [];
  rawNodes.forEach((n, i) => {
    const where = `nodes[${i}]`;
    if (!isObj(n)) {
      problems.push(`${where} must be a mapping`);
      return;
    }
    const label = typeof n.name === "string" ? `${where} (${n.name})` : where;
    const x = xname(n.xname, `${label}.xname`, "Node");
    let nid: number | undefined;
    if (n.nid !== undefined && n.nid !== null) {
      if (typeof n.nid !== "number" || !Number.isInteger(n.nid) || n.nid < 1) problems.push(`${label}.nid must be a positive integer`);
      else nid = n.nid;
    }
    const groups = new Set<string>();
    for (const [key, value] of [
      ["group", n.group],
      ["groups", n.groups],
    ] as const) {
      if (value === undefined || value === null) continue;
      for (const g of Array.isArray(value) ? value : [value]) {
        if (typeof g !== "string" || !/^[-a-z0-9:._]+$/i.test(g.trim()))
          problems.push(`${label}.${key}: '${String(g)}' is not a group label`);
        else groups.add(g.trim().toLowerCase());
      }
    }
    const interfaces: InventoryInterface[] = [];
    if (n.interfaces !== undefined && !Array.isArray(n.interfaces)) problems.push(`${label}.interfaces must be a list`);
    ((n.interfaces as unknown[]) ?? []).forEach((f, j) => {
      const fw = `${label}.interfaces[${j}]`;
      if (!isObj(f)) {
        problems.push(`${fw} must be a mapping`);
        return;
      }
      const m = mac(f.mac_addr, `${fw}.mac_addr`, true);
      const ips: InventoryIp[] = [];
      if (f.ip_addrs !== undefined && !Array.isArray(f.ip_addrs)) problems.push(`${fw}.ip_addrs must be a list`);
      ((f.ip_addrs as unknown[]) ?? []).forEach((a, k) => {
        const aw = `${fw}.ip_addrs[${k}]`;
        if (!isObj(a)) {
          problems.push(`${aw} must be a mapping`);
          return;
        }
        const addr = ip(a.ip_addr, `${aw}.ip_addr`, true);
        if (addr) ips.push({ ip: addr, network: str(a.name ?? a.network, `${aw}.name`) ?? "" });
      });
      if (m) interfaces.push({ mac: m, ips });
    });
    allMacs.push(...interfaces.map((f, j): [string, string] => [f.mac, `${label.replace(/ \(.*\)$/, "")}.interfaces[${j}]`]));
    const bmcMac = deprecated ? mac(n.bmc_mac, `${label}.bmc_mac`) : undefined;
    const bmcIp = deprecated ? ip(n.bmc_ip, `${label}.bmc_ip`) : undefined;
    if (bmcMac) allMacs.push([bmcMac, `${label.replace(/ \(.*\)$/, "")}.bmc_mac`]);
    if (!x) return;
    const node: InventoryNode = { xname: x, name: str(n.name, `${label}.name`), nid, groups: [...groups], interfaces };
    if (deprecated) {
      if (bmcMac || bmcIp) {
        const bmcX = xnameParent(x);
        node.bmc = bmcX;
        const existing = bmcByXname.get(bmcX);
        if (!existing) addBmc({ xname: bmcX, name: node.name, mac: bmcMac, ip: bmcIp, fqdn: str(n.bmc_fqdn, `${label}.bmc_fqdn`) });
        else if ((bmcMac && existing.mac && existing.mac !== bmcMac) || (bmcIp && existing.ip && existing.ip !== bmcIp))
          problems.push(`${label}: BMC ${bmcX} is given another MAC or IP than for an earlier node`);
      }
    } else {
      const ref = str(n.bmc, `${label}.bmc`);
      const bmc = ref ? (bmcByXname.get(ref.toLowerCase()) ?? bmcByName.get(ref)) : bmcByXname.get(xnameParent(x));
      if (ref && !bmc) problems.push(`${label}.bmc '${ref}' is not the name or xname of an entry in bmcs`);
      node.bmc = bmc?.xname;
    }
    nodes.push(node);
    nodeIndex.push(i);
  });

  const seen = (what: string, values: Array<[string | number | undefined, string]>) => {
    const first = new Map<string | number, string>();
    for (const [v, where] of values) {
      if (v === undefined) continue;
      if (first.has(v)) problems.push(`${where}: ${what} ${v} is also used by ${first.get(v)}`);
      else first.set(v, where);
    }
  };
  seen(
    "xname",
    nodes.map((n, i) => [n.xname, `nodes[${nodeIndex[i]}]`]),
  );
  seen(
    "NID",
    nodes.map((n, i) => [n.nid, `nodes[${nodeIndex[i]}]`]),
  );
  seen(
    "BMC xname",
    bmcs.map((b, i) => [b.xname, deprecated ? `the BMC of ${b.name ?? b.xname}` : `bmcs[${i}]`]),
  );
  seen("MAC", [...allMacs, ...(deprecated ? [] : bmcs.map((b, i): [string | undefined, string] => [b.mac, `bmcs[${i}]`]))]);
  if (problems.length) throw new InventoryError(problems);
  return { format: deprecated ? "deprecated" : "current", bmcs, nodes };
}

/** `<short><NID padded>` (cloud-init's hostname rule; `nid` + 3 → nid001). */
export function nidHostname(shortName: string, nidLength: number, nid: number): string {
  return `${shortName}${String(nid).padStart(nidLength, "0")}`;
}
