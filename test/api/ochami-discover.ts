import { parse } from "yaml";

/**
 * A faithful replay of what the real `ochami discover static` (OpenCHAMI/ochami v0.10, pkg/discover)
 * sends to SMD for a nodes.yaml (ochami's pkg/discover): the bodies it builds client-side and the order of
 * its requests, with and without --overwrite. Tests run it against our API to check that SMD then
 * answers coresmd, BSS and cloud-init as upstream would.
 */
type Send = (method: string, path: string, body?: unknown) => Promise<{ status: number }>;

interface NodeIn {
  name: string;
  nid?: number;
  xname: string;
  group?: string;
  groups?: string[];
  bmc_mac?: string;
  bmc_ip?: string;
  bmc_fqdn?: string;
  bmc?: string;
  interfaces?: Array<{ mac_addr: string; ip_addrs?: Array<{ name?: string; network?: string; ip_addr: string }> }>;
}

const ACTIONS = [
  "On",
  "ForceOff",
  "GracefulShutdown",
  "GracefulRestart",
  "ForceRestart",
  "Nmi",
  "ForceOn",
  "PushPowerButton",
  "PowerCycle",
  "Suspend",
  "Pause",
  "Resume",
];
let uuidCounter = 0;
const uuid = () => `00000000-0000-4000-8000-${(++uuidCounter).toString(16).padStart(12, "0")}`;

export function buildDiscoveryPayloads(yamlText: string, smdHost = "demo.openchami.cluster:8443") {
  const doc = parse(yamlText) as {
    nodes: NodeIn[];
    bmcs?: Array<{ name?: string; xname: string; mac?: string; ip?: string; fqdn?: string }>;
  };
  const deprecated = doc.nodes.some((n) => n.bmc_ip || n.bmc_mac);
  const components = doc.nodes.map((n) => ({ ID: n.xname, Type: "Node", State: "On", Enabled: true, ...(n.nid ? { NID: n.nid } : {}) }));

  // One RFE per BMC, its Systems the nodes behind it.
  const bmcs = new Map<string, { rfe: Record<string, unknown>; nodes: NodeIn[] }>();
  if (deprecated) {
    for (const n of doc.nodes) {
      const key = n.bmc_mac!;
      const id = n.xname.replace(/n[0-9]+$/, "") || n.xname;
      if (!bmcs.has(key))
        bmcs.set(key, {
          rfe: { ID: id, Name: n.name, FQDN: n.bmc_fqdn, MACAddr: n.bmc_mac, IPAddress: n.bmc_ip },
          nodes: [],
        });
      bmcs.get(key)!.nodes.push(n);
    }
  } else {
    for (const b of doc.bmcs ?? [])
      bmcs.set(b.xname, { rfe: { ID: b.xname, Name: b.name, FQDN: b.fqdn, MACAddr: b.mac, IPAddress: b.ip }, nodes: [] });
    for (const n of doc.nodes) {
      const bmcId = n.bmc ?? n.xname.replace(/n[0-9]+$/, "");
      const entry = [...bmcs.entries()].find(([k, v]) => k === bmcId || v.rfe.Name === bmcId)?.[1];
      entry?.nodes.push(n);
    }
  }
  const rfes = [...bmcs.values()].map(({ rfe, nodes }) => {
    const id = rfe.ID as string;
    const body: Record<string, unknown> = { ID: id, Type: "NodeBMC" };
    for (const k of ["Name", "FQDN"]) if (rfe[k]) body[k] = rfe[k];
    body.UUID = uuid();
    for (const k of ["MACAddr", "IPAddress"]) if (rfe[k]) body[k] = rfe[k];
    body.DiscoveryInfo = { LastAttempt: "0001-01-01T00:00:00Z" };
    body.SchemaVersion = 1;
    body.Systems = nodes.map((n) => ({
      uri: `https://${smdHost}/redfish/v1/Systems/${n.xname}`,
      uuid: uuid(),
      name: n.name,
      ethernet_interfaces: (n.interfaces ?? []).map((iface, i) => ({
        mac: iface.mac_addr,
        ip: iface.ip_addrs?.[0]?.ip_addr,
        name: n.xname,
        description: `Interface ${i} for ${n.name}`,
      })),
      actions: ACTIONS,
    }));
    body.Managers = [
      {
        uri: `https://${smdHost}/redfish/v1/Managers/${id}`,
        uuid: body.UUID,
        name: id,
        ethernet_interfaces: rfe.MACAddr ? [{ mac: rfe.MACAddr, ip: rfe.IPAddress, name: id, description: `Interface for BMC ${id}` }] : [],
        actions: null,
        description: "",
        type: "NodeBMC",
      },
    ];
    return body;
  });

  const groups = new Map<string, string[]>();
  for (const n of doc.nodes)
    for (const g of [...(n.groups ?? []), ...(n.group ? [n.group] : [])]) groups.set(g, [...(groups.get(g) ?? []), n.xname]);
  const groupBodies = [...groups].map(([label, ids]) => ({ label, description: `The ${label} group`, members: { ids } }));
  return { components, rfes, groups: groupBodies };
}

/** Sends the requests in ochami's order; returns every (method, path, status) for assertions. */
export async function discoverStatic(send: Send, yamlText: string, overwrite = false) {
  const p = buildDiscoveryPayloads(yamlText);
  const log: Array<[string, string, number]> = [];
  const call = async (m: string, path: string, body?: unknown) => {
    const r = await send(m, `/hsm/v2${path}`, body);
    log.push([m, path, r.status]);
    return r.status;
  };
  if (!overwrite) {
    await call("POST", "/State/Components", { Components: p.components });
  } else {
    for (const comp of p.components) await call("PUT", `/State/Components/${comp.ID}`, { Component: comp, Force: true });
    await call("PATCH", "/State/Components/BulkNID", { Components: p.components.map((c) => ({ ID: c.ID, Type: "", NID: c.NID })) });
  }
  for (const rfe of p.rfes) {
    const status = await call("POST", "/Inventory/RedfishEndpoints", rfe);
    if (overwrite && status === 409) await call("PUT", `/Inventory/RedfishEndpoints/${rfe.ID}`, rfe);
  }
  for (const g of p.groups) {
    const status = await call("POST", "/groups", g);
    if (overwrite && status === 409) await call("PATCH", `/groups/${g.label}`, g);
  }
  return log;
}
