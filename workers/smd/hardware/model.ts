import { HttpProblem } from "../../../shared/problem";
import { parseXname, xnameParent } from "../../../shared/xname";
import { isPlainObject } from "../../http/json-keys";

/**
 * SMD's hardware inventory (upstream's HWInvByLoc, HWInvByFRU and HWInvHist): locations (xnames)
 * hold FRUs (field-replaceable units, by FRU ID); the history records which FRU was seen where,
 * and when. Each HMS type has its own LocationInfo and FRUInfo objects, named after it; they are
 * Redfish data passed through, kept as posted.
 */

/** Per HMS type: its JSON keys, discriminators, collection name in a Query answer, and FRU ID rule. */
export interface HardwareType {
  type: string;
  /** `<prefix>LocationInfo` and `<prefix>FRUInfo`. */
  prefix: string;
  /** `HWInvByLoc<suffix>` and `HWInvByFRU<suffix>`. */
  suffix: string;
  /** The array a Query answer lists it in. */
  collection: string;
  /** How its FRU ID is made (upstream's getStandardFRUID and its variants). */
  fruid: "standard" | "powerSupply" | "riser" | "outlet";
}

const T = (type: string, collection: string, fruid: HardwareType["fruid"] = "standard", prefix = type, suffix = prefix): HardwareType => ({
  type,
  prefix,
  suffix,
  collection,
  fruid,
});

/** The types upstream stores, in the order its Query answer lists their collections. */
export const HARDWARE_TYPES: readonly HardwareType[] = [
  T("Node", "Nodes"),
  T("Cabinet", "Cabinets"),
  T("Chassis", "Chassis"),
  T("ComputeModule", "ComputeModules"),
  T("RouterModule", "RouterModules"),
  T("NodeEnclosure", "NodeEnclosures"),
  T("HSNBoard", "HSNBoards"),
  T("Processor", "Processors"),
  T("Memory", "Memory"),
  T("Drive", "Drives"),
  T("CabinetPDU", "CabinetPDUs", "standard", "PDU"),
  T("CabinetPDUOutlet", "CabinetPDUPowerConnectors", "outlet", "Outlet"),
  T("CabinetPDUPowerConnector", "CabinetPDUPowerConnectors", "outlet", "Outlet"),
  T("CMMRectifier", "CMMRectifiers", "powerSupply"),
  T("NodeAccel", "NodeAccels"),
  T("NodeAccelRiser", "NodeAccelRisers", "riser"),
  T("NodeEnclosurePowerSupply", "NodeEnclosurePowerSupplies", "powerSupply"),
  T("NodeHsnNic", "NodeHsnNics"),
  T("NodeBMC", "NodeBMCs"),
  T("RouterBMC", "RouterBMCs"),
  T("MgmtSwitch", "MgmtSwitches"),
  T("MgmtHLSwitch", "MgmtHLSwitches"),
  T("CDUMgmtSwitch", "CDUMgmtSwitches"),
];

const BY_TYPE = new Map(HARDWARE_TYPES.map((t) => [t.type, t]));
export const hardwareType = (type: string) => BY_TYPE.get(type);

/** Collections of a Query answer in upstream's order (each listed once). */
export const COLLECTIONS = [...new Set(HARDWARE_TYPES.map((t) => t.collection))];

/** Node subcomponents that a NestNodesOnly answer lists inside their node. */
export const NODE_CHILDREN = new Set(["Processor", "NodeAccel", "Memory", "Drive", "NodeHsnNic", "NodeAccelRiser"]);

export const ERR = {
  badLocation: "ID is empty or not a valid xname",
  noFru: "PopulatedFRU must be populated",
  noLocationInfo: "Component location info is empty",
  noFruInfo: "FRU info is empty",
  unsupported: "HMSType value not supported for this operation",
} as const;

// ----------------------------------------------------------------------------- records

/** A FRU as stored: its ID, type, subtype and FRUInfo object. */
export interface FruRecord {
  fruId: string;
  type: string;
  subtype: string;
  info: Record<string, unknown>;
}

/** A location as stored, and the FRU it holds (if any). */
export interface LocationRecord {
  id: string;
  type: string;
  ordinal: number;
  status: string;
  /** The node above a node's subcomponent; the location itself otherwise (partition filters). */
  parentNode: string;
  info: Record<string, unknown>;
  fru?: FruRecord;
}

