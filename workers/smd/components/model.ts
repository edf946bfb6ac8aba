import { HttpProblem } from "../../../shared/problem";
import { bogusNid, parseXname } from "../../../shared/xname";
import type { components } from "../../db/schema";
import { objectBody, optBool, optInt, optString } from "../../http/decode";
import { canonicalValue, type HmsValueKind } from "../hms-values";

export type ComponentRow = typeof components.$inferSelect;

export const COMPONENT_KEYS = [
  "ID",
  "Type",
  "State",
  "Flag",
  "Enabled",
  "SoftwareStatus",
  "Role",
  "SubRole",
  "NID",
  "Subtype",
  "NetType",
  "Arch",
  "Class",
  "ReservationDisabled",
  "Locked",
] as const;

/** Wire form: upstream's field order; everything but ID, Type and Enabled omitted when empty. */
export function componentJson(r: ComponentRow): Record<string, unknown> {
  const out: Record<string, unknown> = { ID: r.id, Type: r.type };
  if (r.state) out.State = r.state;
  if (r.flag) out.Flag = r.flag;
  out.Enabled = r.enabled;
  if (r.softwareStatus) out.SoftwareStatus = r.softwareStatus;
  if (r.role) out.Role = r.role;
  if (r.subRole) out.SubRole = r.subRole;
  if (r.nid >= 0) out.NID = r.nid;
  if (r.subtype) out.Subtype = r.subtype;
  if (r.netType) out.NetType = r.netType;
  if (r.arch) out.Arch = r.arch;
  if (r.class) out.Class = r.class;
  if (r.reservationDisabled) out.ReservationDisabled = true;
  if (r.locked) out.Locked = true;
  return out;
}

export type Projection = "full" | "state" | "flag" | "role" | "nid";

/** The `stateonly`/`flagonly`/`roleonly`/`nidonly` selectors. */
export function projectComponent(r: ComponentRow, p: Projection): Record<string, unknown> {
  switch (p) {
    case "full":
      return componentJson(r);
    case "state":
      return omitEmpty({ ID: r.id, Type: r.type, State: r.state, Flag: r.flag });
    case "flag":
      return omitEmpty({ ID: r.id, Type: r.type, Flag: r.flag });
    case "role":
      return omitEmpty({ ID: r.id, Type: r.type, Role: r.role, SubRole: r.subRole });
    case "nid":
      return r.nid >= 0 ? { ID: r.id, Type: r.type, NID: r.nid } : { ID: r.id, Type: r.type };
  }
}

function omitEmpty(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== ""));
}

/** A validated component as a client asked to store it, before defaults. */
export interface ComponentInput {
  row: ComponentRow;
  /** Fields the client left out, which defaults may fill (Node/VirtualNode). */
  missingNid: boolean;
  missingRole: boolean;
}

const OPTIONAL_ENUMS: ReadonlyArray<[keyof ComponentRow, HmsValueKind, string]> = [
  ["role", "Role", "role"],
  ["subRole", "SubRole", "subRole"],
  ["netType", "NetType", "netType"],
  ["arch", "Arch", "arch"],
  ["class", "Class", "class"],
];

/**
 * Validates one component body (POST/PUT). `prefix` is upstream's error wording:
 * "couldn't validate components" (POST) or "couldn't validate component" (PUT).
 */
export function parseComponentInput(raw: unknown, path: string, prefix: string): ComponentInput {
  const b = objectBody(raw, COMPONENT_KEYS, path);
  const rawId = optString(b.ID, `${path}.ID`) ?? "";
  const xname = parseXname(rawId);
  if (!xname) throw new HttpProblem(400, `${prefix}: xname ID '${rawId}' is invalid`);
  const state = optString(b.State, `${path}.State`) ?? "";
  const canonicalState = canonicalValue("State", state);
  if (!canonicalState) throw new HttpProblem(400, `${prefix}: state '${state}' is invalid`);
  const flag = optString(b.Flag, `${path}.Flag`) ?? "";
  const canonicalFlag = flag === "" ? "OK" : canonicalValue("Flag", flag);
  if (!canonicalFlag) throw new HttpProblem(400, `${prefix}: flag '${flag}' is invalid`);

  const row: ComponentRow = {
    id: xname.id,
    type: xname.type,
    state: canonicalState,
    flag: canonicalFlag,
    enabled: optBool(b.Enabled, `${path}.Enabled`) ?? true,
    softwareStatus: optString(b.SoftwareStatus, `${path}.SoftwareStatus`) ?? "",
    role: "",
    subRole: "",
    nid: -1,
    subtype: optString(b.Subtype, `${path}.Subtype`) ?? "",
    netType: "",
    arch: "",
    class: "",
    reservationDisabled: optBool(b.ReservationDisabled, `${path}.ReservationDisabled`) ?? false,
    locked: optBool(b.Locked, `${path}.Locked`) ?? false,
  };
  for (const [field, kind, label] of OPTIONAL_ENUMS) {
    const value = optString(b[kind], `${path}.${kind}`) ?? "";
    if (value === "") continue;
    const canonical = canonicalValue(kind, value);
    if (!canonical) throw new HttpProblem(400, `${prefix}: ${label} '${value}' is invalid`);
    (row as any)[field] = canonical;
  }
  const nid = optInt(b.NID, `${path}.NID`);
  if (nid !== undefined) row.nid = nid < 0 ? -1 : nid;
  return { row, missingNid: nid === undefined, missingRole: row.role === "" };
}

export interface NodeMapDefaults {
  nid: number;
  role: string;
  subRole: string;
}

/**
 * Upstream's GetCompDefaults for Node/VirtualNode: missing NID and Role come from the NodeMap
 * entry, else NID = the position-derived "bogus" NID and Role = Compute.
 */
export function applyNodeDefaults(input: ComponentInput, nodeMap: NodeMapDefaults | undefined): ComponentRow {
  const row = { ...input.row };
  if (row.type !== "Node" && row.type !== "VirtualNode") return row;
  if (input.missingNid) row.nid = nodeMap?.nid ?? bogusNid(row.id) ?? -1;
  if (input.missingRole) {
    row.role = nodeMap?.role || "Compute";
    if (!row.subRole) row.subRole = nodeMap?.subRole ?? "";
  }
  return row;
}
