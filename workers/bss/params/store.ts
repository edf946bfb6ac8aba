import { type SQL, sql } from "drizzle-orm";
import { columnNames, type Db, jsonLists, type Statement } from "../../db";
import { bootAssignments as assignments, bootConfigs as configs } from "../../db/schema";
import type { AssignmentKind, ConfigContent, Identifier } from "./model";

/**
 * Boot parameters in D1. The write statements are built here and run by the routes as one batch
 * (one round trip, one transaction): insert the config if its content is new, point the
 * identifiers at it, remove the assignments a write replaces, delete configs nobody points at,
 * and read which nodes boot the result (nodes.ts).
 */

export interface StoredAssignment extends Identifier {
  configId: number;
  content: ConfigContent;
}

/**
 * The given identifiers as rows `(kind, key)`, to join on the assignments' primary key: bound as
 * JSON lists under D1's limit on one value (80,000 MACs are 2.4 MB as one list, which D1 refused).
 */
export function identifierRows(ids: Identifier[]): SQL {
  const lists = jsonLists(ids.map((i) => [i.kind, i.key])).map(
    (json) => sql`SELECT json_extract(value, '$[0]') AS kind, json_extract(value, '$[1]') AS key FROM json_each(${json})`,
  );
  return sql`(${sql.join(lists, sql` UNION ALL `)})`;
}

/** Every assignment with its config, or those of the given identifiers; configs in creation order. */
export async function listAssignments(db: Db, only?: Identifier[]): Promise<StoredAssignment[]> {
  const scope = only ? sql`JOIN ${identifierRows(only)} j ON j.kind = ${assignments.kind} AND j.key = ${assignments.key}` : sql``;
  const rows = await db.all<{
    kind: AssignmentKind;
    key: string;
    id: number;
    kernel: string;
    initrd: string;
    params: string;
    cloud_init: string;
  }>(
    sql`SELECT ${assignments.kind} AS kind, ${assignments.key} AS key, ${configs.id} AS id, ${configs.kernel} AS kernel,
          ${configs.initrd} AS initrd, ${configs.params} AS params, ${configs.cloudInit} AS cloud_init
        FROM ${assignments} ${scope} JOIN ${configs} ON ${configs.id} = ${assignments.configId}
        ORDER BY ${configs.id}`,
  );
  return rows.map((r) => ({
    kind: r.kind,
    key: r.key,
    configId: r.id,
    content: { kernel: r.kernel, initrd: r.initrd, params: r.params, cloudInit: r.cloud_init },
  }));
}

const CONTENT = columnNames(configs.kernel, configs.initrd, configs.params, configs.cloudInit);

const insertConfig = (c: ConfigContent): Statement =>
  sql`INSERT INTO ${configs} (${CONTENT}) VALUES (${c.kernel}, ${c.initrd}, ${c.params}, ${c.cloudInit})
      ON CONFLICT (${CONTENT}) DO NOTHING`;

const configId = (c: ConfigContent): SQL =>
  sql`(SELECT ${configs.id} FROM ${configs} WHERE ${configs.kernel} = ${c.kernel} AND ${configs.initrd} = ${c.initrd}
       AND ${configs.params} = ${c.params} AND ${configs.cloudInit} = ${c.cloudInit})`;

export const deleteOrphans: Statement = sql`DELETE FROM ${configs} WHERE ${configs.id} NOT IN (SELECT ${assignments.configId} FROM ${assignments})`;

/** Assigns identifiers to a config; `replace` moves identifiers already assigned elsewhere. */
export function assign(c: ConfigContent, ids: Identifier[], replace: boolean): Statement[] {
  if (ids.length === 0) return [];
  const configColumn = columnNames(assignments.configId);
  const conflict = replace
    ? sql`ON CONFLICT (${columnNames(assignments.kind, assignments.key)}) DO UPDATE SET ${configColumn} = excluded.${configColumn}`
    : sql``;
  return [
    insertConfig(c),
    sql`INSERT INTO ${assignments} (${columnNames(assignments.kind, assignments.key, assignments.configId)})
        SELECT kind, key, ${configId(c)} FROM ${identifierRows(ids)} WHERE true ${conflict}`,
  ];
}

/** Removes the assignments of these identifiers (none is fine). */
export function unassign(ids: Identifier[]): Statement[] {
  if (ids.length === 0) return [];
  return [
    sql`DELETE FROM ${assignments} WHERE (${assignments.kind}, ${assignments.key}) IN (SELECT kind, key FROM ${identifierRows(ids)})`,
  ];
}

/** Which of these identifiers already have boot parameters. */
export async function existingIdentifiers(db: Db, ids: Identifier[]): Promise<Identifier[]> {
  return (await listAssignments(db, ids)).map(({ kind, key }) => ({ kind, key }));
}

export interface ConfigFilter {
  kernel: string;
  initrd: string;
  params: string;
}

/**
 * DELETE: the assignments of the given identifiers (all assignments when none are given) whose
 * config matches every non-empty field of `filter`, as a WHERE clause on boot_assignments.
 */
export function deletionScope(ids: Identifier[], filter: ConfigFilter): SQL {
  const where: SQL[] = [];
  if (ids.length) where.push(sql`(${assignments.kind}, ${assignments.key}) IN (SELECT kind, key FROM ${identifierRows(ids)})`);
  const configWhere: SQL[] = [];
  if (filter.kernel) configWhere.push(sql`${configs.kernel} = ${filter.kernel}`);
  if (filter.initrd) configWhere.push(sql`${configs.initrd} = ${filter.initrd}`);
  if (filter.params) configWhere.push(sql`${configs.params} = ${filter.params}`);
  if (configWhere.length)
    where.push(sql`${assignments.configId} IN (SELECT ${configs.id} FROM ${configs} WHERE ${sql.join(configWhere, sql` AND `)})`);
  if (where.length === 0) throw new Error("deletionScope needs identifiers or a config filter");
  return sql.join(where, sql` AND `);
}

/** The identifiers in a deletion scope, as rows `(kind, key)`. */
export const scopedIdentifiers = (where: SQL): SQL =>
  sql`SELECT ${assignments.kind} AS kind, ${assignments.key} AS key FROM ${assignments} WHERE ${where}`;

export const deleteScoped = (where: SQL): Statement => sql`DELETE FROM ${assignments} WHERE ${where}`;
