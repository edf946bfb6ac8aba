import { canonicalIp } from "../../../shared/ip";
import { parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { getKey, isPlainObject } from "../../http/json-keys";
import type { InterfaceRecord } from "../interfaces/model";
import type { ComponentEndpointRow } from "./model";

/**
 * What `ochami discover static` (and magellan) put in a RedfishEndpoint body with
 * `SchemaVersion >= 1`: the BMC's Managers and the node Systems behind it. SMD turns them into
 * the BMC and node components, their EthernetInterfaces and ComponentEndpoints (smd.md §5.3).
 * Node xnames derive from the BMC ID and the system's position: `<bmc>n0`, `<bmc>n1`, …
 * Pure: body in, records out; the route stores them in the same batch as the endpoint.
 */
export interface DiscoveredInventory {
  bmc?: { id: string };
  nodes: Array<{ id: string; nid: number }>;
  interfaces: InterfaceRecord[];
  componentEndpoints: ComponentEndpointRow[];
}

const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** Redfish URIs are stored as paths: ochami sends `https://<smd-host>/redfish/v1/...`. */
export function uriPath(uri: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return uri;
  try {
    return new URL(uri).pathname;
  } catch {
    return uri;
  }
}

function interfacesOf(list: unknown, componentId: string, type: string, now: string, where: string): InterfaceRecord[] {
  return arr(list).map((raw, i) => {
    if (!isPlainObject(raw)) throw new HttpProblem(400, `${where}.ethernet_interfaces[${i}] must be an object`);
    const mac = parseMac(getKey(raw, "mac"));
    if (!mac.ok) throw new HttpProblem(400, `Invalid CompEthInterface MAC Address: ${where}.ethernet_interfaces[${i}]: ${mac.error}`);
    const rawIp = str(getKey(raw, "ip")).trim();
    const ip = rawIp ? canonicalIp(rawIp) : "";
    if (ip === undefined) throw new HttpProblem(400, `Invalid CompEthInterface IP Address: '${rawIp}'`);
    return {
      id: mac.id,
      macAddress: mac.mac,
      description: str(getKey(raw, "description")),
      componentId,
      type,
      lastUpdate: now,
      ips: ip ? [{ ip, network: str(getKey(raw, "network")) }] : [],
    };
  });
}

function resetAction(path: string, kind: "Manager" | "ComputerSystem", actions: unknown) {
  return {
    [`#${kind}.Reset`]: {
      "ResetType@Redfish.AllowableValues": Array.isArray(actions) ? actions.filter((a) => typeof a === "string") : [],
      "@Redfish.ActionInfo": `${path}/ResetActionInfo`,
      target: `${path}/Actions/${kind}.Reset`,
    },
  };
}

export function parseDiscoveredInventory(bmcId: string, body: Record<string, unknown>, now: string): DiscoveredInventory {
  const out: DiscoveredInventory = { nodes: [], interfaces: [], componentEndpoints: [] };
  const managers = arr(getKey(body, "Managers"));
  managers.forEach((m, i) => {
    if (!isPlainObject(m)) throw new HttpProblem(400, `Managers[${i}] must be an object`);
    out.bmc = { id: bmcId };
    const nics = interfacesOf(getKey(m, "ethernet_interfaces"), bmcId, "NodeBMC", now, `Managers[${i}]`);
    out.interfaces.push(...nics);
    const path = uriPath(str(getKey(m, "uri")));
    out.componentEndpoints.push({
      id: bmcId,
      type: "NodeBMC",
      domain: "",
      fqdn: "",
      redfishType: "Manager",
      redfishSubtype: "",
      macAddr: "",
      uuid: str(getKey(m, "uuid")),
      odataId: path,
      redfishEndpointId: bmcId,
      enabled: true,
      componentEndpointType: "ComponentEndpointManager",
      info: JSON.stringify({
        Name: str(getKey(m, "name")),
        Actions: resetAction(path, "Manager", getKey(m, "actions")),
        EthernetNICInfo: nics.map((n, j) => ({
          RedfishId: "",
          "@odata.id": "",
          Description: n.description,
          Hostname: str(getKey(arr(getKey(m, "ethernet_interfaces"))[j], "name")),
          InterfaceEnabled: true,
          MACAddress: n.macAddress,
          PermanentMACAddress: n.macAddress,
        })),
      }),
    });
  });

  // Systems are deduplicated by UUID; the k-th distinct one is node <bmc>n<k> with NID k+1.
  const seen = new Set<string>();
  let k = 0;
  arr(getKey(body, "Systems")).forEach((s, i) => {
    if (!isPlainObject(s)) throw new HttpProblem(400, `Systems[${i}] must be an object`);
    const uuid = str(getKey(s, "uuid"));
    if (uuid && seen.has(uuid)) return;
    if (uuid) seen.add(uuid);
    const nodeId = `${bmcId}n${k}`;
    const nics = interfacesOf(getKey(s, "ethernet_interfaces"), nodeId, "Node", now, `Systems[${i}]`);
    out.nodes.push({ id: nodeId, nid: k + 1 });
    out.interfaces.push(...nics);
    const path = uriPath(str(getKey(s, "uri")));
    const links = getKey(s, "links");
    const chassis = isPlainObject(links) ? arr(getKey(links, "chassis")).map((c) => uriPath(str(c))) : [];
    const info: Record<string, unknown> = {
      Name: str(getKey(s, "name")),
      Actions: resetAction(path, "ComputerSystem", getKey(s, "actions")),
      EthernetNICInfo: arr(getKey(s, "ethernet_interfaces")).map((raw, j) => ({
        RedfishId: str(getKey(raw, "uri")),
        "@odata.id": str(getKey(raw, "uri")),
        Description: nics[j].description,
        InterfaceEnabled: true,
        MACAddress: nics[j].macAddress,
      })),
    };
    if (chassis[0]) info.PowerURL = chassis[0].replace(/\/[^/]*$/, "") + "/Power";
    out.componentEndpoints.push({
      id: nodeId,
      type: "Node",
      domain: "",
      fqdn: "",
      redfishType: "ComputerSystem",
      redfishSubtype: str(getKey(s, "system_type")),
      macAddr: "",
      uuid,
      odataId: path,
      redfishEndpointId: bmcId,
      enabled: true,
      componentEndpointType: "ComponentEndpointComputerSystem",
      info: JSON.stringify(info),
    });
    k++;
  });
  const macs = new Set<string>();
  for (const nic of out.interfaces) {
    if (macs.has(nic.id)) throw new HttpProblem(400, `MAC address ${nic.macAddress} appears twice in the endpoint's inventory`);
    macs.add(nic.id);
  }
  return out;
}

/** Upstream runs the V2 parser when the body has a top-level SchemaVersion > 0. */
export function hasDiscoveryPayload(body: Record<string, unknown>): boolean {
  const v = getKey(body, "SchemaVersion");
  return typeof v === "number" ? v > 0 : typeof v === "string" && Number(v) > 0;
}
