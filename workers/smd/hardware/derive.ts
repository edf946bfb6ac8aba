import { z } from "zod";
import { xnameType } from "../../../shared/xname";
import { isPlainObject } from "../../http/json-keys";
import { type LocationRecord, parentNodeOf, standardFruId } from "./model";

/**
 * Hardware inventory from what a Redfish endpoint body says was discovered behind the BMC: upstream
 * SMD builds it from the Redfish Systems, Processors, Memory, Managers and Chassis its poller reads;
 * this SMD has no poller and takes the same facts from the body (magellan's and ochami's
 * SchemaVersion 1 payload, with the Redfish resources added where the client read them):
 *   - a System's `manufacturer`, `model`, `serial`, `bios_version`, `system_type`, `uuid`,
 *     `processor_count`, `processor_type`, `memory_total`: the node and its FRU;
 *   - a System's `processors` and `memory`: Redfish Processor and Memory resources, each a
 *     Processor (`p<k>`, CPUs) or NodeAccel (`a<k>`, GPUs and accelerators) or Memory (`d<k>`,
 *     absent DIMMs skipped) under the node;
 *   - a System's `chassis_*` fields, or the body's `Chassis` list of Redfish Chassis resources:
 *     the enclosure (NodeEnclosure `e<k>` of a NodeBMC's slot, or the ChassisBMC's Chassis);
 *   - a Manager's `name`, `description`, `model`, `type`, `firmware_version` (and `manufacturer`,
 *     `part_number`, `serial_number` when read): the BMC and its FRU.
 * FRU IDs follow upstream's rule (model.ts standardFruId). A body with none of these facts adds
 * no hardware (`ochami discover static`'s payload has none).
 */

/** Text; any other JSON value reads as "". */
const text = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === "string" ? v : ""))
  .meta({ type: "string" });
/** A number (or a string holding one); anything else reads as 0. */
const number = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v)) ? Number(v) : 0))
  .meta({ type: "number" });
/** Redfish resources as their service answered them (objects; anything else is skipped). */
const resources = z
  .unknown()
  .optional()
  .transform((v) => (Array.isArray(v) ? v.filter(isPlainObject) : []))
  .meta({ type: "array", items: { type: "object" } });

export const SYSTEM_HARDWARE_FIELDS = {
  manufacturer: text,
  model: text,
  serial: text,
  bios_version: text,
  processor_count: number,
  processor_type: text,
  memory_total: number.meta({ description: "GiB" }),
  chassis_sku: text,
  chassis_serial: text,
  chassis_asset_tag: text,
  chassis_manufacturer: text,
  chassis_model: text,
  processors: resources.meta({ description: "Redfish Processor resources" }),
  memory: resources.meta({ description: "Redfish Memory resources" }),
};

export const MANAGER_HARDWARE_FIELDS = {
  description: text,
  model: text,
  type: text,
  firmware_version: text,
  manufacturer: text,
  part_number: text,
  serial_number: text,
};

export const ENDPOINT_HARDWARE_FIELDS = {
  Chassis: resources.meta({ writeOnly: true, description: "Redfish Chassis resources behind the BMC: its enclosures" }),
};

type SystemFacts = { [K in keyof typeof SYSTEM_HARDWARE_FIELDS]: z.output<(typeof SYSTEM_HARDWARE_FIELDS)[K]> } & {
  uri: string;
  uuid: string;
  name: string;
  system_type: string;
};
type ManagerFacts = { [K in keyof typeof MANAGER_HARDWARE_FIELDS]: z.output<(typeof MANAGER_HARDWARE_FIELDS)[K]> } & {
  uri: string;
  name: string;
};

const lastSegment = (uri: string) => uri.replace(/\/+$/, "").split("/").pop() ?? "";
const str = (o: Record<string, unknown>, k: string) => (typeof o[k] === "string" ? (o[k] as string) : "");
const num = (o: Record<string, unknown>, k: string) => (typeof o[k] === "number" ? (o[k] as number) : 0);
/** Only the keys given, with upstream's defaults for the missing ones. */
const pick = (o: Record<string, unknown>, keys: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(keys).map(([k, d]) => [k, o[k] ?? d]));

function location(id: string, info: Record<string, unknown>, fruInfo: Record<string, unknown>, fruId: string): LocationRecord {
  const type = xnameType(id) ?? "";
  return {
    id,
    type,
    ordinal: Number(/[0-9]+$/.exec(id)?.[0] ?? 0),
    status: "Populated",
    parentNode: parentNodeOf(id),
    info,
    fru: { fruId, type, subtype: "", info: fruInfo },
  };
}

const hasSystemFacts = (s: SystemFacts) =>
  Boolean(s.manufacturer || s.model || s.serial || s.bios_version || s.processor_count || s.processor_type || s.memory_total) ||
  s.processors.length > 0 ||
  s.memory.length > 0;

