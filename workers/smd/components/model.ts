import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { bogusNid, parseXname } from "../../../shared/xname";
import type { components } from "../../db/schema";
import { checked, goInt, goObject, opt } from "../../http/wire";
import { canonicalValue, type HmsValueKind } from "../hms-values";

export type ComponentRow = typeof components.$inferSelect;

// ----------------------------------------------------------------------------- wire form

/**
 * An SMD component (upstream's rf.Component), fields in upstream's order. As a request body every
 * field is optional and keys are case-insensitive; `Type` is derived from the ID (a body's is
 * ignored, whatever its JSON type). An answer has ID, Type and Enabled always, the rest when set.
 */
export const Component = goObject(
  {
    ID: opt(z.string()).meta({ description: "the xname", example: "x1000c0s0b0n0" }),
    Type: z
      .unknown()
      .transform(() => undefined)
      .optional()
      .meta({ type: "string", description: "the HMS type, from the ID (a body's is ignored)", example: "Node" }),
    State: opt(z.string()).meta({ description: "HMS state (required on input)", example: "On" }),
    Flag: opt(z.string()).meta({ description: "HMS flag; default OK", example: "OK" }),
    Enabled: opt(z.boolean()).meta({ description: "default true" }),
    SoftwareStatus: opt(z.string()),
    Role: opt(z.string()).meta({ description: "HMS role; a Node's default is its NodeMap's, else Compute", example: "Compute" }),
    SubRole: opt(z.string()),
    NID: opt(goInt).meta({ description: "a Node's default is its NodeMap's, else one derived from its position" }),
    Subtype: opt(z.string()),
    NetType: opt(z.string()),
    Arch: opt(z.string()),
    Class: opt(z.string()),
    ReservationDisabled: opt(z.boolean()),
    Locked: opt(z.boolean()),
  },
  { id: "Component", description: "An SMD component: case-insensitive HMS values, stored in their canonical spelling" },
);

export type ComponentWire = z.output<typeof Component>;

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

// ----------------------------------------------------------------------------- validation

/** A validated component as a client asked to store it, before defaults. */
export interface ComponentInput {
  row: ComponentRow;
  /** Fields the client left out, which defaults may fill (Node/VirtualNode). */
  missingNid: boolean;
  missingRole: boolean;
}

const OPTIONAL_ENUMS: ReadonlyArray<[keyof ComponentRow, HmsValueKind & keyof ComponentWire, string]> = [
  ["role", "Role", "role"],
  ["subRole", "SubRole", "subRole"],
  ["netType", "NetType", "netType"],
  ["arch", "Arch", "arch"],
  ["class", "Class", "class"],
];

/**
 * What a component body means, with upstream's messages. `prefix` is upstream's wording:
 * "couldn't validate components" (POST) or "couldn't validate component" (PUT).
 */
export function parseComponentInput(b: ComponentWire, prefix: string): ComponentInput {
  const rawId = b.ID ?? "";
  const xname = parseXname(rawId);
  if (!xname) throw new HttpProblem(400, `${prefix}: xname ID '${rawId}' is invalid`);
  const state = b.State ?? "";
  const canonicalState = canonicalValue("State", state);
  if (!canonicalState) throw new HttpProblem(400, `${prefix}: state '${state}' is invalid`);
  const flag = b.Flag ?? "";
  const canonicalFlag = flag === "" ? "OK" : canonicalValue("Flag", flag);
  if (!canonicalFlag) throw new HttpProblem(400, `${prefix}: flag '${flag}' is invalid`);

  const row: ComponentRow = {
    id: xname.id,
    type: xname.type,
    state: canonicalState,
    flag: canonicalFlag,
    enabled: b.Enabled ?? true,
    softwareStatus: b.SoftwareStatus ?? "",
    role: "",
    subRole: "",
    nid: -1,
    subtype: b.Subtype ?? "",
    netType: "",
    arch: "",
    class: "",
    reservationDisabled: b.ReservationDisabled ?? false,
    locked: b.Locked ?? false,
  };
  for (const [field, kind, label] of OPTIONAL_ENUMS) {
    const value = b[kind];
    if (!value) continue;
    const canonical = canonicalValue(kind, value);
    if (!canonical) throw new HttpProblem(400, `${prefix}: ${label} '${value}' is invalid`);
    (row as Record<string, unknown>)[field] = canonical;
  }
  const nid = b.NID ?? undefined;
  if (nid !== undefined) row.nid = nid < 0 ? -1 : nid;
  return { row, missingNid: nid === undefined, missingRole: row.role === "" };
}

/** A component body checked as `prefix`'s route words it (documented as Component). */
export const componentInput = (prefix: string) => Component.transform(checked((b: ComponentWire) => parseComponentInput(b, prefix)));

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
