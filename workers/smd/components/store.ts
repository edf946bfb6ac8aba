import { and, asc, eq, or, type SQL, sql } from "drizzle-orm";
import type { SQLiteUpdateSetSource } from "drizzle-orm/sqlite-core";
import {
  anyList,
  bare,
  changes,
  chunks,
  countAndDelete,
  type Db,
  idsInChunks,
  inList,
  jsonRowsInsert,
  notInList,
  runBatch,
  type Statement,
} from "../../db";
import { components, groupMembers, nodeMaps, partitionMembers } from "../../db/schema";
import { selfOrDescendant } from "../hierarchy";
import { termsWhere } from "../terms";
import type { ComponentFilter } from "./filter";
import type { ComponentRow, NodeMapDefaults } from "./model";

/** WHERE clauses for a filter. Group/partition filters are membership subqueries. */
export function filterWhere(f: ComponentFilter): SQL | undefined {
  const parts: SQL[] = [
    ...termsWhere(components.id, f.id),
    ...termsWhere(components.type, f.type),
    ...termsWhere(components.state, f.state),
    ...termsWhere(components.flag, f.flag),
    ...termsWhere(components.enabled, f.enabled),
    ...termsWhere(components.softwareStatus, f.softwareStatus),
    ...termsWhere(components.role, f.role),
    ...termsWhere(components.subRole, f.subRole),
    ...termsWhere(components.subtype, f.subtype),
    ...termsWhere(components.arch, f.arch),
    ...termsWhere(components.class, f.class),
    ...termsWhere(components.locked, f.locked),
    ...termsWhere(components.reservationDisabled, f.reservationDisabled),
  ];
  // NIDs: positive values and ranges are OR-ed together; negations AND-ed. The ranges are bound
  // as JSON: two parameters each passed D1's 100 with the 50th range (a 500).
  const nidAny: SQL[] = [];
  if (f.nid.include.length) nidAny.push(inList(components.nid, f.nid.include));
  if (f.nidRanges.length)
    nidAny.push(
      anyList(
        f.nidRanges.map(([start, end]) => [Math.max(start, 0), end]),
        (json) => sql`EXISTS (SELECT 1 FROM json_each(${json}) r
          WHERE ${components.nid} BETWEEN json_extract(r.value, '$[0]') AND json_extract(r.value, '$[1]'))`,
      ),
    );
  if (nidAny.length) parts.push(or(...nidAny)!);
  if (f.nid.exclude.length) parts.push(notInList(components.nid, f.nid.exclude));

  if (f.groups.length) {
    const labels = f.groups.filter((g) => g !== "NULL");
    const any: SQL[] = [];
    if (labels.length)
      any.push(
        sql`${components.id} IN (SELECT ${groupMembers.componentId} FROM ${groupMembers} WHERE ${inList(groupMembers.groupLabel, labels)})`,
      );
    if (f.groups.includes("NULL"))
      any.push(sql`NOT EXISTS (SELECT 1 FROM ${groupMembers} WHERE ${groupMembers.componentId} = ${components.id})`);
    parts.push(or(...any)!);
  }
  if (f.partitions.length) {
    const names = f.partitions.filter((p) => p !== "NULL");
    const any: SQL[] = [];
    if (names.length)
      any.push(
        sql`${components.id} IN (SELECT ${partitionMembers.componentId} FROM ${partitionMembers} WHERE ${inList(partitionMembers.partitionName, names)})`,
      );
    if (f.partitions.includes("NULL"))
      any.push(sql`NOT EXISTS (SELECT 1 FROM ${partitionMembers} WHERE ${partitionMembers.componentId} = ${components.id})`);
    parts.push(or(...any)!);
  }
  return parts.length ? and(...parts) : undefined;
}

export async function listComponents(db: Db, f: ComponentFilter, extra?: SQL): Promise<ComponentRow[]> {
  const where = and(filterWhere(f), extra);
  return db.select().from(components).where(where).orderBy(asc(components.id)).all();
}

/**
 * Components that are one of `ids` or a descendant of one, for the Query routes: one range scan
 * of the primary key per ID, driven by the list. Written as a LIKE per component and ID it was
 * quadratic: 5,000 IDs over 10,000 components took 1.8 s, and 100,000 would pass D1's 30 s for a
 * query.
 */
export function selfOrDescendantOfAny(ids: readonly string[]): SQL {
  const id = sql`c.${bare(components.id)}`;
  return anyList(
    ids,
    (json) =>
      sql`${components.id} IN (SELECT ${id} FROM json_each(${json}) p JOIN ${components} c ON ${selfOrDescendant(id, sql`p.value`)})`,
  );
}

export async function getComponent(db: Db, id: string): Promise<ComponentRow | undefined> {
  return db.select().from(components).where(eq(components.id, id)).get();
}

export async function getComponentByNid(db: Db, nid: number): Promise<ComponentRow | undefined> {
  return db.select().from(components).where(eq(components.nid, nid)).orderBy(asc(components.id)).limit(1).get();
}