// ----------------------------------------------------------------------------- FRU IDs

const clean = (s: unknown) => (typeof s === "string" ? s.replace(/[^a-zA-Z0-9]/g, "") : "");

/**
 * Upstream's FRU ID: `<Type>.<Manufacturer>.<PartNumber>.<SerialNumber>` with every character
 * but letters and digits removed, empty parts left out. Without a manufacturer or part number,
 * or without a serial number (or over 255 characters), the FRU is untrackable: `FRUIDfor<xname>`.
 */
export function standardFruId(type: string, id: string, manufacturer: unknown, partNumber: unknown, serialNumber: unknown): string {
  const m = clean(manufacturer);
  const p = clean(partNumber);
  const s = clean(serialNumber);
  if ((!m && !p) || !s) return `FRUIDfor${id}`;
  const fruid = [type, m, p, s].filter((x) => x !== "").join(".");
  return fruid.length > 255 ? `FRUIDfor${id}` : fruid;
}

function fruIdOf(t: HardwareType, id: string, info: Record<string, unknown>, given: unknown): string {
  switch (t.fruid) {
    case "outlet":
      return typeof given === "string" && given !== "" ? given : `FRUIDfor${id}`;
    case "powerSupply":
      // Power supplies carry no part number in upstream's FRU ID.
      return standardFruId(t.type, id, info.Manufacturer, "", info.SerialNumber);
    case "riser":
      return standardFruId(t.type, id, info.Producer, info.PartNumber, info.SerialNumber);
    default:
      return standardFruId(t.type, id, info.Manufacturer, info.PartNumber, info.SerialNumber);
  }
}

// ----------------------------------------------------------------------------- input