/** The node, its processors and memory. */
export function systemHardware(nodeId: string, s: SystemFacts): LocationRecord[] {
  if (!hasSystemFacts(s)) return [];
  const out: LocationRecord[] = [];
  out.push(
    location(
      nodeId,
      {
        Id: lastSegment(s.uri),
        Name: s.name,
        Description: "",
        HostName: "",
        ProcessorSummary: { Count: s.processor_count || s.processors.length, Model: s.processor_type },
        MemorySummary: { TotalSystemMemoryGiB: s.memory_total },
      },
      {
        AssetTag: "",
        BiosVersion: s.bios_version,
        Model: s.model,
        Manufacturer: s.manufacturer,
        PartNumber: "",
        SerialNumber: s.serial,
        SKU: "",
        SystemType: s.system_type,
        UUID: s.uuid,
      },
      standardFruId("Node", nodeId, s.manufacturer, "", s.serial),
    ),
  );
  let cpu = 0;
  let accel = 0;
  for (const p of s.processors) {
    const gpu = /gpu|accelerator|fpga/i.test(str(p, "ProcessorType"));
    // Upstream's Processor xnames allow sockets 0-3; a fifth CPU has no name.
    const id = gpu ? `${nodeId}a${accel++}` : cpu < 4 ? `${nodeId}p${cpu++}` : undefined;
    if (!id) continue;
    const type = gpu ? "NodeAccel" : "Processor";
    const fruInfo = pick(p, {
      InstructionSet: "",
      Manufacturer: "",
      MaxSpeedMHz: 0,
      Model: "",
      SerialNumber: "",
      PartNumber: "",
      ProcessorArchitecture: "",
      ProcessorId: {},
      ProcessorType: "",
      TotalCores: 0,
      TotalThreads: 0,
      Oem: null,
    });
    out.push(
      location(
        id,
        { Id: str(p, "Id"), Name: str(p, "Name"), Description: str(p, "Description"), Socket: str(p, "Socket") },
        fruInfo,
        standardFruId(type, id, p.Manufacturer, p.PartNumber, p.SerialNumber),
      ),
    );
  }
  let dimm = 0;
  for (const m of s.memory) {
    const state = isPlainObject(m.Status) ? str(m.Status, "State") : "";
    if (state === "Absent" || (m.CapacityMiB !== undefined && num(m, "CapacityMiB") === 0)) continue;
    const id = `${nodeId}d${dimm++}`;
    const fruInfo = pick(m, {
      BaseModuleType: "",
      BusWidthBits: 0,
      CapacityMiB: 0,
      DataWidthBits: 0,
      ErrorCorrection: "",
      Manufacturer: "",
      MemoryType: "",
      MemoryDeviceType: "",
      OperatingSpeedMhz: 0,
      PartNumber: "",
      RankCount: 0,
      SerialNumber: "",
    });
    out.push(
      location(
        id,
        {
          Id: str(m, "Id"),
          Name: str(m, "Name"),
          Description: str(m, "Description"),
          MemoryLocation: isPlainObject(m.MemoryLocation) ? m.MemoryLocation : {},
        },
        fruInfo,
        standardFruId("Memory", id, m.Manufacturer, m.PartNumber, m.SerialNumber),
      ),
    );
  }
  return out;
}

/** The BMC, when the manager says anything about its hardware. */
export function managerHardware(bmcId: string, m: ManagerFacts): LocationRecord[] {
  const type = xnameType(bmcId);
  if ((type !== "NodeBMC" && type !== "RouterBMC") || !(m.model || m.type || m.firmware_version || m.manufacturer || m.serial_number))
    return [];
  return [
    location(
      bmcId,
      {
        DateTime: "",
        DateTimeLocalOffset: "",
        Description: m.description,
        FirmwareVersion: m.firmware_version,
        Id: lastSegment(m.uri),
        Name: m.name,
      },
      { ManagerType: m.type, Model: m.model, Manufacturer: m.manufacturer, PartNumber: m.part_number, SerialNumber: m.serial_number },
      standardFruId(type, bmcId, m.manufacturer, m.part_number, m.serial_number),
    ),
  ];
}

/** Where the k-th enclosure behind a BMC sits, if its type has one. */
function enclosureId(bmcId: string, k: number): string | undefined {
  switch (xnameType(bmcId)) {
    case "NodeBMC": // the slot's NodeEnclosure
    case "RouterBMC": // the router module's HSNBoard
      return `${bmcId.replace(/b[0-9]+$/, "")}e${k}`;
    case "ChassisBMC":
      return k === 0 ? bmcId.replace(/b[0-9]+$/, "") : undefined;
    default:
      return undefined;
  }
}

const chassisFru = (o: Record<string, unknown>) =>
  pick(o, { AssetTag: "", ChassisType: "", Model: "", Manufacturer: "", PartNumber: "", SerialNumber: "", SKU: "" });

/** The enclosures: the body's Chassis resources, else the first system's `chassis_*` fields. */
export function chassisHardware(bmcId: string, chassis: Array<Record<string, unknown>>, systems: SystemFacts[]): LocationRecord[] {
  const described = chassis.length
    ? chassis
    : systems
        .filter((s) => s.chassis_serial || s.chassis_manufacturer || s.chassis_model)
        .slice(0, 1)
        .map((s) => ({
          Id: "",
          Name: "",
          Description: s.chassis_model,
          ChassisType: "Enclosure",
          Model: s.chassis_model,
          Manufacturer: s.chassis_manufacturer,
          SerialNumber: s.chassis_serial,
          SKU: s.chassis_sku,
          AssetTag: s.chassis_asset_tag,
        }));
  const out: LocationRecord[] = [];
  described.forEach((c, k) => {
    const id = enclosureId(bmcId, k);
    const type = id && xnameType(id);
    if (!id || !type) return;
    out.push(
      location(
        id,
        { Id: str(c, "Id"), Name: str(c, "Name"), Description: str(c, "Description"), HostName: "" },
        chassisFru(c),
        standardFruId(type, id, c.Manufacturer, c.PartNumber, c.SerialNumber),
      ),
    );
  });
  return out;
}
