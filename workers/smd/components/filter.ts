import { HttpProblem } from "../../../shared/problem";
import { canonicalHmsType, parseXname } from "../../../shared/xname";
import { canonicalValue, type HmsValueKind } from "../hms-values";
import { type Terms, parseTerms as terms } from "../terms";
import type { Projection } from "./model";

/**
 * Component filters (SMD §4.3): the query keys of GET /State/Components, /memberships and
 * /State/Components/Query/{xname}, and the same keys in the POST Query bodies.
 * Values of one key are OR-ed, `!value` negates (negations AND-ed), keys are AND-ed.
 */
export interface ComponentFilter {
  id: Terms<string>;
  type: Terms<string>;
  state: Terms<string>;
  flag: Terms<string>;
  enabled: Terms<boolean>;
  softwareStatus: Terms<string>;
  role: Terms<string>;
  subRole: Terms<string>;
  subtype: Terms<string>;
  arch: Terms<string>;
  class: Terms<string>;
  nid: Terms<number>;
  nidRanges: Array<[number, number]>;
  groups: string[];
  partitions: string[];
  locked: Terms<boolean>;
  reservationDisabled: Terms<boolean>;
  projection: Projection;
}

/** Where filter values come from: URL query or a JSON body, names case-insensitive. */
export interface FilterSource {
  all(name: string): string[];
  flag(name: string): boolean;
}

const LABEL_RE = /^[-a-z0-9:._]+$/;
const PARTITION_RE = /^p([0-9]+)(\.([0-9]+))?$/;

function bad(msg: string): HttpProblem {
  return new HttpProblem(400, `bad query param: ${msg}`);
}

const BOOL_VALUES: Record<string, boolean> = { true: true, t: true, "1": true, false: false, f: false, "0": false };

function parseBool(v: string): boolean {
  const b = BOOL_VALUES[v.trim().toLowerCase()];
  if (b === undefined) throw bad("a required argument did not match any valid input");
  return b;
}

function parseEnum(kind: HmsValueKind, label: string) {
  return (v: string) => {
    if (v === "") return "";
    const c = canonicalValue(kind, v);
    if (!c) throw bad(`Argument was not a valid HMS ${label}`);
    return c;
  };
}

function parseRequiredEnum(kind: HmsValueKind, label: string) {
  return (v: string) => {
    const c = canonicalValue(kind, v);
    if (!c) throw bad(`Argument was not a valid HMS ${label}`);
    return c;
  };
}

/** An empty NID value means "no NID" (-1), as upstream. */
function parseNid(v: string): number {
  if (v.trim() === "") return -1;
  if (!/^-?[0-9]+$/.test(v.trim())) throw bad("a required argument was not an integer");
  return Number(v);
}

export function parseComponentFilter(src: FilterSource): ComponentFilter {
  const nidStarts = src.all("nid_start").map(parseNid);
  const nidEnds = src.all("nid_end").map(parseNid);
  const nidRanges: Array<[number, number]> = [];
  for (let i = 0; i < Math.max(nidStarts.length, nidEnds.length); i++) {
    nidRanges.push([nidStarts[i] ?? 0, nidEnds[i] ?? Number.MAX_SAFE_INTEGER]);
  }
  const groups = src.all("group").map((g) => {
    const label = g.trim().toLowerCase();
    if (label !== "null" && !LABEL_RE.test(label)) throw bad("no such group");
    return label === "null" ? "NULL" : label;
  });
  const partitions = src.all("partition").map((p) => {
    const name = p.trim().toLowerCase();
    if (name !== "null" && !PARTITION_RE.test(name)) throw bad("no such partition");
    return name === "null" ? "NULL" : name;
  });
  if (groups.length > 1 && partitions.length > 1) {
    throw new HttpProblem(400, "bad query param: group and partition cannot both have more than one value");
  }
  const projection: Projection = src.flag("stateonly")
    ? "state"
    : src.flag("flagonly")
      ? "flag"
      : src.flag("roleonly")
        ? "role"
        : src.flag("nidonly")
          ? "nid"
          : "full";
  return {
    id: terms(src.all("id"), (v) => {
      const x = parseXname(v);
      if (!x) throw bad("Argument was not a valid xname ID");
      return x.id;
    }),
    type: terms(src.all("type"), (v) => {
      if (v === "") return "";
      const t = canonicalHmsType(v);
      if (!t) throw bad("Argument was not a valid HMS Type");
      return t;
    }),
    state: terms(src.all("state"), parseRequiredEnum("State", "State")),
    flag: terms(src.all("flag"), parseRequiredEnum("Flag", "Flag")),
    enabled: terms(src.all("enabled"), parseBool),
    softwareStatus: terms(src.all("softwarestatus"), (v) => v),
    role: terms(src.all("role"), parseEnum("Role", "Role")),
    subRole: terms(src.all("subrole"), parseEnum("SubRole", "SubRole")),
    subtype: terms(src.all("subtype"), (v) => {
      if (!/^[A-Za-z0-9]*$/.test(v)) throw bad("Argument was not a valid subtype");
      return v;
    }),
    arch: terms(src.all("arch"), parseEnum("Arch", "Arch")),
    class: terms(src.all("class"), parseEnum("Class", "Class")),
    nid: terms(src.all("nid"), parseNid),
    nidRanges,
    groups,
    partitions,
    locked: terms(src.all("locked"), parseBool),
    reservationDisabled: terms(src.all("reservation_disabled"), parseBool),
    projection,
  };
}

/** A FilterSource over a JSON body (POST Query forms): scalars and arrays, keys case-insensitive. */
export function jsonFilterSource(body: Record<string, unknown>): FilterSource {
  const lower = new Map<string, unknown>();
  for (const [k, v] of Object.entries(body)) lower.set(k.toLowerCase(), v);
  const values = (name: string): string[] => {
    const v = lower.get(name.toLowerCase());
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    return list.map((x) => (typeof x === "string" ? x : String(x)));
  };
  return {
    all: values,
    flag: (name) => {
      const v = lower.get(name.toLowerCase());
      return v === true || (typeof v === "string" && /^(1|t|true)$/i.test(v));
    },
  };
}
