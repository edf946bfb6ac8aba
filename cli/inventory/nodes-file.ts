import { isIP } from "../../shared/ip";
import { normalizeMac } from "../../shared/mac";
import { nodeBmcOf, parseXname } from "../../shared/xname";

/**
 * nodes.yaml, the static inventory `ochami discover static` reads, in both formats upstream's
 * ochami accepts, checked and normalised into one model. Pure: problems are thrown together,
 * warnings returned (the command prints them).
 *
 *   current:     bmcs: [{name, xname, mac, ip, fqdn}]
 *                nodes: [{name, nid, xname, bmc, groups, interfaces: [{mac_addr, ip_addrs: [{name, ip_addr}]}]}]
 *   deprecated:  nodes: [{name, nid, xname, group|groups, bmc_mac, bmc_ip, bmc_fqdn, interfaces: [{mac_addr, ip_addrs: [{network, ip_addr}]}]}]
 *                (chosen, as upstream, when any node has the key bmc_mac or bmc_ip)
 *
 * What upstream's ochami accepts, read as it reads it:
 *  - a node's `xname` is any component xname. Its BMC is the `x…c…s…b…` it starts with, so a
 *    node written in BMC form (`x1000c0s0b1`, one node per BMC, as some recipes write them) is
 *    its own BMC. SMD then types that component NodeBMC (the type comes from the xname, not from
 *    the `Type: Node` sent), and the node it makes behind the BMC's endpoint is `x1000c0s0b1n0`
 *    with a NID of its own; that is warned about here, not changed.
 *  - `nid` missing or 0: no NID is sent (upstream omits a zero NID), SMD picks one.
 *  - `group:` is deprecated; upstream warns and reads it (in the deprecated format only; here in
 *    both, with the same warning). An empty `group:` is no group.
 *  - `bmc:` (current format) names a BMC by xname, name or MAC, as upstream's lookup does; a
 *    reference that matches none is logged by upstream and the node sent without a BMC: a
 *    warning here.
 *  - an IP's network is `name` in the current format and `network` in the deprecated one; the
 *    other key is read when that one is missing (the seed's deprecated file writes `name`, which
 *    upstream drops).
 *
 * Differences from upstream, on purpose: every problem is reported at once with its place in the
 * file (upstream stops at the first, or panics on an interface without IPs); duplicate xnames,
 * NIDs and MACs are errors (upstream sends them and SMD keeps one silently or 409s); a node of
 * the deprecated format whose xname has no BMC in it is an error (upstream falls back to the
 * node's own xname as the BMC's, which SMD refuses as an endpoint unless the node is a BMC); a
 * node of the deprecated format without bmc_mac and bmc_ip has no BMC (upstream keys BMCs by
 * that MAC, so all such nodes become systems of one endpoint and SMD names them <bmc>n1, n2…).
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
  /** What upstream's ochami warns about (or logs and goes on), one line each. */
  warnings: string[];
}

