import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { bare, changes, chunks, type Db, idsInChunks, inList, runBatch, type Statement } from "../../db";
import { components, groupMembers, groups, partitionMembers, partitions } from "../../db/schema";
import type { GroupRecord, PartitionRecord } from "./model";

/**
 * `table.column` spelt out: drizzle leaves columns of a one-table select unqualified, which a
 * correlated subquery would resolve against its own tables. `m` and `p` name the membership
 * tables inside those subqueries.
 */
const qualified = (table: string, column: SQLiteColumn) => sql`${sql.identifier(table)}.${bare(column)}`;
const m = {
  table: sql`${groupMembers} m`,
  componentId: qualified("m", groupMembers.componentId),
  groupLabel: qualified("m", groupMembers.groupLabel),
};
const p = {
  table: sql`${partitionMembers} p`,
  componentId: qualified("p", partitionMembers.componentId),
  partitionName: qualified("p", partitionMembers.partitionName),
};
const groupLabel = qualified("groups", groups.label);
const partitionName = qualified("partitions", partitions.name);
const componentId = qualified("components", components.id);

/** Each group with its member IDs (one query); `partition` narrows the members shown. */
export async function listGroups(db: Db, opts: { labels?: string[]; tags?: string[]; partition?: string } = {}): Promise<GroupRecord[]> {
  const memberScope =
    opts.partition === undefined
      ? sql``
      : opts.partition === "NULL"
        ? sql` AND NOT EXISTS (SELECT 1 FROM ${p.table} WHERE ${p.componentId} = ${m.componentId})`
        : sql` AND EXISTS (SELECT 1 FROM ${p.table} WHERE ${p.componentId} = ${m.componentId} AND ${p.partitionName} = ${opts.partition})`;
  const where: SQL[] = [];
  if (opts.labels?.length) where.push(inList(groups.label, opts.labels));
  if (opts.tags?.length) where.push(sql`EXISTS (SELECT 1 FROM json_each(${groups.tags}) t WHERE ${inList(sql`t.value`, opts.tags)})`);
  const rows = await db
    .select({
      label: groups.label,
      description: groups.description,
      exclusiveGroup: groups.exclusiveGroup,
      tags: groups.tags,
      members: sql<string>`(SELECT json_group_array(member) FROM
        (SELECT ${m.componentId} AS member FROM ${m.table} WHERE ${m.groupLabel} = ${groupLabel}${memberScope} ORDER BY ${m.componentId}))`,
    })
    .from(groups)
    .where(and(...where))
    .orderBy(asc(groups.label))
    .all();
  return rows.map((r) => ({ ...r, tags: JSON.parse(r.tags), members: JSON.parse(r.members) }));
}

export async function groupLabels(db: Db): Promise<string[]> {
  return (await db.select({ label: groups.label }).from(groups).orderBy(asc(groups.label)).all()).map((r) => r.label);
}

export async function groupExists(db: Db, label: string): Promise<{ exclusiveGroup: string } | undefined> {
  return db.select({ exclusiveGroup: groups.exclusiveGroup }).from(groups).where(eq(groups.label, label)).get();
}

/**
 * Members of `ids` already in another group of the same exclusive set: such a group may not
 * share members (409).
 */
export async function exclusiveClashes(db: Db, label: string, exclusiveGroup: string, ids: string[]): Promise<string[]> {
  if (!exclusiveGroup || ids.length === 0) return [];
  return idsInChunks(
    db,
    ids,
    (chunk) => sql`SELECT ${groupMembers.componentId} AS id FROM json_each(${JSON.stringify(chunk)}) j
      CROSS JOIN ${groupMembers} ON ${groupMembers.componentId} = j.value JOIN ${groups} ON ${groups.label} = ${groupMembers.groupLabel}
      WHERE ${groups.exclusiveGroup} = ${exclusiveGroup} AND ${groups.label} <> ${label}`,
  );
}

export async function missingComponents(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const have = new Set(
    await idsInChunks(
      db,
      ids,
      (chunk) =>
        sql`SELECT ${components.id} AS id FROM json_each(${JSON.stringify(chunk)}) j CROSS JOIN ${components} ON ${components.id} = j.value`,
    ),
  );
  return ids.filter((id) => !have.has(id));
}

function memberInserts(table: "group" | "partition", key: string, ids: string[]): Statement[] {
  if (ids.length === 0) return [];
  return chunks(ids).map((chunk) =>
    table === "group"
      ? sql`INSERT OR IGNORE INTO ${groupMembers} (${bare(groupMembers.groupLabel)}, ${bare(groupMembers.componentId)})
          SELECT ${key}, value FROM json_each(${JSON.stringify(chunk)})`
      : sql`INSERT INTO ${partitionMembers} (${bare(partitionMembers.partitionName)}, ${bare(partitionMembers.componentId)})
          SELECT ${key}, value FROM json_each(${JSON.stringify(chunk)})`,
  );
}

export async function insertGroup(db: Db, g: GroupRecord): Promise<void> {
  await runBatch(db, [
    db
      .insert(groups)
      .values({ label: g.label, description: g.description, exclusiveGroup: g.exclusiveGroup, tags: JSON.stringify(g.tags) }),
    ...memberInserts("group", g.label, g.members),
  ]);
}