/** An object's value for `key`, matched case-insensitively as Go decodes JSON. */
function field(o: Record<string, unknown>, key: string): unknown {
  if (key in o) return o[key];
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(o)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

const objectOrUndefined = (v: unknown) => (isPlainObject(v) ? v : undefined);

/** The ordinal upstream derives: the xname's trailing number. */
const ordinalOf = (id: string) => Number(/[0-9]+$/.exec(id)?.[0] ?? 0);

/** A node's xname at the start of an xname, followed by a child's letter or nothing. */
const NODE_PREFIX = /^x[0-9]{1,4}c[0-7]s[0-9]+b[0-9]+n[0-9]+(?=[a-z]|$)/;

/** The node a subcomponent sits under, for partition filters; the location itself if none. */
export function parentNodeOf(id: string): string {
  return NODE_PREFIX.exec(id)?.[0] ?? id;
}

/**
 * One entry of `POST /Inventory/Hardware`'s `Hardware` list, checked and completed as upstream's
 * NewHWInvByLocs does: the xname gives the type and ordinal, the status is Populated, the FRU's
 * type is the location's and its FRU ID is computed from the FRU info (a posted one is ignored
 * except for PDU outlets). Upstream's messages do not say which entry failed, nor do ours.
 */
export function locationOf(raw: unknown): LocationRecord {
  const o = objectOrUndefined(raw) ?? {};
  const x = parseXname(typeof field(o, "ID") === "string" ? field(o, "ID") : "");
  if (!x) throw new HttpProblem(400, ERR.badLocation);
  const fru = objectOrUndefined(field(o, "PopulatedFRU"));
  if (!fru) throw new HttpProblem(400, ERR.noFru);
  const t = hardwareType(x.type);
  if (!t) throw new HttpProblem(400, ERR.unsupported);
  const locInfo = objectOrUndefined(field(o, `${t.prefix}LocationInfo`));
  if (!locInfo) throw new HttpProblem(400, ERR.noLocationInfo);
  const fruInfo = objectOrUndefined(field(fru, `${t.prefix}FRUInfo`));
  if (!fruInfo) throw new HttpProblem(400, ERR.noFruInfo);
  const subtype = field(fru, "Subtype");
  return {
    id: x.id,
    type: x.type,
    ordinal: ordinalOf(x.id),
    status: "Populated",
    parentNode: parentNodeOf(x.id),
    info: locInfo,
    fru: {
      fruId: fruIdOf(t, x.id, fruInfo, field(fru, "FRUID")),
      type: x.type,
      subtype: typeof subtype === "string" ? subtype : "",
      info: fruInfo,
    },
  };
}

// ----------------------------------------------------------------------------- answers

/** A FRU as upstream answers it: FRUID, Type, Subtype, HWInventoryByFRUType and its FRUInfo. */
export function fruJson(f: FruRecord): Record<string, unknown> {
  const t = hardwareType(f.type);
  const out: Record<string, unknown> = { FRUID: f.fruId, Type: f.type, Subtype: f.subtype };
  out.HWInventoryByFRUType = t ? `HWInvByFRU${t.suffix}` : "";
  if (t) out[`${t.prefix}FRUInfo`] = f.info;
  return out;
}

/** A location as upstream answers it, with its FRU when populated. */
export function locationJson(l: LocationRecord): Record<string, unknown> {
  const t = hardwareType(l.type);
  const out: Record<string, unknown> = { ID: l.id, Type: l.type, Ordinal: l.ordinal, Status: l.status };
  out.HWInventoryByLocationType = t ? `HWInvByLoc${t.suffix}` : "";
  if (t) out[`${t.prefix}LocationInfo`] = l.info;
  if (l.fru) out.PopulatedFRU = fruJson(l.fru);
  return out;
}

export type QueryFormat = "FullyFlat" | "NestNodesOnly";

/**
 * Upstream's SystemHWInventory: `{XName, Format, <collection>: [...]}` with only non-empty
 * collections. NestNodesOnly lists a node's processors, accelerators, memory, drives, HSN NICs and
 * risers inside the node (those whose node is not in the answer stay at the top), and PDU outlets
 * inside their PDU (upstream drops outlets whose PDU is not in the answer).
 */
export function systemInventory(xname: string, format: QueryFormat, locations: LocationRecord[]): Record<string, unknown> {
  const byCollection = new Map<string, Array<Record<string, unknown>>>();
  const push = (collection: string, entry: Record<string, unknown>) => {
    const list = byCollection.get(collection) ?? [];
    list.push(entry);
    byCollection.set(collection, list);
  };
  const nested = format === "NestNodesOnly";
  const nodes = new Map<string, Record<string, unknown>>();
  const pdus = new Map<string, Record<string, unknown>>();
  const entries = locations.filter((l) => hardwareType(l.type)).map((l) => ({ l, json: locationJson(l) }));
  for (const { l, json } of entries) {
    if (l.type === "Node") nodes.set(l.id, json);
    if (l.type === "CabinetPDU") pdus.set(l.id, json);
  }
  for (const { l, json } of entries) {
    const t = hardwareType(l.type)!;
    const parent = nested && (NODE_CHILDREN.has(l.type) ? nodes : t.fruid === "outlet" ? pdus : undefined)?.get(xnameParent(l.id));
    if (parent) {
      const list = (parent[t.collection] as Array<Record<string, unknown>> | undefined) ?? [];
      list.push(json);
      parent[t.collection] = list;
    } else if (!(nested && t.fruid === "outlet")) push(t.collection, json);
  }
  const out: Record<string, unknown> = { XName: xname, Format: format };
  for (const c of COLLECTIONS) if (byCollection.get(c)?.length) out[c] = byCollection.get(c);
  return out;
}

// ----------------------------------------------------------------------------- history

export const EVENT_TYPES = ["Added", "Removed", "Scanned", "Detected"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const eventType = (raw: string) => EVENT_TYPES.find((e) => e.toLowerCase() === raw.toLowerCase());

export interface HistoryEvent {
  id: string;
  fruId: string;
  timeMs: number;
  eventType: string;
}

export const eventJson = (e: HistoryEvent) => ({
  ID: e.id,
  FRUID: e.fruId,
  Timestamp: new Date(e.timeMs).toISOString(),
  EventType: e.eventType,
});

/** Upstream's history answer: events grouped by location (or FRU), in order of first appearance. */
export function historyByKey(events: HistoryEvent[], key: "id" | "fruId") {
  const groups = new Map<string, ReturnType<typeof eventJson>[]>();
  for (const e of events) {
    const k = e[key];
    const list = groups.get(k) ?? [];
    list.push(eventJson(e));
    groups.set(k, list);
  }
  return { Components: [...groups].map(([ID, History]) => ({ ID, History })) };
}