export class InventoryError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join("\n  ")}`);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);

/** Types that name no component (a node xname cannot be one). */
const NOT_COMPONENTS = new Set(["All", "AllSvc", "AllComp", "Partition"]);

/** At most `max` names, then how many more. */
export function someOf(names: string[], max = 5): string {
  return names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}

export function parseNodesFile(doc: unknown): Inventory {
  const problems: string[] = [];
  const warnings: string[] = [];
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
  const xname = (v: unknown, where: string, expected: "component" | "NodeBMC") => {
    const s = str(v, where, true);
    if (s === undefined) return undefined;
    const x = parseXname(s);
    if (!x || (expected === "NodeBMC" ? x.type !== "NodeBMC" : NOT_COMPONENTS.has(x.type))) {
      problems.push(
        `${where} '${s}' is not a ${expected === "NodeBMC" ? "BMC xname (like x1000c1s7b0)" : "component xname (like x1000c1s7b0n0)"}`,
      );
      return undefined;
    }
    return x;
  };

  const bmcs: InventoryBmc[] = [];
  // Lookups by xname, name and MAC (the first entry wins; duplicates are reported below): a list
  // search per node made a 10,000-node file take over a minute to read.
  const bmcByXname = new Map<string, InventoryBmc>();
  const bmcByName = new Map<string, InventoryBmc>();
  const bmcByMac = new Map<string, InventoryBmc>();
  const addBmc = (b: InventoryBmc) => {
    bmcs.push(b);
    if (!bmcByXname.has(b.xname)) bmcByXname.set(b.xname, b);
    if (b.name !== undefined && !bmcByName.has(b.name)) bmcByName.set(b.name, b);
    if (b.mac !== undefined && !bmcByMac.has(b.mac)) bmcByMac.set(b.mac, b);
  };
  if (!deprecated) {
    if (doc.bmcs !== undefined && doc.bmcs !== null && !Array.isArray(doc.bmcs)) problems.push("bmcs must be a list");
    ((Array.isArray(doc.bmcs) ? doc.bmcs : []) as unknown[]).forEach((b, i) => {
      const where = `bmcs[${i}]`;
      if (!isObj(b)) {
        problems.push(`${where} must be a mapping`);
        return;
      }
      const x = xname(b.xname, `${where}.xname`, "NodeBMC");
      if (!x) return;
      addBmc({
        xname: x.id,
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
  /** For the warnings, which name nodes as `nodes[i] (name)`. */
  const bmcForm: string[] = [];
  const bmcFormWithEndpoint: string[] = [];
  const withoutBmc: string[] = [];
  const usingGroup: string[] = [];
  rawNodes.forEach((n, i) => {
    const where = `nodes[${i}]`;
    if (!isObj(n)) {
      problems.push(`${where} must be a mapping`);
      return;
    }
    const label = typeof n.name === "string" ? `${where} (${n.name})` : where;
    const x = xname(n.xname, `${label}.xname`, "component");
    let nid: number | undefined;
    if (n.nid !== undefined && n.nid !== null && n.nid !== 0) {
      if (typeof n.nid !== "number" || !Number.isInteger(n.nid) || n.nid < 1) problems.push(`${label}.nid must be a positive integer`);
      else nid = n.nid;
    }
    const groups = new Set<string>();
    for (const [key, value] of [
      ["group", n.group],
      ["groups", n.groups],
    ] as const) {
      if (value === undefined || value === null || value === "") continue;
      if (key === "group") usingGroup.push(label);
      for (const g of Array.isArray(value) ? value : [value]) {
        if (typeof g !== "string" || !/^[-a-z0-9:._]+$/i.test(g.trim()))
          problems.push(`${label}.${key}: '${String(g)}' is not a group label`);
        else groups.add(g.trim().toLowerCase());
      }
    }
    const interfaces: InventoryInterface[] = [];
    if (n.interfaces !== undefined && n.interfaces !== null && !Array.isArray(n.interfaces))
      problems.push(`${label}.interfaces must be a list`);
    ((Array.isArray(n.interfaces) ? n.interfaces : []) as unknown[]).forEach((f, j) => {
      const fw = `${label}.interfaces[${j}]`;
      if (!isObj(f)) {
        problems.push(`${fw} must be a mapping`);
        return;
      }
      const m = mac(f.mac_addr, `${fw}.mac_addr`, true);
      const ips: InventoryIp[] = [];
      if (f.ip_addrs !== undefined && f.ip_addrs !== null && !Array.isArray(f.ip_addrs)) problems.push(`${fw}.ip_addrs must be a list`);
      ((Array.isArray(f.ip_addrs) ? f.ip_addrs : []) as unknown[]).forEach((a, k) => {
        const aw = `${fw}.ip_addrs[${k}]`;
        if (!isObj(a)) {
          problems.push(`${aw} must be a mapping`);
          return;
        }
        const addr = ip(a.ip_addr, `${aw}.ip_addr`, true);
        // Each format's own key first (upstream reads only that one), the other when it is missing.
        const [own, other] = deprecated ? (["network", "name"] as const) : (["name", "network"] as const);
        const network = str(a[own], `${aw}.${own}`) ?? str(a[other], `${aw}.${other}`) ?? "";
        if (addr) ips.push({ ip: addr, network });
      });
      if (m) interfaces.push({ mac: m, ips });
    });
    allMacs.push(...interfaces.map((f, j): [string, string] => [f.mac, `${label.replace(/ \(.*\)$/, "")}.interfaces[${j}]`]));
    const bmcMac = deprecated ? mac(n.bmc_mac, `${label}.bmc_mac`) : undefined;
    const bmcIp = deprecated ? ip(n.bmc_ip, `${label}.bmc_ip`) : undefined;
    if (bmcMac) allMacs.push([bmcMac, `${label.replace(/ \(.*\)$/, "")}.bmc_mac`]);
    if (!x) return;
    const node: InventoryNode = { xname: x.id, name: str(n.name, `${label}.name`), nid, groups: [...groups], interfaces };
    const ownBmc = nodeBmcOf(x.id);
    if (deprecated) {
      if (bmcMac || bmcIp) {
        if (!ownBmc) {
          problems.push(
            `${label}.xname '${x.id}' is a ${x.type}, with no BMC in it (x…c…s…b…): the deprecated format makes the BMC's endpoint from the node's xname`,
          );
          return;
        }
        node.bmc = ownBmc;
        const existing = bmcByXname.get(ownBmc);
        if (!existing) addBmc({ xname: ownBmc, name: node.name, mac: bmcMac, ip: bmcIp, fqdn: str(n.bmc_fqdn, `${label}.bmc_fqdn`) });
        else if ((bmcMac && existing.mac && existing.mac !== bmcMac) || (bmcIp && existing.ip && existing.ip !== bmcIp))
          problems.push(`${label}: BMC ${ownBmc} is given another MAC or IP than for an earlier node`);
      }
    } else {
      const ref = str(n.bmc, `${label}.bmc`);
      if (ref) {
        node.bmc = (bmcByXname.get(parseXname(ref)?.id ?? "") ?? bmcByName.get(ref) ?? bmcByMac.get(normalizeMac(ref) ?? ""))?.xname;
        if (!node.bmc)
          warnings.push(`${label}.bmc '${ref}' is not the xname, name or MAC of an entry in bmcs: the node is sent without a BMC`);
      } else if (ownBmc) node.bmc = bmcByXname.get(ownBmc)?.xname;
    }
    if (x.type === "NodeBMC") (node.bmc === x.id ? bmcFormWithEndpoint : bmcForm).push(`${label} ${x.id}`);
    // A node in BMC form without an endpoint is in that warning already.
    else if (!node.bmc) withoutBmc.push(label);
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

  if (deprecated)
    warnings.push(
      "the nodes file is in the deprecated format (nodes with bmc_mac/bmc_ip), which upstream's ochami will stop reading; " +
        "the current one lists bmcs: and names each node's bmc: (see `ochami discover static --help`)",
    );
  if (usingGroup.length)
    warnings.push(`${someOf(usingGroup)} ${usingGroup.length === 1 ? "uses" : "use"} 'group', which is deprecated; use 'groups' instead`);
  const example = (list: string[]) => list[0].split(" ").pop();
  if (bmcFormWithEndpoint.length)
    warnings.push(
      `${someOf(bmcFormWithEndpoint)}: a BMC's xname, not a node's: SMD records it as a NodeBMC, and the node behind that BMC as ` +
        `<xname>n0, which gets the interfaces and a NID of SMD's choosing (as with upstream's ochami). A node's xname ends in n<k> ` +
        `(${example(bmcFormWithEndpoint)}n0)`,
    );
  if (bmcForm.length)
    warnings.push(
      `${someOf(bmcForm)}: a BMC's xname, not a node's: SMD records it as a NodeBMC. A node's xname ends in n<k> (${example(bmcForm)}n0)`,
    );
  if (withoutBmc.length)
    warnings.push(
      `${someOf(withoutBmc)} ${withoutBmc.length === 1 ? "has" : "have"} no BMC in the file: no Redfish endpoint; ` +
        `${withoutBmc.length === 1 ? "its" : "their"} interfaces are sent to SMD on their own`,
    );
  return { format: deprecated ? "deprecated" : "current", bmcs, nodes, warnings };
}

/** `<short><NID padded>` (cloud-init's hostname rule; `nid` + 3 → nid001). */
export function nidHostname(shortName: string, nidLength: number, nid: number): string {
  return `${shortName}${String(nid).padStart(nidLength, "0")}`;
}
