import { eq } from "drizzle-orm";
import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { type Db, isForeignKeyViolation, isUniqueViolation } from "../../db";
import { components } from "../../db/schema";
import { createdList, deletedCount, noContent } from "../../http/responses";
import { op, type Router, resource } from "../../http/route";
import { checked, empty, goObject, json, jsonBody, opt, problems } from "../../http/wire";
import { ComponentFilterQuery } from "../components/filter";

import { filterWhere } from "../components/store";
import { Group, groupJson, LABEL_RE, MAX_LABEL_LENGTH, PARTITION_RE, Partition, partitionJson, patchInput } from "./model";
import * as store from "./store";

const tags = ["SMD"];
const groupUri = (label: string) => `/hsm/v2/groups/${label}`;

/** Maps constraint failures of member writes to upstream's answers. */
async function writeMembers<T>(write: () => Promise<T>, duplicate: string): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isForeignKeyViolation(err)) throw new HttpProblem(400, "linked component does not exist");
    if (isUniqueViolation(err)) throw new HttpProblem(409, duplicate);
    throw err;
  }
}

async function checkMembers(db: Db, ids: string[]) {
  if ((await store.missingComponents(db, ids)).length) throw new HttpProblem(400, "linked component does not exist");
}

async function checkExclusive(db: Db, label: string, exclusiveGroup: string, ids: string[]) {
  if ((await store.exclusiveClashes(db, label, exclusiveGroup, ids)).length)
    throw new HttpProblem(409, "operation would conflict with an existing member in another exclusive group.");
}

// ----------------------------------------------------------------------------- request parts

/**
 * A label-like value (trimmed, lower-cased), or `detail`. Names that bodies may no longer create
 * only because they are dot-only stay readable here, so one stored before can still be deleted.
 */
function labelLike(raw: string, re: RegExp, detail: string): string {
  const v = raw.trim().toLowerCase();
  if (v.length > MAX_LABEL_LENGTH) throw new HttpProblem(400, `${detail} It is longer than ${MAX_LABEL_LENGTH} characters.`);
  if (!re.test(v)) throw new HttpProblem(400, detail);
  return v;
}

/** A path parameter or a query parameter's values, label-like. */
const labelParam = (re: RegExp, detail: string) => z.string().transform(checked((raw: string) => labelLike(raw, re, detail)));
const labelValues = (re: RegExp, detail: string) =>
  z
    .array(z.string())
    .optional()
    .transform(checked((vs: string[] | undefined) => (vs ?? []).map((v) => labelLike(v, re, detail))));

const label = labelParam(LABEL_RE, "Invalid group label.").meta({ description: "a group label (any case)", example: "compute" });
const partitionName = labelParam(PARTITION_RE, "Invalid partition name.").meta({
  description: "a partition name (p# or p#.#)",
  example: "p1",
});
const memberXname = z
  .string()
  .meta({ description: "a member's xname" })
  .transform(
    checked((raw: string) => {
      const x = parseXname(raw);
      if (!x) throw new HttpProblem(400, "invalid xname ID");
      return x.id;
    }),
  );

const tagFilter = labelValues(LABEL_RE, "Invalid tag.").meta({ description: "tags: any of them" });

/**
 * `?partition=` on group reads: a partition name, or NULL for members in no partition (the first
 * value; an unknown partition is a 400, checked by partitionFilter).
 */
const partitionQuery = z
  .string()
  .optional()
  .meta({ description: "show only members in this partition (NULL: in none)" })
  .transform(
    checked((raw: string | undefined) => {
      if (raw === undefined) return undefined;
      const name = raw.trim().toLowerCase();
      if (name === "null") return "NULL";
      if (!PARTITION_RE.test(name)) throw new HttpProblem(400, "Invalid partition name.");
      return name;
    }),
  );

async function partitionFilter(db: Db, name: string | undefined): Promise<string | undefined> {
  if (name !== undefined && name !== "NULL" && !(await store.partitionExists(db, name)))
    throw new HttpProblem(400, "bad query param: no such partition");
  return name;
}

/** The body adding one member: `{"id": xname}`. */
const NewMember = goObject({
  id: opt(z.string())
    .meta({ description: "an xname", example: "x1000c0s0b0n0" })
    .transform(
      checked((raw: string | null | undefined) => {
        const x = parseXname(raw ?? "");
        if (!x) throw new HttpProblem(400, "invalid xname ID");
        return x.id;
      }),
    ),
});

