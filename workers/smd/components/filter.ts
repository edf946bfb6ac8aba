import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { canonicalHmsType, parseXname } from "../../../shared/xname";
import { checked, queryFlag } from "../../http/wire";
import { canonicalValue, type HmsValueKind } from "../hms-values";
import { type Terms, parseTerms as terms } from "../terms";
import type { Projection } from "./model";

/**
 * Component filters: the query keys of GET /State/Components, /memberships and
 * /State/Components/Query/{xname}, and the same keys in the bodies of POST /State/Components/Query
 * and /State/Components/ByNID/Query. Values of one key are OR-ed, `!value` negates (negations
 * AND-ed), keys are AND-ed. One grammar (componentFilter) serves both forms; they differ only in
 * how values arrive (query strings, or JSON scalars and arrays).
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

/** The keys taking values (each may be repeated), as upstream names them, lower-case. */
const TERM_KEYS = {
  id: "xnames",
  type: "HMS types (Node, NodeBMC, …)",
  state: "HMS states",
  flag: "HMS flags",
  enabled: "true or false",
  softwarestatus: "software statuses",
  role: "HMS roles; empty for none",
  subrole: "HMS subroles; empty for none",
  subtype: "subtypes (letters and digits)",
  arch: "HMS architectures",
  class: "HMS classes",
  nid: "NIDs; empty for none",
  nid_start: "NID range starts, paired in order with nid_end",
  nid_end: "NID range ends, paired in order with nid_start",
  group: "group labels, or NULL for components in no group",
  partition: "partition names, or NULL for components in no partition",
  locked: "true or false",
  reservation_disabled: "true or false",
} as const;

/** Flags choosing which fields each component shows (`stateonly` wins over `flagonly`, …). */
const FLAG_KEYS = {
  stateonly: "ID, Type, State and Flag only",
  flagonly: "ID, Type and Flag only",
  roleonly: "ID, Type, Role and SubRole only",
  nidonly: "ID, Type and NID only",
} as const;

type TermKey = keyof typeof TERM_KEYS;
type FlagKey = keyof typeof FLAG_KEYS;

/** A filter's values however they arrived: every value of each key, and the flags given. */
export type FilterValues = Partial<Record<TermKey, string[]> & Record<FlagKey, boolean>>;

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

/** An HMS value; `empty` accepts "" (components without one). */
function parseEnum(kind: HmsValueKind, empty: boolean) {
  return (v: string) => {
    if (empty && v === "") return "";
    const c = canonicalValue(kind, v);
    if (!c) throw bad(`Argument was not a valid HMS ${kind}`);
    return c;
  };
}

/** An empty NID value means "no NID" (-1), as upstream. */
function parseNid(v: string): number {
  if (v.trim() === "") return -1;
  if (!/^-?[0-9]+$/.test(v.trim())) throw bad("a required argument was not an integer");
  return Number(v);
}

/** The filter grammar, with upstream's messages; the first bad value is a 400. */
export function componentFilter(values: FilterValues): ComponentFilter {
  const all = (key: TermKey) => values[key] ?? [];
  const nidStarts = all("nid_start").map(parseNid);
  const nidEnds = all("nid_end").map(parseNid);
  const nidRanges: Array<[number, number]> = [];
  for (let i = 0; i < Math.max(nidStarts.length, nidEnds.length); i++) {
    nidRanges.push([nidStarts[i] ?? 0, nidEnds[i] ?? Number.MAX_SAFE_INTEGER]);
  }
  const groups = all("group").map((g) => {
    const label = g.trim().toLowerCase();
    if (label !== "null" && !LABEL_RE.test(label)) throw bad("no such group");
    return label === "null" ? "NULL" : label;
  });
  const partitions = all("partition").map((p) => {
    const name = p.trim().toLowerCase();
    if (name !== "null" && !PARTITION_RE.test(name)) throw bad("no such partition");
    return name === "null" ? "NULL" : name;
  });
  if (groups.length > 1 && partitions.length > 1) throw bad("group and partition cannot both have more than one value");
  const projection: Projection = values.stateonly
    ? "state"
    : values.flagonly
      ? "flag"
      : values.roleonly
        ? "role"
        : values.nidonly
          ? "nid"
          : "full";
  return {
    id: terms(all("id"), (v) => {
      const x = parseXname(v);
      if (!x) throw bad("Argument was not a valid xname ID");
      return x.id;
    }),
    type: terms(all("type"), (v) => {
      if (v === "") return "";
      const t = canonicalHmsType(v);
      if (!t) throw bad("Argument was not a valid HMS Type");
      return t;
    }),
    state: terms(all("state"), parseEnum("State", false)),
    flag: terms(all("flag"), parseEnum("Flag", false)),
    enabled: terms(all("enabled"), parseBool),
    softwareStatus: terms(all("softwarestatus"), (v) => v),
    role: terms(all("role"), parseEnum("Role", true)),
    subRole: terms(all("subrole"), parseEnum("SubRole", true)),
    subtype: terms(all("subtype"), (v) => {
      if (!/^[A-Za-z0-9]*$/.test(v)) throw bad("Argument was not a valid subtype");
      return v;
    }),
    arch: terms(all("arch"), parseEnum("Arch", true)),
    class: terms(all("class"), parseEnum("Class", true)),
    nid: terms(all("nid"), parseNid),
    nidRanges,
    groups,
    partitions,
    locked: terms(all("locked"), parseBool),
    reservationDisabled: terms(all("reservation_disabled"), parseBool),
    projection,
  };
}

const mapKeys = <K extends string, V>(keys: Record<K, string>, value: (description: string) => V) =>
  Object.fromEntries(Object.entries<string>(keys).map(([k, d]) => [k, value(d)])) as Record<K, V>;

/**
 * The filter as query parameters (names case-insensitive, keys repeatable): `c.req.valid("query")`
 * is the ComponentFilter.
 */
export const ComponentFilterQuery = z
  .object({
    ...mapKeys(TERM_KEYS, (description) =>
      z
        .array(z.string())
        .optional()
        .meta({ description: `${description}; ! negates` }),
    ),
    ...mapKeys(FLAG_KEYS, (description) => queryFlag.optional().meta({ description })),
  })
  .transform(checked(componentFilter));

/**
 * A filter key in a JSON body: a scalar or an array of them, each read as its text (`"nid":[1,"2"]`
 * is two NIDs); null is no value.
 */
const bodyValues = z
  .unknown()
  .transform((v) => (v === null ? undefined : (Array.isArray(v) ? v : [v]).map((x) => (typeof x === "string" ? x : String(x)))))
  .optional()
  .meta({ anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] });

/** A flag in a JSON body: true, or a string 1, t or true. */
const bodyFlag = z
  .unknown()
  .transform((v) => v === true || (typeof v === "string" && /^(1|t|true)$/i.test(v)))
  .meta({ type: "boolean" });

/** The filter keys of a JSON body (spelt in any case), to spread into a body's goObject shape. */
export const componentFilterFields = {
  ...mapKeys(TERM_KEYS, (description) => bodyValues.meta({ description })),
  ...mapKeys(FLAG_KEYS, (description) => bodyFlag.optional().meta({ description })),
};