export async function existingComponentIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  return new Set(
    await idsInChunks(
      db,
      ids,
      (chunk) =>
        sql`SELECT ${components.id} AS id FROM json_each(${JSON.stringify(chunk)}) j CROSS JOIN ${components} ON ${components.id} = j.value`,
    ),
  );
}

export async function loadNodeMaps(db: Db, ids: string[]): Promise<Map<string, NodeMapDefaults>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select().from(nodeMaps).where(inList(nodeMaps.id, ids)).all();
  return new Map(rows.map((r) => [r.id, { nid: r.nid, role: r.role, subRole: r.subRole }]));
}

/** Every column of a component, as a bulk insert writes it. */
const insertComponents = jsonRowsInsert(components, [
  "id",
  "type",
  "state",
  "flag",
  "enabled",
  "softwareStatus",
  "role",
  "subRole",
  "nid",
  "subtype",
  "netType",
  "arch",
  "class",
  "reservationDisabled",
  "locked",
]);

/** Upstream's POST with force overwrites these of an existing component, and nothing else. */
const FORCED = [components.state, components.flag, components.subtype, components.netType, components.arch, components.class];

/**
 * Upsert statements for many components, as few as jsonArrays allows (one JSON parameter per
 * statement). `mode`:
 *  - "keep": existing components are left untouched (POST without force);
 *  - "force": existing ones get State, Flag, Subtype, NetType, Arch, Class overwritten, and
 *    nothing else (upstream: NID, Role, SubRole, Enabled, SoftwareStatus are kept);
 * The caller runs them in one db.batch so the request is all-or-nothing.
 */
export function upsertComponentStatements(rows: ComponentRow[], mode: "keep" | "force"): Statement[] {
  const conflict =
    mode === "keep"
      ? sql`DO NOTHING`
      : sql`DO UPDATE SET ${sql.join(
          FORCED.map((c) => sql`${bare(c)} = excluded.${bare(c)}`),
          sql`, `,
        )}`;
  // JSON true/false land as SQLite's 1/0 (json_extract), as the boolean columns store them.
  return insertComponents(rows, sql`ON CONFLICT (${bare(components.id)}) ${conflict}`);
}

/**
 * Runs upsertComponentStatements in one batch, after a read of the stored states of `rows` in the
 * same batch: what they were before, for the state change notifications the write makes.
 */
export async function upsertComponentsReporting(
  db: Db,
  rows: ComponentRow[],
  mode: "keep" | "force",
): Promise<Map<string, { state: string }>> {
  const reads = chunks(rows).map(
    (chunk) => sql`SELECT ${components.id} AS id, ${components.state} AS state FROM ${components}
      WHERE ${inList(
        components.id,
        chunk.map((r) => r.id),
      )}`,
  );
  const results = await runBatch(db, [...reads, ...upsertComponentStatements(rows, mode)]);
  const before = new Map<string, { state: string }>();
  for (const r of results.slice(0, reads.length))
    for (const row of r.results as Array<{ id: string; state: string }>) before.set(row.id, { state: row.state });
  return before;
}

/** Like updateComponents, for the components where `differs` holds: the IDs that changed. */
export async function updateChangedComponents(db: Db, ids: string[], set: ComponentUpdate, differs: SQL, extra?: SQL): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .update(components)
    .set(set)
    .where(and(inList(components.id, ids), extra, differs))
    .returning({ id: components.id })
    .all();
  return rows.map((r) => r.id);
}

export async function deleteComponent(db: Db, id: string): Promise<number> {
  return changes(await db.delete(components).where(eq(components.id, id)).run());
}

export async function deleteAllComponents(db: Db): Promise<number> {
  return countAndDelete(db, components);
}

/** Columns to set: values, or SQL computed from the row. */
export type ComponentUpdate = SQLiteUpdateSetSource<typeof components>;

/** Sets fields on the given components (those that exist); extra narrows the update. */
export async function updateComponents(db: Db, ids: string[], set: ComponentUpdate, extra?: SQL): Promise<number> {
  if (ids.length === 0) return 0;
  return changes(
    await db
      .update(components)
      .set(set)
      .where(and(inList(components.id, ids), extra))
      .run(),
  );
}

/** BulkNID: one statement per ROWS_PER_STATEMENT pairs, all in one batch. */
export async function setNids(db: Db, pairs: Array<[string, number]>): Promise<void> {
  if (pairs.length === 0) return;
  await runBatch(
    db,
    chunks(pairs).map((chunk) =>
      db
        .update(components)
        .set({
          nid: sql`(SELECT json_extract(p.value, '$[1]') FROM json_each(${JSON.stringify(chunk)}) p
              WHERE json_extract(p.value, '$[0]') = ${components.id})`,
        })
        .where(
          inList(
            components.id,
            chunk.map(([id]) => id),
          ),
        ),
    ),
  );
}