export async function patchGroup(db: Db, label: string, set: { description?: string; tags?: string[] }): Promise<number> {
  const values: Record<string, string> = {};
  if (set.description !== undefined) values.description = set.description;
  if (set.tags !== undefined) values.tags = JSON.stringify(set.tags);
  return changes(await db.update(groups).set(values).where(eq(groups.label, label)).run());
}

export async function deleteGroup(db: Db, label: string): Promise<number> {
  return changes(await db.delete(groups).where(eq(groups.label, label)).run());
}

export async function addGroupMember(db: Db, label: string, id: string): Promise<void> {
  await db.insert(groupMembers).values({ groupLabel: label, componentId: id }).run();
}

export async function setGroupMembers(db: Db, label: string, ids: string[]): Promise<void> {
  await runBatch(db, [db.delete(groupMembers).where(eq(groupMembers.groupLabel, label)), ...memberInserts("group", label, ids)]);
}

export async function deleteGroupMember(db: Db, label: string, id: string): Promise<number> {
  return changes(
    await db
      .delete(groupMembers)
      .where(and(eq(groupMembers.groupLabel, label), eq(groupMembers.componentId, id)))
      .run(),
  );
}

// --- partitions ---------------------------------------------------------------------------------

export async function listPartitions(db: Db, opts: { names?: string[]; tags?: string[] } = {}): Promise<PartitionRecord[]> {
  const where: SQL[] = [];
  if (opts.names?.length) where.push(inList(partitions.name, opts.names));
  if (opts.tags?.length) where.push(sql`EXISTS (SELECT 1 FROM json_each(${partitions.tags}) t WHERE ${inList(sql`t.value`, opts.tags)})`);
  const rows = await db
    .select({
      name: partitions.name,
      description: partitions.description,
      tags: partitions.tags,
      members: sql<string>`(SELECT json_group_array(member) FROM
        (SELECT ${p.componentId} AS member FROM ${p.table} WHERE ${p.partitionName} = ${partitionName} ORDER BY ${p.componentId}))`,
    })
    .from(partitions)
    .where(and(...where))
    .orderBy(asc(partitions.name))
    .all();
  return rows.map((r) => ({ ...r, tags: JSON.parse(r.tags), members: JSON.parse(r.members) }));
}

export async function partitionExists(db: Db, name: string): Promise<boolean> {
  return (await db.select({ name: partitions.name }).from(partitions).where(eq(partitions.name, name)).get()) !== undefined;
}

/** Components of `ids` already in some partition (a component is in at most one). */
export async function partitionedAlready(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  return idsInChunks(
    db,
    ids,
    (chunk) =>
      sql`SELECT ${partitionMembers.componentId} AS id FROM json_each(${JSON.stringify(chunk)}) j
        CROSS JOIN ${partitionMembers} ON ${partitionMembers.componentId} = j.value`,
  );
}

export async function insertPartition(db: Db, p: PartitionRecord): Promise<void> {
  await runBatch(db, [
    db.insert(partitions).values({ name: p.name, description: p.description, tags: JSON.stringify(p.tags) }),
    ...memberInserts("partition", p.name, p.members),
  ]);
}

export async function patchPartition(db: Db, name: string, set: { description?: string; tags?: string[] }): Promise<number> {
  const values: Record<string, string> = {};
  if (set.description !== undefined) values.description = set.description;
  if (set.tags !== undefined) values.tags = JSON.stringify(set.tags);
  return changes(await db.update(partitions).set(values).where(eq(partitions.name, name)).run());
}

export async function deletePartition(db: Db, name: string): Promise<number> {
  return changes(await db.delete(partitions).where(eq(partitions.name, name)).run());
}

export async function addPartitionMember(db: Db, name: string, id: string): Promise<void> {
  await db.insert(partitionMembers).values({ partitionName: name, componentId: id }).run();
}

export async function deletePartitionMember(db: Db, name: string, id: string): Promise<number> {
  return changes(
    await db
      .delete(partitionMembers)
      .where(and(eq(partitionMembers.partitionName, name), eq(partitionMembers.componentId, id)))
      .run(),
  );
}

// --- memberships --------------------------------------------------------------------------------

export interface Membership {
  id: string;
  groupLabels: string[];
  partitionName: string;
}

/** One entry per component matching `where` (components in no group included). */
export async function listMemberships(db: Db, where?: SQL): Promise<Membership[]> {
  const rows = await db
    .select({
      id: components.id,
      groupLabels: sql<string>`(SELECT json_group_array(label) FROM
        (SELECT ${m.groupLabel} AS label FROM ${m.table} WHERE ${m.componentId} = ${componentId} ORDER BY ${m.groupLabel}))`,
      partitionName: sql<string>`COALESCE((SELECT ${p.partitionName} FROM ${p.table} WHERE ${p.componentId} = ${componentId}), '')`,
    })
    .from(components)
    .where(where)
    .orderBy(asc(components.id))
    .all();
  return rows.map((r) => ({ id: r.id, groupLabels: JSON.parse(r.groupLabels), partitionName: r.partitionName }));
}