/** PUT …/members: the new member list; every invalid xname is named. */
const MemberList = goObject({
  ids: opt(z.array(z.string()))
    .meta({ description: "xnames", example: ["x1000c0s0b0n0"] })
    .transform(
      checked((list: string[] | null | undefined) => {
        const ids = new Set<string>();
        const bad: string[] = [];
        for (const raw of list ?? []) {
          const x = parseXname(raw);
          if (x) ids.add(x.id);
          else bad.push(raw);
        }
        if (bad.length) throw new HttpProblem(400, `invalid xname IDs: [${bad.join(" ")}]`);
        return [...ids];
      }),
    ),
});

const MemberIds = z.object({ ids: z.array(z.string()) }).meta({ description: "member xnames, sorted" });
const Membership = z.object({ id: z.string(), groupLabels: z.array(z.string()), partitionName: z.string() }).meta({ id: "Membership" });
const Created = z.array(z.object({ URI: z.string() })).meta({ id: "ResourceURICollection" });
const deleted = json(z.object({ code: z.int(), message: z.string() }), "deleted (`deleted 1 entry`)");

export function registerGroupRoutes(app: Router) {
  resource(app, "/groups", {
    get: op(
      {
        summary: "Groups, optionally by label, tag and partition",
        tags,
        request: {
          query: z.object({
            group: labelValues(LABEL_RE, "Invalid group label.").meta({ description: "labels" }),
            tag: tagFilter,
            partition: partitionQuery,
          }),
        },
        responses: { 200: json(z.array(Group), "the groups, by label"), ...problems(400) },
      },
      async (c) => {
        const { group: labels, tag: tagList, partition } = c.req.valid("query");
        const { db } = c.var;
        return c.json(
          (await store.listGroups(db, { labels, tags: tagList, partition: await partitionFilter(db, partition) })).map(groupJson),
        );
      },
    ),
    post: op(
      {
        summary: "Create a group",
        tags,
        request: { body: jsonBody(Group) },
        responses: { 201: json(Created, "created"), ...problems(400, 409) },
      },
      async (c) => {
        const g = c.req.valid("json");
        const { db } = c.var;
        await checkMembers(db, g.members);
        await checkExclusive(db, g.label, g.exclusiveGroup, g.members);
        await writeMembers(
          () => store.insertGroup(db, g),
          "operation would conflict with an existing group that has the same label or duplicate ids found in request.",
        );
        return createdList([groupUri(g.label)], "/hsm/v2/groups");
      },
    ),
  });
  resource(app, "/groups/labels", {
    get: op({ summary: "Every group label", tags, responses: { 200: json(z.array(z.string()), "the labels, sorted") } }, async (c) =>
      c.json(await store.groupLabels(c.var.db)),
    ),
  });

  resource(app, "/groups/{label}/members", {
    get: op(
      {
        summary: "A group's members",
        tags,
        request: { params: z.object({ label }), query: z.object({ partition: partitionQuery }) },
        responses: { 200: json(MemberIds, "the members"), ...problems(400, 404) },
      },
      async (c) => {
        const { label } = c.req.valid("param");
        const { db } = c.var;
        const partition = await partitionFilter(db, c.req.valid("query").partition);
        const [g] = await store.listGroups(db, { labels: [label], partition });
        if (!g) throw new HttpProblem(404, `No such group: ${label}`);
        return c.json({ ids: g.members });
      },
    ),
    post: op(
      {
        summary: "Add a member to a group",
        tags,
        request: { params: z.object({ label }), body: jsonBody(NewMember) },
        responses: { 201: json(Created, "added"), ...problems(400, 404, 409) },
      },
      async (c) => {
        const { label } = c.req.valid("param");
        const { id } = c.req.valid("json");
        const { db } = c.var;
        const group = await store.groupExists(db, label);
        if (!group) throw new HttpProblem(404, `No such group: ${label}`);
        await checkMembers(db, [id]);
        await checkExclusive(db, label, group.exclusiveGroup, [id]);
        await writeMembers(
          () => store.addGroupMember(db, label, id),
          "operation would conflict with an existing member in the same group.",
        );
        return createdList([`${groupUri(label)}/members/${id}`], `${groupUri(label)}/members`);
      },
    ),
    put: op(
      {
        summary: "Replace a group's members",
        tags,
        request: { params: z.object({ label }), body: jsonBody(MemberList) },
        responses: { 201: json(Created, "the members now"), 204: empty("no members now"), ...problems(400, 404, 409) },
      },
      async (c) => {
        const { label } = c.req.valid("param");
        const { ids } = c.req.valid("json");
        const { db } = c.var;
        const group = await store.groupExists(db, label);
        if (!group) throw new HttpProblem(404, `No such group: ${label}`);
        await checkMembers(db, ids);
        await checkExclusive(db, label, group.exclusiveGroup, ids);
        await writeMembers(() => store.setGroupMembers(db, label, ids), "duplicate ids found in request.");
        return createdList(
          ids.map((id) => `${groupUri(label)}/members/${id}`),
          `${groupUri(label)}/members`,
        );
      },
    ),
  });
  resource(app, "/groups/{label}/members/{xname}", {
    delete: op(
      {
        summary: "Remove a member from a group",
        tags,
        request: { params: z.object({ label, xname: memberXname }) },
        responses: { 200: deleted, ...problems(400, 404) },
      },
      async (c) => {
        const { label, xname: id } = c.req.valid("param");
        const { db } = c.var;
        if (!(await store.groupExists(db, label))) throw new HttpProblem(404, `No such group: ${label}`);
        if ((await store.deleteGroupMember(db, label, id)) === 0) throw new HttpProblem(404, "group has no such member.");
        return deletedCount(1);
      },
    ),
  });
  resource(app, "/groups/{label}", {
    get: op(
      {
        summary: "A group",
        tags,
        request: { params: z.object({ label }), query: z.object({ partition: partitionQuery }) },
        responses: { 200: json(Group, "the group"), ...problems(400, 404) },
      },
      async (c) => {
        const { label } = c.req.valid("param");
        const { db } = c.var;
        const partition = await partitionFilter(db, c.req.valid("query").partition);
        const [g] = await store.listGroups(db, { labels: [label], partition });
        if (!g) throw new HttpProblem(404, `No such group: ${label}`);
        return c.json(groupJson(g));
      },
    ),
    patch: op(
      {
        summary: "Change a group's description and/or tags",
        tags,
        request: { params: z.object({ label }), body: jsonBody(patchInput("group")) },
        responses: { 204: empty("changed"), ...problems(400, 404) },
      },
      async (c) => {
        if ((await store.patchGroup(c.var.db, c.req.valid("param").label, c.req.valid("json"))) === 0)
          throw new HttpProblem(404, "no such group.");
        return noContent();
      },
    ),
    delete: op(
      { summary: "Delete a group", tags, request: { params: z.object({ label }) }, responses: { 200: deleted, ...problems(400, 404) } },
      async (c) => {
        if ((await store.deleteGroup(c.var.db, c.req.valid("param").label)) === 0) throw new HttpProblem(404, "no such group.");
        return deletedCount(1);
      },
    ),
  });

  // --- partitions ---
  resource(app, "/partitions", {
    get: op(
      {
        summary: "Partitions, optionally by name and tag",
        tags,
        request: {
          query: z.object({
            partition: labelValues(PARTITION_RE, "Invalid partition name.").meta({ description: "names" }),
            tag: tagFilter,
          }),
        },
        responses: { 200: json(z.array(Partition), "the partitions, by name"), ...problems(400) },
      },
      async (c) => {
        const { partition: names, tag: tagList } = c.req.valid("query");
        return c.json((await store.listPartitions(c.var.db, { names, tags: tagList })).map(partitionJson));
      },
    ),
    post: op(
      {
        summary: "Create a partition",
        description: "A component is in at most one partition.",
        tags,
        request: { body: jsonBody(Partition) },
        responses: { 201: json(Created, "created"), ...problems(400, 409) },
      },
      async (c) => {
        const p = c.req.valid("json");
        const { db } = c.var;
        await checkMembers(db, p.members);
        if (await store.partitionExists(db, p.name))
          throw new HttpProblem(409, "operation would conflict with an existing partition that has the same name.");
        if ((await store.partitionedAlready(db, p.members)).length)
          throw new HttpProblem(409, "operation would conflict with an existing member in another partition.");
        await writeMembers(
          () => store.insertPartition(db, p),
          "operation would conflict with an existing partition that has the same name.",
        );
        return createdList([`/hsm/v2/partitions/${p.name}`], "/hsm/v2/partitions");
      },
    ),
  });
  resource(app, "/partitions/names", {
    get: op({ summary: "Every partition name", tags, responses: { 200: json(z.array(z.string()), "the names, sorted") } }, async (c) =>
      c.json((await store.listPartitions(c.var.db)).map((p) => p.name)),
    ),
  });
  resource(app, "/partitions/{name}/members", {
    get: op(
      {
        summary: "A partition's members",
        tags,
        request: { params: z.object({ name: partitionName }) },
        responses: { 200: json(MemberIds, "the members"), ...problems(400, 404) },
      },
      async (c) => {
        const { name } = c.req.valid("param");
        const [p] = await store.listPartitions(c.var.db, { names: [name] });
        if (!p) throw new HttpProblem(404, `No such partition: ${name}`);
        return c.json({ ids: p.members });
      },
    ),
    post: op(
      {
        summary: "Add a member to a partition",
        tags,
        request: { params: z.object({ name: partitionName }), body: jsonBody(NewMember) },
        responses: { 201: json(Created, "added"), ...problems(400, 404, 409) },
      },
      async (c) => {
        const { name } = c.req.valid("param");
        const { id } = c.req.valid("json");
        const { db } = c.var;
        if (!(await store.partitionExists(db, name))) throw new HttpProblem(404, `No such partition: ${name}`);
        await checkMembers(db, [id]);
        if ((await store.partitionedAlready(db, [id])).length)
          throw new HttpProblem(409, "operation would conflict with an existing member in another partition.");
        await writeMembers(
          () => store.addPartitionMember(db, name, id),
          "operation would conflict with an existing member in another partition.",
        );
        return createdList([`/hsm/v2/partitions/${name}/members/${id}`], `/hsm/v2/partitions/${name}/members`);
      },
    ),
  });
  resource(app, "/partitions/{name}/members/{xname}", {
    delete: op(
      {
        summary: "Remove a member from a partition",
        tags,
        request: { params: z.object({ name: partitionName, xname: memberXname }) },
        responses: { 200: deleted, ...problems(400, 404) },
      },
      async (c) => {
        const { name, xname: id } = c.req.valid("param");
        if ((await store.deletePartitionMember(c.var.db, name, id)) === 0) throw new HttpProblem(404, "partition has no such member.");
        return deletedCount(1);
      },
    ),
  });
  resource(app, "/partitions/{name}", {
    get: op(
      {
        summary: "A partition",
        tags,
        request: { params: z.object({ name: partitionName }) },
        responses: { 200: json(Partition, "the partition"), ...problems(400, 404) },
      },
      async (c) => {
        const { name } = c.req.valid("param");
        const [p] = await store.listPartitions(c.var.db, { names: [name] });
        if (!p) throw new HttpProblem(404, `No such partition: ${name}`);
        return c.json(partitionJson(p));
      },
    ),
    patch: op(
      {
        summary: "Change a partition's description and/or tags",
        tags,
        request: { params: z.object({ name: partitionName }), body: jsonBody(patchInput("partition")) },
        responses: { 204: empty("changed"), ...problems(400, 404) },
      },
      async (c) => {
        if ((await store.patchPartition(c.var.db, c.req.valid("param").name, c.req.valid("json"))) === 0)
          throw new HttpProblem(404, "no such partition.");
        return noContent();
      },
    ),
    delete: op(
      {
        summary: "Delete a partition",
        tags,
        request: { params: z.object({ name: partitionName }) },
        responses: { 200: deleted, ...problems(400, 404) },
      },
      async (c) => {
        if ((await store.deletePartition(c.var.db, c.req.valid("param").name)) === 0) throw new HttpProblem(404, "no such partition.");
        return deletedCount(1);
      },
    ),
  });

  // --- memberships ---
  resource(app, "/memberships", {
    get: op(
      {
        summary: "Every component's groups and partition, filtered as /State/Components",
        tags,
        request: { query: ComponentFilterQuery },
        responses: { 200: json(z.array(Membership), "memberships, by component ID"), ...problems(400) },
      },
      async (c) => c.json(await store.listMemberships(c.var.db, filterWhere(c.req.valid("query")))),
    ),
  });
  resource(app, "/memberships/{xname}", {
    get: op(
      {
        summary: "A component's groups and partition",
        tags,
        request: {
          params: z.object({
            xname: z
              .string()
              .meta({ description: "a component's xname" })
              .transform(
                checked((raw: string) => {
                  const x = parseXname(raw);
                  if (!x) throw new HttpProblem(400, "invalid xname");
                  return x.id;
                }),
              ),
          }),
        },
        responses: { 200: json(Membership, "the membership"), ...problems(400, 404) },
      },
      async (c) => {
        const { xname: id } = c.req.valid("param");
        const [m] = await store.listMemberships(c.var.db, eq(components.id, id));
        if (!m) throw new HttpProblem(404, `No such xname: ${id}`);
        return c.json(m);
      },
    ),
  });
}
