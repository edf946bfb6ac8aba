import { asc, eq, sql } from "drizzle-orm";
import { type ClusterDefaults, EMPTY_DEFAULTS, type FileEncoding, type InstanceInfo } from "../boot/types";
import { changes, type Db, runBatch } from "../db";
import { cloudInitClusterDefaults, cloudInitGroups, cloudInitInstances } from "../db/schema";
import type { CloudInitGroup } from "./model";

/** The cloud-init admin data in D1 (the boot path reads it through nodes.ts instead). */

// ----------------------------------------------------------------------------- cluster defaults

export async function getDefaults(db: Db): Promise<ClusterDefaults> {
  const row = await db.select().from(cloudInitClusterDefaults).where(eq(cloudInitClusterDefaults.id, 1)).get();
  if (!row) return EMPTY_DEFAULTS;
  const { id: _id, publicKeys, ...rest } = row;
  return { ...rest, publicKeys: JSON.parse(publicKeys) };
}

export async function putDefaults(db: Db, d: ClusterDefaults): Promise<void> {
  const values = { id: 1, ...d, publicKeys: JSON.stringify(d.publicKeys) };
  await db.insert(cloudInitClusterDefaults).values(values).onConflictDoUpdate({ target: cloudInitClusterDefaults.id, set: values }).run();
}

// ----------------------------------------------------------------------------- groups

type GroupRow = typeof cloudInitGroups.$inferSelect;

function toGroup(r: GroupRow): CloudInitGroup {
  return {
    name: r.name,
    description: r.description,
    metaData: r.metaData === null ? null : JSON.parse(r.metaData),
    file: { content: r.fileContent, filename: r.fileName, encoding: r.fileEncoding as FileEncoding },
    versions: r.versions === null ? null : JSON.parse(r.versions),
  };
}

function groupRow(g: CloudInitGroup): GroupRow {
  return {
    name: g.name,
    description: g.description,
    metaData: g.metaData === null ? null : JSON.stringify(g.metaData),
    fileContent: g.file.content,
    fileName: g.file.filename,
    fileEncoding: g.file.encoding,
    versions: g.versions === null ? null : JSON.stringify(g.versions),
  };
}

export async function listGroups(db: Db): Promise<CloudInitGroup[]> {
  return (await db.select().from(cloudInitGroups).orderBy(asc(cloudInitGroups.name)).all()).map(toGroup);
}

export async function getGroup(db: Db, name: string): Promise<CloudInitGroup | undefined> {
  const row = await db.select().from(cloudInitGroups).where(eq(cloudInitGroups.name, name)).get();
  return row && toGroup(row);
}

/** Inserts a new group; throws D1's UNIQUE error when it exists (the caller answers 409). */
export async function insertGroup(db: Db, g: CloudInitGroup): Promise<void> {
  await db.insert(cloudInitGroups).values(groupRow(g)).run();
}

/** Creates or replaces a group in one transaction; true when it was created. */
export async function upsertGroup(db: Db, g: CloudInitGroup): Promise<boolean> {
  const row = groupRow(g);
  const [existed] = await runBatch(db, [
    sql`SELECT count(*) AS n FROM ${cloudInitGroups} WHERE name = ${g.name}`,
    db.insert(cloudInitGroups).values(row).onConflictDoUpdate({ target: cloudInitGroups.name, set: row }),
  ]);
  return Number((existed.results[0] as { n: number }).n) === 0;
}

export async function deleteGroup(db: Db, name: string): Promise<boolean> {
  return changes(await db.delete(cloudInitGroups).where(eq(cloudInitGroups.name, name)).run()) > 0;
}

// ----------------------------------------------------------------------------- instance info

type InstanceRow = typeof cloudInitInstances.$inferSelect;

const toInstance = (r: InstanceRow): InstanceInfo => ({ ...r, publicKeys: JSON.parse(r.publicKeys) });

export async function listInstances(db: Db): Promise<InstanceInfo[]> {
  return (await db.select().from(cloudInitInstances).orderBy(asc(cloudInitInstances.id)).all()).map(toInstance);
}

export async function getInstance(db: Db, id: string): Promise<InstanceInfo | undefined> {
  const row = await db.select().from(cloudInitInstances).where(eq(cloudInitInstances.id, id)).get();
  return row && toInstance(row);
}

/**
 * Replaces a node's instance-info; an empty instance-id keeps the stored one (upstream keeps the
 * node's id across updates). Returns whether the record was created, and the stored instance-id.
 */
export async function putInstance(db: Db, info: InstanceInfo): Promise<{ created: boolean; instanceId: string }> {
  const row = { ...info, publicKeys: JSON.stringify(info.publicKeys) };
  const { id: _id, instanceId: _iid, ...replace } = row;
  const [existed, , stored] = await runBatch(db, [
    sql`SELECT count(*) AS n FROM ${cloudInitInstances} WHERE id = ${info.id}`,
    db
      .insert(cloudInitInstances)
      .values(row)
      .onConflictDoUpdate({
        target: cloudInitInstances.id,
        set: {
          ...replace,
          instanceId: sql`CASE WHEN excluded.instance_id <> '' THEN excluded.instance_id ELSE ${cloudInitInstances.instanceId} END`,
        },
      }),
    sql`SELECT instance_id AS iid FROM ${cloudInitInstances} WHERE id = ${info.id}`,
  ]);
  return {
    created: Number((existed.results[0] as { n: number }).n) === 0,
    instanceId: (stored.results[0] as { iid: string }).iid,
  };
}

export async function deleteInstance(db: Db, id: string): Promise<boolean> {
  return changes(await db.delete(cloudInitInstances).where(eq(cloudInitInstances.id, id)).run()) > 0;
}
