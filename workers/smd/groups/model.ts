import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { checked, goObject, opt } from "../../http/wire";

/** Group labels, tags and exclusive-group names: lower-cased, letters, digits and `-:._` (upstream's sm.VerifyGroupField). */
export const LABEL_RE = /^[-a-z0-9:._]+$/;
/** Partition names: `p` and a number, optionally `.` and a second one (p1, p2.3). */
export const PARTITION_RE = /^p([0-9]+)(\.([0-9]+))?$/;
/**
 * Upstream keeps group and partition names, tags and exclusive-group names in VARCHAR(255)
 * columns: a longer one passes its checks and then fails in Postgres. Here it is refused up front.
 */
export const MAX_LABEL_LENGTH = 255;

/**
 * The rule a lower-cased label breaks, or undefined. Upstream's character rule, its column length,
 * and one rule of ours: a label of dots only (`.`, `..`) is refused, because in a URL path it is a
 * dot segment that clients and servers remove (RFC 3986 §5.2.4): `/groups/..` can never name the
 * group, so it could not be read or deleted.
 */
export function labelRuleBroken(v: string): string | undefined {
  if (v.length > MAX_LABEL_LENGTH) return `group or partition field is longer than ${MAX_LABEL_LENGTH} characters`;
  if (!LABEL_RE.test(v)) return "group or partition field has invalid characters";
  if (/^\.+$/.test(v)) return "group or partition field is only dots, which a URL path cannot carry";
  return undefined;
}

export interface GroupRecord {
  label: string;
  description: string;
  exclusiveGroup: string;
  tags: string[];
  members: string[];
}

export interface PartitionRecord {
  name: string;
  description: string;
  tags: string[];
  members: string[];
}

type What = "group" | "partition";

// ----------------------------------------------------------------------------- wire form

const Members = goObject({ ids: opt(z.array(z.string())).meta({ description: "xnames", example: ["x1000c0s0b0n0"] }) }).meta({
  id: "Members",
});

const tagList = opt(z.array(z.string())).meta({ description: "lower-cased", example: ["compute"] });

/*
 * The bodies check each field where it is read, type and meaning together, in upstream's order:
 * the first problem is the one answered.
 */
const labelField = (what: What) => opt(z.string()).transform(checked((v: string | null | undefined) => labelish(v ?? "", what)));
const tagsField = (what: What) => tagList.transform(checked((tags: string[] | null | undefined) => parseTags(tags, what)));
const membersField = (what: What) =>
  opt(Members).transform(checked((members: z.output<typeof Members> | null | undefined) => parseMemberIds(members, what)));
const text = opt(z.string()).transform((v) => v ?? "");

/** An SMD group (upstream's sm.Group), keys case-insensitive; as a body, checked: the group it describes. */
export const Group = goObject(
  {
    label: labelField("group").meta({ description: "lower-cased; letters, digits and -:._", example: "compute" }),
    description: text,
    exclusiveGroup: opt(z.string())
      .transform(checked((v: string | null | undefined) => (v ? labelish(v, "group") : "")))
      .meta({ description: "groups sharing it share no member" }),
    tags: tagsField("group"),
    members: membersField("group"),
  },
  { id: "Group" },
);

/** An SMD partition (upstream's sm.Partition), keys case-insensitive; as a body, checked. */
export const Partition = goObject(
  {
    name: opt(z.string())
      .transform(checked((v: string | null | undefined) => parsePartitionName(v ?? "")))
      .meta({ description: "p# or p#.#", example: "p1" }),
    description: text,
    tags: tagsField("partition"),
    members: membersField("partition"),
  },
  { id: "Partition" },
);

/** A PATCH of a group or partition: description and/or tags (anything else is ignored). */
export const GroupPatch = goObject(
  { description: opt(z.string()), tags: tagList },
  { description: "description and/or tags" },
  { notObject: "error decoding JSON: body: expected a JSON object" },
);

/** Wire form: exclusiveGroup and tags omitted when empty, members.ids always present. */
export function groupJson(g: GroupRecord) {
  const out: Record<string, unknown> = { label: g.label, description: g.description };
  if (g.exclusiveGroup) out.exclusiveGroup = g.exclusiveGroup;
  if (g.tags.length) out.tags = g.tags;
  out.members = { ids: g.members };
  return out;
}

export function partitionJson(p: PartitionRecord) {
  const out: Record<string, unknown> = { name: p.name };
  if (p.description) out.description = p.description;
  if (p.tags.length) out.tags = p.tags;
  out.members = { ids: p.members };
  return out;
}

// ----------------------------------------------------------------------------- meaning

function labelish(raw: string, what: What): string {
  const v = raw.trim().toLowerCase();
  const broken = labelRuleBroken(v);
  if (broken) throw new HttpProblem(400, `couldn't validate ${what}: ${broken}`);
  return v;
}

function parseTags(tags: string[] | null | undefined, what: What): string[] {
  return [...new Set((tags ?? []).map((t) => labelish(t, what)))];
}

/** Member IDs: normalised xnames; the first invalid one rejects the request. */
function parseMemberIds(members: z.output<typeof Members> | null | undefined, what: What): string[] {
  // A Set, not Array.includes: 100,000 members took 12 s of CPU that way.
  const out = new Set<string>();
  for (const id of members?.ids ?? []) {
    const x = parseXname(id);
    if (!x) throw new HttpProblem(400, `couldn't validate ${what}: got HMSTypeInvalid instead of valid type`);
    out.add(x.id);
  }
  return [...out];
}

export function parsePartitionName(raw: string): string {
  const name = raw.trim().toLowerCase();
  if (name.length > MAX_LABEL_LENGTH)
    throw new HttpProblem(400, `couldn't validate partition: partition name is longer than ${MAX_LABEL_LENGTH} characters`);
  if (!PARTITION_RE.test(name)) throw new HttpProblem(400, "couldn't validate partition: Bad partition name. Must be p# or p#.#");
  return name;
}

/**
 * A PATCH body's changes: a field given (even as null) is set; upstream wants at least one.
 */
export const patchInput = (what: What) =>
  GroupPatch.transform(
    checked((b) => {
      const set: { description?: string; tags?: string[] } = {};
      if ("description" in b) set.description = b.description ?? "";
      if ("tags" in b) set.tags = parseTags(b.tags, what);
      if (set.description === undefined && set.tags === undefined)
        throw new HttpProblem(400, "Request must have at least one patch field.");
      return set;
    }),
  );
