import { z } from "zod";
import { canonicalIp } from "../../../shared/ip";
import { parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { isPlainObject } from "../../http/json-keys";
import { goObject } from "../../http/wire";
import {
  chassisHardware,
  ENDPOINT_HARDWARE_FIELDS,
  MANAGER_HARDWARE_FIELDS,
  managerHardware,
  SYSTEM_HARDWARE_FIELDS,
  systemHardware,
} from "../hardware/derive";
import type { LocationRecord } from "../hardware/model";
import type { InterfaceRecord } from "../interfaces/model";
import type { ComponentEndpointRow } from "./model";

/**
 * What `ochami discover static` (and magellan) put in a RedfishEndpoint body with
 * `SchemaVersion >= 1`: the BMC's Managers and the node Systems behind it. SMD turns them into
 * the BMC and node components, their EthernetInterfaces and ComponentEndpoints, as upstream's
 * discovery parser does. Node xnames derive from the BMC ID and the system's position: `<bmc>n0`,
 * `<bmc>n1`, … Read leniently, as this service always has: a value of another type than expected
 * reads as empty ("" or no elements). Only elements that are no object, and bad MAC or IP
 * addresses, are refused, in the order of the payload.
 * Pure: body in, records out; the route stores them in the same batch as the endpoint.
 */

// ----------------------------------------------------------------------------- schemas

/** A string; any other JSON value, or none, reads as "". */
const text = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === "string" ? v : ""))
  .meta({ type: "string" });

/** A list; a value that is no array reads as none. */
const list = <T extends z.ZodType>(item: T) => z.preprocess((v) => (Array.isArray(v) ? v : []), z.array(item));

/**
 * An element that must be an object: anything else reads as null, which the parser refuses in its
 * turn. (A union rather than `.nullable()`, which would mark the named schema itself nullable in
 * /openapi.json; the lenient schemas here accept every object, so the union never fails.)
 */
const element = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (isPlainObject(v) ? v : null), z.union([schema, z.null()]));

/** Reset actions (`On`, `ForceOff`, …): the strings of a list. */
const actions = z
  .preprocess((v) => (Array.isArray(v) ? v.filter((a) => typeof a === "string") : []), z.array(z.string()))
  .meta({ example: ["On", "ForceOff"] });

const DiscoveredInterface = goObject(
  {
    mac: text.meta({ example: "de:ad:be:ee:ee:f1" }),
    ip: text.meta({ description: "its address, if any", example: "172.16.0.1" }),
    name: text,
    description: text,
    network: text,
    uri: text,
  },
  { id: "DiscoveredEthernetInterface", description: "a NIC found by discovery: becomes an EthernetInterface" },
);
const interfaces = list(element(DiscoveredInterface));

const DiscoveredManager = goObject(
  {
    uri: text.meta({ example: "https://demo.openchami.cluster:8443/redfish/v1/Managers/x1000c1s0b0" }),
    uuid: text,
    name: text,
    actions,
    ethernet_interfaces: interfaces,
    ...MANAGER_HARDWARE_FIELDS,
  },
  { id: "DiscoveredManager", description: "the BMC itself: the endpoint's NodeBMC component (and its hardware inventory)" },
);

const DiscoveredSystem = goObject(
  {
    uri: text.meta({ example: "https://demo.openchami.cluster:8443/redfish/v1/Systems/x1000c1s0b0n0" }),
    uuid: text.meta({ description: "systems repeating a UUID are read once" }),
    name: text,
    system_type: text,
    actions,
    links: z.preprocess((v) => (isPlainObject(v) ? v : {}), goObject({ chassis: list(text) })),
    ethernet_interfaces: interfaces,
    ...SYSTEM_HARDWARE_FIELDS,
  },
  {
    id: "DiscoveredSystem",
    description:
      "a node behind the BMC: the k-th distinct one is node <bmc>n<k>, NID k+1 (and its hardware inventory, with its processors and memory)",
  },
);

/** The discovery payload's fields of a RedfishEndpoint body (requests only). */
export const DISCOVERY_FIELDS = {
  SchemaVersion: z
    .unknown()
    .optional()
    .transform((v) => (typeof v === "number" ? v : typeof v === "string" ? Number(v) : 0))
    .meta({ type: "integer", writeOnly: true, description: "1 or more: Managers and Systems describe what is behind the BMC" }),
  Managers: list(element(DiscoveredManager)).meta({ writeOnly: true }),
  Systems: list(element(DiscoveredSystem)).meta({ writeOnly: true }),
  ...ENDPOINT_HARDWARE_FIELDS,
};

type Payload = { [K in keyof typeof DISCOVERY_FIELDS]: z.output<(typeof DISCOVERY_FIELDS)[K]> };
type Nic = z.output<typeof DiscoveredInterface>;

/** Upstream runs the discovery parser when the body has a SchemaVersion above 0. */
export function hasDiscoveryPayload(body: Pick<Payload, "SchemaVersion">): boolean {
  return body.SchemaVersion > 0;
}

// ----------------------------------------------------------------------------- parser

export interface DiscoveredInventory {
  bmc?: { id: string };
  /** Hardware locations and FRUs the payload describes (workers/smd/hardware/derive.ts). */
  hardware: LocationRecord[];
  nodes: Array<{ id: string; nid: number }>;
  interfaces: InterfaceRecord[];
  componentEndpoints: ComponentEndpointRow[];
}

