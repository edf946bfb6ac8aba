import { parseXname, xnameParent } from "../../shared/xname";
import { nidHostname } from "../inventory/nodes-file";
import type { BmcResult, Nic } from "./discover";
import { addIPv4 } from "./targets";

/**
 * How discovered BMCs become nodes.yaml entries (the rule is documented in the README and in
 * `ochami discover redfish --help`). The i-th target (0-based, in the order given, counting
 * unreachable ones too, so a BMC that answers only on a second run gets the same identity):
 *   node xname  the --xname template with {n} = i+1, {i} = i, {nid} = its NID
 *               (default x1000c1s7b{n}n0, the seed's layout); the BMC's xname is it minus `n0`
 *   NID         --nid-start + i·K + k, for the k-th system of the BMC (K = --nodes-per-bmc, default 1;
 *               a system k > 0 gets the xname ending n<k>)
 *   node IP     --node-ip-start + i·K + k (none without --node-ip-start)
 *   names       <short-name><NID padded to --nid-length> for nodes (nid001) and
 *               <short-name>-bmc<NID padded> for BMCs (nid-bmc001), as the seed's /etc/hosts
 *   NICs        the boot NIC: the first enabled NIC whose link is not down (else the first);
 *               --all-nics adds the others (without addresses)
 * Pure.
 */
export interface AssignRules {
  xnameTemplate: string;
  nidStart: number;
  nodesPerBmc: number;
  nodeIpStart?: string;
  network: string;
  groups: string[];
  shortName: string;
  nidLength: number;
  allNics: boolean;
  domain?: string;
}

export interface NodesDoc {
  bmcs: Array<Record<string, unknown>>;
  nodes: Array<Record<string, unknown>>;
}

export function fillTemplate(template: string, vars: Record<string, number>): string {
  return template.replace(/\{(n|i|nid)\}/g, (_, k: string) => String(vars[k]));
}

/** Checks the template once, so a typo fails before any BMC is asked. */
export function checkTemplate(template: string): string | undefined {
  const sample = parseXname(fillTemplate(template, { n: 1, i: 0, nid: 1 }));
  if (sample?.type !== "Node") return `--xname '${template}' does not make a node xname (e.g. x1000c1s7b{n}n0)`;
  if (!/\{(n|i|nid)\}/.test(template)) return `--xname '${template}' has no {n}, {i} or {nid}: every node would get the same xname`;
  return undefined;
}

export function bootNic(nics: Nic[]): Nic | undefined {
  return nics.find((n) => n.enabled && n.linkUp !== false) ?? nics.find((n) => n.enabled) ?? nics[0];
}

export function assignNodes(results: BmcResult[], r: AssignRules): { doc: NodesDoc; warnings: string[] } {
  const warnings: string[] = [];
  const doc: NodesDoc = { bmcs: [], nodes: [] };
  results.forEach((res, i) => {
    if (!res.ok) return;
    const f = res.facts;
    const firstNid = r.nidStart + i * r.nodesPerBmc;
    const nodeX = parseXname(fillTemplate(r.xnameTemplate, { n: i + 1, i, nid: firstNid }))!.id;
    const bmcX = xnameParent(nodeX);
    const bmcName = `${r.shortName}-bmc${String(firstNid).padStart(r.nidLength, "0")}`;
    const bmc: Record<string, unknown> = { name: bmcName, xname: bmcX };
    if (f.mac) bmc.mac = f.mac;
    else warnings.push(`${f.target.label}: the BMC's own MAC was not found under Managers/*/EthernetInterfaces`);
    bmc.ip = f.ip;
    if (r.domain) bmc.fqdn = `${bmcName}.${r.domain}`;
    doc.bmcs.push(bmc);
    if (f.systems.length > r.nodesPerBmc)
      warnings.push(`${f.target.label}: ${f.systems.length} systems, only the first ${r.nodesPerBmc} are written (--nodes-per-bmc)`);
    f.systems.slice(0, r.nodesPerBmc).forEach((sys, k) => {
      const nid = firstNid + k;
      const xname = k === 0 ? nodeX : nodeX.replace(/n[0-9]+$/, `n${k}`);
      const nics = r.allNics ? orderBootFirst(sys.nics) : [bootNic(sys.nics)].filter((n): n is Nic => !!n);
      if (!nics.length)
        warnings.push(`${f.target.label}: system ${sys.id} reports no NIC with a MAC address; node ${xname} gets no interface`);
      const ip = r.nodeIpStart ? addIPv4(r.nodeIpStart, i * r.nodesPerBmc + k) : undefined;
      doc.nodes.push({
        name: nidHostname(r.shortName, r.nidLength, nid),
        nid,
        xname,
        bmc: bmcX,
        groups: [...r.groups],
        interfaces: nics.map((n, j) => ({ mac_addr: n.mac, ...(j === 0 && ip ? { ip_addrs: [{ name: r.network, ip_addr: ip }] } : {}) })),
      });
    });
  });
  return { doc, warnings };
}

function orderBootFirst(nics: Nic[]): Nic[] {
  const boot = bootNic(nics);
  return boot ? [boot, ...nics.filter((n) => n !== boot)] : [];
}
