import { createHash } from "node:crypto";
import type { Inventory, InventoryNode } from "./nodes-file";

/**
 * The SMD bodies `ochami discover static` sends for an inventory, shaped as upstream's
 * pkg/discover builds them: node components, one RedfishEndpoint per BMC in
 * SchemaVersion 1 form with its Systems (the nodes) and Managers (the BMC), and groups. Pure.
 *
 * One change: UUIDs are derived from the xnames (name-based, RFC 9562 v5-style) instead of random,
 * so a re-run sends the same bodies and `--overwrite` changes nothing that did not change.
 */
export const RESET_ACTIONS = [
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

export function stableUuid(name: string): string {
  const h = createHash("sha1").update("ochami-edge:").update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface ComponentBody {
  ID: string;
  Type: "Node";
  State: "On";
  Enabled: true;
  NID?: number;
}

export interface GroupBody {
  label: string;
  description: string;
  tags?: string[];
  members: { ids: string[] };
}

export interface DiscoveryPayloads {
  components: ComponentBody[];
  redfishEndpoints: Array<Record<string, unknown> & { ID: string }>;
  /** Node interfaces POSTed separately: all with --discovery-version 1, else those of nodes with no BMC. */
  interfaces: Array<Record<string, unknown> & { MACAddress: string; ComponentID: string }>;
  groups: GroupBody[];
}

function interfaceBody(node: InventoryNode, i: number) {
  const f = node.interfaces[i];
  return {
    ComponentID: node.xname,
    Type: "Node",
    Description: `Interface ${i} for ${node.name ?? node.xname}`,
    MACAddress: f.mac,
    IPAddresses: f.ips.map((a) => ({ IPAddress: a.ip, Network: a.network })),
  };
}

export function discoveryPayloads(
  inv: Inventory,
  opts: { smdHost: string; discoveryVersion: 1 | 2; extraGroups?: Map<string, GroupBody> },
): DiscoveryPayloads {
  const components: ComponentBody[] = inv.nodes.map((n) => ({
    ID: n.xname,
    Type: "Node",
    State: "On",
    Enabled: true,
    ...(n.nid ? { NID: n.nid } : {}),
  }));

  const nodesOfBmc = new Map<string, InventoryNode[]>();
  for (const n of inv.nodes) {
    if (n.bmc === undefined) continue;
    const list = nodesOfBmc.get(n.bmc);
    if (list) list.push(n);
    else nodesOfBmc.set(n.bmc, [n]);
  }
  const redfishEndpoints = inv.bmcs.map((b) => {
    const nodes = nodesOfBmc.get(b.xname) ?? [];
    const body: Record<string, unknown> & { ID: string } = { ID: b.xname, Type: "NodeBMC" };
    if (b.name) body.Name = b.name;
    if (b.fqdn) body.FQDN = b.fqdn;
    body.UUID = stableUuid(b.xname);
    if (b.mac) body.MACAddr = b.mac;
    if (b.ip) body.IPAddress = b.ip;
    body.DiscoveryInfo = { LastAttempt: "0001-01-01T00:00:00Z" };
    body.SchemaVersion = 1;
    body.Systems = nodes.map((n) => ({
      uri: `https://${opts.smdHost}/redfish/v1/Systems/${n.xname}`,
      uuid: stableUuid(n.xname),
      name: n.name ?? n.xname,
      ethernet_interfaces: n.interfaces.map((f, i) => ({
        mac: f.mac,
        ...(f.ips[0] ? { ip: f.ips[0].ip } : {}),
        name: n.xname,
        description: `Interface ${i} for ${n.name ?? n.xname}`,
      })),
      actions: RESET_ACTIONS,
    }));
    body.Managers = [
      {
        uri: `https://${opts.smdHost}/redfish/v1/Managers/${b.xname}`,
        uuid: body.UUID,
        name: b.xname,
        ethernet_interfaces: b.mac
          ? [{ mac: b.mac, ...(b.ip ? { ip: b.ip } : {}), name: b.xname, description: `Interface for BMC ${b.xname}` }]
          : [],
        actions: null,
        description: "",
        type: "NodeBMC",
      },
    ];
    return body;
  });

  // SMD creates node interfaces from an endpoint's Systems; nodes without a BMC entry would get
  // none (upstream drops them silently), so theirs are posted directly.
  const interfaces = inv.nodes.flatMap((n) =>
    opts.discoveryVersion === 1 || !n.bmc ? n.interfaces.map((_, i) => interfaceBody(n, i)) : [],
  );

  const groups = new Map<string, GroupBody>();
  for (const n of inv.nodes)
    for (const g of n.groups) {
      const body = groups.get(g) ?? { label: g, description: `The ${g} group`, members: { ids: [] } };
      body.members.ids.push(n.xname);
      groups.set(g, body);
    }
  for (const [label, extra] of opts.extraGroups ?? []) {
    const body = groups.get(label);
    if (!body) groups.set(label, extra);
    else {
      body.description = extra.description || body.description;
      if (extra.tags) body.tags = extra.tags;
      const members = new Set(body.members.ids);
      for (const id of extra.members.ids) {
        if (members.has(id)) continue;
        members.add(id);
        body.members.ids.push(id);
      }
    }
  }
  return { components, redfishEndpoints, interfaces, groups: [...groups.values()] };
}