/** Redfish URIs are stored as paths: ochami sends `https://<smd-host>/redfish/v1/...`. */
export function uriPath(uri: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return uri;
  try {
    return new URL(uri).pathname;
  } catch {
    return uri;
  }
}

/**
 * The NICs of a manager or system as interfaces of `componentId`, each with the NIC it was read
 * from; `where` names the list's owner in messages.
 */
function interfacesOf(list: Array<Nic | null>, componentId: string, type: string, now: string, where: string) {
  return list.map((nic, i): [InterfaceRecord, Nic] => {
    if (!nic) throw new HttpProblem(400, `${where}.ethernet_interfaces[${i}] must be an object`);
    const mac = parseMac(nic.mac);
    if (!mac.ok) throw new HttpProblem(400, `Invalid CompEthInterface MAC Address: ${where}.ethernet_interfaces[${i}]: ${mac.error}`);
    const rawIp = nic.ip.trim();
    const ip = rawIp ? canonicalIp(rawIp) : "";
    if (ip === undefined) throw new HttpProblem(400, `Invalid CompEthInterface IP Address: '${rawIp}'`);
    const record = {
      id: mac.id,
      macAddress: mac.mac,
      description: nic.description,
      componentId,
      type,
      lastUpdate: now,
      ips: ip ? [{ ip, network: nic.network }] : [],
    };
    return [record, nic];
  });
}

function resetAction(path: string, kind: "Manager" | "ComputerSystem", actions: string[]) {
  return {
    [`#${kind}.Reset`]: {
      "ResetType@Redfish.AllowableValues": actions,
      "@Redfish.ActionInfo": `${path}/ResetActionInfo`,
      target: `${path}/Actions/${kind}.Reset`,
    },
  };
}

export function parseDiscoveredInventory(
  bmcId: string,
  body: Pick<Payload, "Managers" | "Systems" | "Chassis">,
  now: string,
): DiscoveredInventory {
  const out: DiscoveredInventory = { nodes: [], interfaces: [], componentEndpoints: [], hardware: [] };
  body.Managers.forEach((m, i) => {
    if (!m) throw new HttpProblem(400, `Managers[${i}] must be an object`);
    out.bmc = { id: bmcId };
    if (i === 0) out.hardware.push(...managerHardware(bmcId, m));
    const nics = interfacesOf(m.ethernet_interfaces, bmcId, "NodeBMC", now, `Managers[${i}]`);
    out.interfaces.push(...nics.map(([record]) => record));
    const path = uriPath(m.uri);
    out.componentEndpoints.push({
      id: bmcId,
      type: "NodeBMC",
      domain: "",
      fqdn: "",
      redfishType: "Manager",
      redfishSubtype: "",
      macAddr: "",
      uuid: m.uuid,
      odataId: path,
      redfishEndpointId: bmcId,
      enabled: true,
      componentEndpointType: "ComponentEndpointManager",
      info: JSON.stringify({
        Name: m.name,
        Actions: resetAction(path, "Manager", m.actions),
        EthernetNICInfo: nics.map(([n, nic]) => ({
          RedfishId: "",
          "@odata.id": "",
          Description: n.description,
          Hostname: nic.name,
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
  body.Systems.forEach((s, i) => {
    if (!s) throw new HttpProblem(400, `Systems[${i}] must be an object`);
    if (s.uuid && seen.has(s.uuid)) return;
    if (s.uuid) seen.add(s.uuid);
    const nodeId = `${bmcId}n${k}`;
    const nics = interfacesOf(s.ethernet_interfaces, nodeId, "Node", now, `Systems[${i}]`);
    out.nodes.push({ id: nodeId, nid: k + 1 });
    out.hardware.push(...systemHardware(nodeId, s));
    out.interfaces.push(...nics.map(([record]) => record));
    const path = uriPath(s.uri);
    const chassis = s.links.chassis.map(uriPath);
    const info: Record<string, unknown> = {
      Name: s.name,
      Actions: resetAction(path, "ComputerSystem", s.actions),
      EthernetNICInfo: nics.map(([n, nic]) => ({
        RedfishId: nic.uri,
        "@odata.id": nic.uri,
        Description: n.description,
        InterfaceEnabled: true,
        MACAddress: n.macAddress,
      })),
    };
    if (chassis[0]) info.PowerURL = `${chassis[0].replace(/\/[^/]*$/, "")}/Power`;
    out.componentEndpoints.push({
      id: nodeId,
      type: "Node",
      domain: "",
      fqdn: "",
      redfishType: "ComputerSystem",
      redfishSubtype: s.system_type,
      macAddr: "",
      uuid: s.uuid,
      odataId: path,
      redfishEndpointId: bmcId,
      enabled: true,
      componentEndpointType: "ComponentEndpointComputerSystem",
      info: JSON.stringify(info),
    });
    k++;
  });
  out.hardware.push(
    ...chassisHardware(
      bmcId,
      body.Chassis,
      body.Systems.filter((s) => s !== null),
    ),
  );
  const macs = new Set<string>();
  for (const nic of out.interfaces) {
    if (macs.has(nic.id)) throw new HttpProblem(400, `MAC address ${nic.macAddress} appears twice in the endpoint's inventory`);
    macs.add(nic.id);
  }
  return out;
}
