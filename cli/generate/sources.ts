import type { ApiClient } from "../../shared/api-client/client";
import { CliError } from "../errors";
import { type Inventory, nidHostname } from "../inventory/nodes-file";
import { asString, at, objectsIn } from "../io/json";
import { log } from "../log";
import type { HostEntry } from "./render";

/**
 * Where `ochami generate` gets its hosts: a nodes file, or the live inventory.
 *
 * Names: a node's name from the nodes file; from the API, the host name the node gives itself —
 * cloud-init's rule: instance-info `local-hostname`, else <short-name><NID padded to nid-length>
 * from the cluster defaults (--short-name/--nid-length override). A BMC's name is the nodes
 * file's `bmcs[].name`, else derived from its node's name: nid001 → nid-bmc001 (the seed's names).
 */
export interface Naming {
  shortName?: string;
  nidLength?: number;
}

export function bmcNameFor(nodeName: string): string {
  const m = /^(.*?)([0-9]+)$/.exec(nodeName);
  return m?.[1] ? `${m[1]}-bmc${m[2]}` : `${nodeName}-bmc`;
}

function byNid(a: HostEntry, b: HostEntry): number {
  return (a.nid ?? Infinity) - (b.nid ?? Infinity) || a.xname.localeCompare(b.xname);
}

/**
 * Host names given to more than one host, as `name (owner, owner)`: a node name of two nodes (two
 * NIDs alike in SMD, two names alike in a file), a BMC name with two addresses, a node and a BMC.
 * A hosts file, powerman.conf or conman.conf with them would send one name to two machines.
 */
export function nameConflicts(entries: HostEntry[]): string[] {
  const owners = new Map<string, Set<string>>();
  const add = (name: string, owner: string) => {
    const set = owners.get(name) ?? new Set<string>();
    set.add(owner);
    owners.set(name, set);
  };
  for (const e of entries) {
    add(e.node, `node ${e.xname}${e.nid !== undefined ? ` with NID ${e.nid}` : ""}`);
    // One BMC behind several nodes is one owner (its address); two BMCs named alike are two.
    if (e.bmc) add(e.bmc.name, `BMC ${e.bmc.ip ?? `of ${e.xname}`}`);
  }
  return [...owners].filter(([, o]) => o.size > 1).map(([name, o]) => `${name} (${[...o].join(", ")})`);
}

export function entriesFromInventory(inv: Inventory, naming: Naming): HostEntry[] {
  const short = naming.shortName ?? "nid";
  const width = naming.nidLength ?? 3;
  return inv.nodes
    .map((n): HostEntry => {
      const node = n.name ?? (n.nid ? nidHostname(short, width, n.nid) : n.xname);
      const bmc = n.bmc ? inv.bmcs.find((b) => b.xname === n.bmc) : undefined;
      // The deprecated format names no BMC (upstream gives its endpoint the node's name).
      const bmcName = bmc && inv.format === "current" && bmc.name ? bmc.name : bmcNameFor(node);
      return {
        node,
        xname: n.xname,
        nid: n.nid,
        ip: n.interfaces.flatMap((f) => f.ips)[0]?.ip,
        bmc: bmc ? { name: bmcName, ip: bmc.ip } : undefined,
      };
    })
    .sort(byNid);
}

export async function entriesFromApi(api: ApiClient, naming: Naming, network?: string): Promise<HostEntry[]> {
  const comps = objectsIn(
    at(await api.json<unknown>("smd", "GET", "/State/Components", { auth: false, query: { type: "Node" } }), "Components"),
  );
  const ifaces = objectsIn(await api.json<unknown>("smd", "GET", "/Inventory/EthernetInterfaces", { auth: false }));
  const optional = async <T>(what: string, f: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await f();
    } catch (err) {
      if (!(err instanceof CliError)) throw err;
      log.warn(`cannot read ${what} (${err.message}); going on without`);
      return undefined;
    }
  };
  const rfes = objectsIn(
    at(await optional("the Redfish endpoints", () => api.json<unknown>("smd", "GET", "/Inventory/RedfishEndpoints")), "RedfishEndpoints"),
  );
  const defaults = await optional("the cloud-init cluster defaults", () =>
    api.json<unknown>("cloud-init", "GET", "/admin/cluster-defaults"),
  );
  const infos = objectsIn(
    await optional("the cloud-init instance-info", () => api.json<unknown>("cloud-init", "GET", "/admin/instance-info")),
  );

  const shortName = at(defaults, "short-name");
  const clusterName = at(defaults, "cluster-name");
  let short = naming.shortName ?? (shortName ? String(shortName) : clusterName ? String(clusterName).slice(0, 2) : undefined);
  let width = naming.nidLength ?? (Number(at(defaults, "nid-length")) || (short ? 4 : undefined));
  if (!short) {
    log.warn("the cloud-init cluster defaults set no short-name or cluster-name; naming nodes nid<NID> (use --short-name)");
    short = "nid";
    width ??= 3;
  }
  const ipOf = (id: string): string | undefined => {
    const ips = ifaces.filter((f) => f.ComponentID === id).flatMap((f) => objectsIn(f.IPAddresses));
    return asString((network ? ips.find((a) => a.Network === network) : undefined)?.IPAddress ?? ips[0]?.IPAddress);
  };
  return comps
    .map((c): HostEntry => {
      const xname = String(c.ID);
      const nid = typeof c.NID === "number" ? c.NID : undefined;
      const hostname = infos.find((i) => i.id === c.ID)?.["local-hostname"];
      const node = hostname ? String(hostname) : nid !== undefined ? nidHostname(short!, width!, nid) : xname;
      const bmcId = xname.replace(/n[0-9]+$/, "");
      const rfe = rfes.find((r) => r.ID === bmcId);
      const bmcIp = asString(rfe?.IPAddress) || ipOf(bmcId);
      return {
        node,
        xname,
        nid,
        role: asString(c.Role),
        ip: ipOf(xname),
        bmc: rfe || bmcIp ? { name: bmcNameFor(node), ip: bmcIp } : undefined,
      };
    })
    .sort(byNid);
}
