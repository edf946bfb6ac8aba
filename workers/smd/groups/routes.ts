import { eq } from "drizzle-orm";
import type { Context, Hono } from "hono";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { type Db, database, isForeignKeyViolation, isUniqueViolation } from "../../db";
import { components } from "../../db/schema";
import { readJson } from "../../http/body";
import { objectBody, optString, optStringArray } from "../../http/decode";
import { getKey, hasKey, isPlainObject } from "../../http/json-keys";
import { Query } from "../../http/query";
import { createdList, deletedCount, noContent } from "../../http/responses";
import { param, resource } from "../../http/routes";
import { parseComponentFilter } from "../components/filter";
import { filterWhere } from "../components/store";
import {
  groupJson,
  LABEL_RE,
  PARTITION_RE,
  parseGroupBody,
  parsePartitionBody,
  parsePartitionName,
  parseTags,
  partitionJson,
} from "./model";
import * as store from "./store";

const dbOf = (c: Context) => database(c.env.DB);
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

function groupLabelParam(c: Context): string {
  const label = param(c, "label").trim().toLowerCase();
  if (!LABEL_RE.test(label)) throw new HttpProblem(400, "Invalid group label.");
  return label;
}

function partitionParam(c: Context): string {
  const name = param(c, "name").trim().toLowerCase();
  if (!PARTITION_RE.test(name)) throw new HttpProblem(400, "Invalid partition name.");
  return name;
}

/** `?partition=` on group reads: a partition name or NULL; an unknown partition is a 400. */
async function partitionFilter(db: Db, q: Query): Promise<string | undefined> {
  const raw = q.first("partition");
  if (raw === undefined) return undefined;
  const name = raw.trim().toLowerCase();
  if (name === "null") return "NULL";
  if (!PARTITION_RE.test(name)) throw new HttpProblem(400, "Invalid partition name.");
  if (!(await store.partitionExists(db, name))) throw new HttpProblem(400, "bad query param: no such partition");
  return name;
}

function patchFields(raw: unknown, what: "group" | "partition") {
  if (!isPlainObject(raw)) throw new HttpProblem(400, "error decoding JSON: body: expected a JSON object");
  const set: { description?: string; tags?: string[] } = {};
  if (hasKey(raw, "description")) set.description = optString(getKey(raw, "description"), "description") ?? "";
  if (hasKey(raw, "tags")) set.tags = parseTags(getKey(raw, "tags"), what);
  if (set.description === undefined && set.tags === undefined) throw new HttpProblem(400, "Request must have at least one patch field.");
  return set;
}

function memberIdParam(c: Context): string {
  const x = parseXname(param(c, "xname"));
  if (!x) throw new HttpProblem(400, "invalid xname ID");
  return x.id;
}

