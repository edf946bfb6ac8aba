import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import { changes, chunks, type Db, idsInChunks, inList, runBatch, type Statement } from "../../db";
import { components, groupMembers, groups, partitionMembers, partitions } from "../../db/schema";
import type { GroupRecord, PartitionRecord } from "./model";

/** Each group with its member IDs (one query); `partition` narrows the members shown. */
export async function listGroups(db: Db, opts: { labels?: string[]; tags?: string[]; partition?: string } = {}): Promise<GroupRecord[]> {
  const memberScope =
    opts.partition === undefined
      ? sql``
      : opts.partition === "NULL"
        ? sql` AND NOT EXISTS (SELECT 1 FROM ${partitionMembers} p WHERE p.component_id = m.component_id)`
        : sql` AND EXISTS (SELECT 1 FROM ${partitionMembers} p WHERE p.component_id = m.component_id AND p.partition_name = ${opts.partition})`;
  const where: SQL[] = [];
  if (opts.labels?.length) where.push(inList(groups.label, opts.labels));
  if (opts.tags?.length) where.push(sql`EXISTS (SELECT 1 FROM json_each(${groups.tags}) t WHERE ${inList(sql`t.value`, opts.tags)})`);
  const rows = await db
    .select({
      label: groups.label,
      description: groups.description,
      exclusiveGroup: groups.exclusiveGroup,
      tags: groups.tags,
      members: sql<string>`(SELECT json_group_array(component_id) FROM
        (SELECT m.component_id FROM ${groupMembers} m WHERE m.group_label = ${groups.label}${memberScope} ORDER BY m.component_id))`,
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
    (chunk) => sql`SELECT m.component_id AS id FROM json_each(${JSON.stringify(chunk)}) j
      CROSS JOIN ${groupMembers} m ON m.component_id = j.value JOIN ${groups} g ON g.label = m.group_label
      WHERE g.exclusive_group = ${exclusiveGroup} AND g.label <> ${label}`,
  );
}

export async function missingComponents(db: Db, ids: string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const have = new Set(
    await idsInChunks(
      db,
      ids,
      (chunk) => sql`SELECT c.id FROM json_each(${JSON.stringify(chunk)}) j CROSS JOIN ${components} c ON c.id = j.value`,
    ),
  );
  return ids.filter((id) => !have.has(id));
}

function memberInserts(table: "group" | "partition", key: string, ids: string[]): Statement[] {
  if (ids.length === 0) return [];
  return chunks(ids).map((chunk) =>
    table === "group"
      ? sql`INSERT OR IGNORE INTO ${groupMembers} (group_label, component_id) SELECT ${key}, value FROM json_each(${JSON.stringify(chunk)})`
      : sql`INSERT INTO ${partitionMembers} (partition_name, component_id) SELECT ${key}, value FROM json_each(${JSON.stringify(chunk)})`,
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
  await runBatch(db, [sql`DELETE FROM ${groupMembers} WHERE group_label = ${label}`, ...memberInserts("group", label, ids)]);
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
      members: sql<string>`(SELECT json_group_array(component_id) FROM
        (SELECT m.component_id FROM ${partitionMembers} m WHERE m.partition_name = ${partitions.name} ORDER BY m.component_id))`,
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
      sql`SELECT p.component_id AS id FROM json_each(${JSON.stringify(chunk)}) j CROSS JOIN ${partitionMembers} p ON p.component_id = j.value`,
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
      groupLabels: sql<string>`(SELECT json_group_array(group_label) FROM
        (SELECT group_label FROM ${groupMembers} m WHERE m.component_id = ${components.id} ORDER BY group_label))`,
      partitionName: sql<string>`COALESCE((SELECT partition_name FROM ${partitionMembers} p WHERE p.component_id = ${components.id}), '')`,
    })
    .from(components)
    .where(where)
    .orderBy(asc(components.id))
    .all();
  return rows.map((r) => ({ id: r.id, groupLabels: JSON.parse(r.groupLabels), partitionName: r.partitionName }));
}
