import { type SQL, sql } from "drizzle-orm";
import { columnNames, type Db, runBatch, type Statement } from "../../db";
import { bootAssignments as assignments, bootConfigs as configs } from "../../db/schema";
import type { AssignmentKind, ConfigContent, Identifier } from "./model";

/**
 * Boot parameters in D1. Every write is one batch (one round trip, one transaction): insert the
 * config if its content is new, point the identifiers at it, and delete configs nobody points at.
 */

export interface StoredAssignment extends Identifier {
  configId: number;
  content: ConfigContent;
}

const idsJson = (ids: Identifier[]) => JSON.stringify(ids.map((i) => [i.kind, i.key]));

/** The given identifiers as rows `(kind, key)`, to join on the assignments' primary key. */
function identifierRows(ids: Identifier[]): SQL {
  return sql`(SELECT json_extract(value, '$[0]') AS kind, json_extract(value, '$[1]') AS key FROM json_each(${idsJson(ids)}))`;
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

const deleteOrphans: Statement = sql`DELETE FROM ${configs} WHERE ${configs.id} NOT IN (SELECT ${assignments.configId} FROM ${assignments})`;

/** Assigns identifiers to a config; `replace` moves identifiers already assigned elsewhere. */
function assign(c: ConfigContent, ids: Identifier[], replace: boolean): Statement[] {
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

/**
 * POST: creates assignments. An identifier that already has boot parameters makes the whole
 * batch fail on the primary key (nothing is written); the caller reports which ones.
 */
export async function addAssignments(db: Db, c: ConfigContent, ids: Identifier[]): Promise<void> {
  await runBatch(db, assign(c, ids, false));
}

/** PUT: the identifiers boot exactly this config from now on, whatever they had. */
export async function setAssignments(db: Db, c: ConfigContent, ids: Identifier[]): Promise<void> {
  await runBatch(db, [...assign(c, ids, true), deleteOrphans]);
}

/** PATCH: each group of identifiers moves to its merged config, in one transaction. */
export async function moveAssignments(db: Db, moves: Array<{ content: ConfigContent; ids: Identifier[] }>): Promise<void> {
  await runBatch(db, [...moves.flatMap((m) => assign(m.content, m.ids, true)), deleteOrphans]);
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
 * DELETE: removes the assignments of the given identifiers (all assignments when none are given)
 * whose config matches every non-empty field of `filter`; returns how many went.
 */
export async function deleteAssignments(db: Db, ids: Identifier[], filter: ConfigFilter): Promise<number> {
  const where: SQL[] = [];
  if (ids.length) where.push(sql`(${assignments.kind}, ${assignments.key}) IN (SELECT kind, key FROM ${identifierRows(ids)})`);
  const configWhere: SQL[] = [];
  if (filter.kernel) configWhere.push(sql`${configs.kernel} = ${filter.kernel}`);
  if (filter.initrd) configWhere.push(sql`${configs.initrd} = ${filter.initrd}`);
  if (filter.params) configWhere.push(sql`${configs.params} = ${filter.params}`);
  if (configWhere.length)
    where.push(sql`${assignments.configId} IN (SELECT ${configs.id} FROM ${configs} WHERE ${sql.join(configWhere, sql` AND `)})`);
  if (where.length === 0) throw new Error("deleteAssignments needs identifiers or a config filter");
  const [deleted] = await runBatch(db, [sql`DELETE FROM ${assignments} WHERE ${sql.join(where, sql` AND `)}`, deleteOrphans]);
  return deleted.meta.changes ?? 0;
}