export function registerGroupRoutes(app: Hono<any>) {
  resource(app, "/groups", {
    GET: async (c) => {
      const q = Query.of(c.req.raw);
      const labels = q.all("group").map((g) => {
        const v = g.trim().toLowerCase();
        if (!LABEL_RE.test(v)) throw new HttpProblem(400, "Invalid group label.");
        return v;
      });
      const tags = q.all("tag").map((t) => {
        const v = t.trim().toLowerCase();
        if (!LABEL_RE.test(v)) throw new HttpProblem(400, "Invalid tag.");
        return v;
      });
      const db = dbOf(c);
      const partition = await partitionFilter(db, q);
      return c.json((await store.listGroups(db, { labels, tags, partition })).map(groupJson));
    },
    POST: async (c) => {
      const g = parseGroupBody(await readJson(c.req.raw));
      const db = dbOf(c);
      await checkMembers(db, g.members);
      await checkExclusive(db, g.label, g.exclusiveGroup, g.members);
      await writeMembers(
        () => store.insertGroup(db, g),
        "operation would conflict with an existing group that has the same label or duplicate ids found in request.",
      );
      return createdList([groupUri(g.label)], "/hsm/v2/groups");
    },
  });
  resource(app, "/groups/labels", { GET: async (c) => c.json(await store.groupLabels(dbOf(c))) });

  resource(app, "/groups/:label/members", {
    GET: async (c) => {
      const label = groupLabelParam(c);
      const db = dbOf(c);
      const [g] = await store.listGroups(db, { labels: [label], partition: await partitionFilter(db, Query.of(c.req.raw)) });
      if (!g) throw new HttpProblem(404, `No such group: ${label}`);
      return c.json({ ids: g.members });
    },
    POST: async (c) => {
      const label = groupLabelParam(c);
      const b = objectBody(await readJson(c.req.raw), ["id"] as const);
      const x = parseXname(optString(b.id, "id") ?? "");
      if (!x) throw new HttpProblem(400, "invalid xname ID");
      const db = dbOf(c);
      const group = await store.groupExists(db, label);
      if (!group) throw new HttpProblem(404, `No such group: ${label}`);
      await checkMembers(db, [x.id]);
      await checkExclusive(db, label, group.exclusiveGroup, [x.id]);
      await writeMembers(
        () => store.addGroupMember(db, label, x.id),
        "operation would conflict with an existing member in the same group.",
      );
      return createdList([`${groupUri(label)}/members/${x.id}`], `${groupUri(label)}/members`);
    },
    PUT: async (c) => {
      const label = groupLabelParam(c);
      const b = objectBody(await readJson(c.req.raw), ["group", "ids"] as const);
      const raw = optStringArray(b.ids, "ids") ?? [];
      const bad = raw.filter((id) => !parseXname(id));
      if (bad.length) throw new HttpProblem(400, `invalid xname IDs: [${bad.join(" ")}]`);
      const ids = [...new Set(raw.map((id) => parseXname(id)!.id))];
      const db = dbOf(c);
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
  });
  resource(app, "/groups/:label/members/:xname", {
    DELETE: async (c) => {
      const label = groupLabelParam(c);
      const id = memberIdParam(c);
      const db = dbOf(c);
      if (!(await store.groupExists(db, label))) throw new HttpProblem(404, `No such group: ${label}`);
      if ((await store.deleteGroupMember(db, label, id)) === 0) throw new HttpProblem(404, "group has no such member.");
      return deletedCount(1);
    },
  });
  resource(app, "/groups/:label", {
    GET: async (c) => {
      const label = groupLabelParam(c);
      const db = dbOf(c);
      const [g] = await store.listGroups(db, { labels: [label], partition: await partitionFilter(db, Query.of(c.req.raw)) });
      if (!g) throw new HttpProblem(404, `No such group: ${label}`);
      return c.json(groupJson(g));
    },
    PATCH: async (c) => {
      const label = groupLabelParam(c);
      const set = patchFields(await readJson(c.req.raw), "group");
      if ((await store.patchGroup(dbOf(c), label, set)) === 0) throw new HttpProblem(404, "no such group.");
      return noContent();
    },
    DELETE: async (c) => {
      if ((await store.deleteGroup(dbOf(c), groupLabelParam(c))) === 0) throw new HttpProblem(404, "no such group.");
      return deletedCount(1);
    },
  });

  // --- partitions ---
  resource(app, "/partitions", {
    GET: async (c) => {
      const q = Query.of(c.req.raw);
      const names = q.all("partition").map((p) => {
        const v = p.trim().toLowerCase();
        if (!PARTITION_RE.test(v)) throw new HttpProblem(400, "Invalid partition name.");
        return v;
      });
      const tags = q.all("tag").map((t) => {
        const v = t.trim().toLowerCase();
        if (!LABEL_RE.test(v)) throw new HttpProblem(400, "Invalid tag.");
        return v;
      });
      return c.json((await store.listPartitions(dbOf(c), { names, tags })).map(partitionJson));
    },
    POST: async (c) => {
      const p = parsePartitionBody(await readJson(c.req.raw));
      const db = dbOf(c);
      await checkMembers(db, p.members);
      if (await store.partitionExists(db, p.name))
        throw new HttpProblem(409, "operation would conflict with an existing partition that has the same name.");
      if ((await store.partitionedAlready(db, p.members)).length)
        throw new HttpProblem(409, "operation would conflict with an existing member in another partition.");
      await writeMembers(() => store.insertPartition(db, p), "operation would conflict with an existing partition that has the same name.");
      return createdList([`/hsm/v2/partitions/${p.name}`], "/hsm/v2/partitions");
    },
  });
  resource(app, "/partitions/names", {
    GET: async (c) => c.json((await store.listPartitions(dbOf(c))).map((p) => p.name)),
  });
  resource(app, "/partitions/:name/members", {
    GET: async (c) => {
      const name = partitionParam(c);
      const [p] = await store.listPartitions(dbOf(c), { names: [name] });
      if (!p) throw new HttpProblem(404, `No such partition: ${name}`);
      return c.json({ ids: p.members });
    },
    POST: async (c) => {
      const name = partitionParam(c);
      const b = objectBody(await readJson(c.req.raw), ["id"] as const);
      const x = parseXname(optString(b.id, "id") ?? "");
      if (!x) throw new HttpProblem(400, "invalid xname ID");
      const db = dbOf(c);
      if (!(await store.partitionExists(db, name))) throw new HttpProblem(404, `No such partition: ${name}`);
      await checkMembers(db, [x.id]);
      if ((await store.partitionedAlready(db, [x.id])).length)
        throw new HttpProblem(409, "operation would conflict with an existing member in another partition.");
      await writeMembers(
        () => store.addPartitionMember(db, name, x.id),
        "operation would conflict with an existing member in another partition.",
      );
      return createdList([`/hsm/v2/partitions/${name}/members/${x.id}`], `/hsm/v2/partitions/${name}/members`);
    },
  });
  resource(app, "/partitions/:name/members/:xname", {
    DELETE: async (c) => {
      const name = partitionParam(c);
      const id = memberIdParam(c);
      if ((await store.deletePartitionMember(dbOf(c), name, id)) === 0) throw new HttpProblem(404, "partition has no such member.");
      return deletedCount(1);
    },
  });
  resource(app, "/partitions/:name", {
    GET: async (c) => {
      const name = partitionParam(c);
      const [p] = await store.listPartitions(dbOf(c), { names: [name] });
      if (!p) throw new HttpProblem(404, `No such partition: ${name}`);
      return c.json(partitionJson(p));
    },
    PATCH: async (c) => {
      const name = partitionParam(c);
      const set = patchFields(await readJson(c.req.raw), "partition");
      if ((await store.patchPartition(dbOf(c), name, set)) === 0) throw new HttpProblem(404, "no such partition.");
      return noContent();
    },
    DELETE: async (c) => {
      if ((await store.deletePartition(dbOf(c), partitionParam(c))) === 0) throw new HttpProblem(404, "no such partition.");
      return deletedCount(1);
    },
  });

  // --- memberships ---
  resource(app, "/memberships", {
    GET: async (c) => {
      const f = parseComponentFilter(Query.of(c.req.raw));
      return c.json(await store.listMemberships(dbOf(c), filterWhere(f)));
    },
  });
  resource(app, "/memberships/:xname", {
    GET: async (c) => {
      const x = parseXname(param(c, "xname"));
      if (!x) throw new HttpProblem(400, "invalid xname");
      const [m] = await store.listMemberships(dbOf(c), eq(components.id, x.id));
      if (!m) throw new HttpProblem(404, `No such xname: ${x.id}`);
      return c.json(m);
    },
  });
}
