import { and, asc, eq, gt, inArray, lt, or, type SQL, type SQLWrapper, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { anyList, bare, changes, chunks, countAndDelete, type Db, inList, jsonRowsInsert, runBatch, type Statement } from "../../db";
import { hwinvFrus, hwinvHistory, hwinvLocations, partitionMembers } from "../../db/schema";
import { selfOrDescendant } from "../hierarchy";
import { type FruRecord, HARDWARE_TYPES, type HistoryEvent, type LocationRecord } from "./model";

/**
 * Hardware inventory in D1: FRUs, locations (each holding at most one FRU) and the history of
 * which FRU was where. Writes are multi-row statements of JSON-bound records, one D1 batch per
 * request, so an import of thousands of locations is a handful of statements.
 */

// ----------------------------------------------------------------------------- writes

const insertFrus = jsonRowsInsert(hwinvFrus, ["fruId", "type", "subtype", "info"]);
const insertLocations = jsonRowsInsert(hwinvLocations, ["id", "type", "ordinal", "status", "parentNode", "info", "fruId"]);

const upsertFru = (rows: Array<Record<"fruId" | "type" | "subtype" | "info", unknown>>) =>
  insertFrus(
    rows,
    sql`ON CONFLICT (${bare(hwinvFrus.fruId)}) DO UPDATE SET
      ${bare(hwinvFrus.subtype)} = excluded.${bare(hwinvFrus.subtype)}, ${bare(hwinvFrus.info)} = excluded.${bare(hwinvFrus.info)}`,
  );

const upsertLocation = (rows: Array<Record<"id" | "type" | "ordinal" | "status" | "parentNode" | "info" | "fruId", unknown>>) =>
  insertLocations(
    rows,
    sql`ON CONFLICT (${bare(hwinvLocations.id)}) DO UPDATE SET ${sql.join(
      [hwinvLocations.ordinal, hwinvLocations.status, hwinvLocations.parentNode, hwinvLocations.info, hwinvLocations.fruId].map(
        (c) => sql`${bare(c)} = excluded.${bare(c)}`,
      ),
      sql`, `,
    )}`,
  );

/**
 * A `Detected` event for each (location, FRU) pair, unless the location's last event already
 * says that FRU was detected there (upstream's rule, which keeps repeated discoveries from
 * filling the history).
 */
function detectedEvents(pairs: Array<[string, string]>, now: number): SQL {
  const h = (c: SQLiteColumn) => sql`h.${bare(c)}`;
  // The last event of a location is its highest seq (events are numbered as they are written).
  return sql`WITH j AS (SELECT json_extract(value, '$[0]') AS id, json_extract(value, '$[1]') AS fru FROM json_each(${JSON.stringify(pairs)}))
    INSERT INTO ${hwinvHistory} (${bare(hwinvHistory.id)}, ${bare(hwinvHistory.fruId)}, ${bare(hwinvHistory.timeMs)}, ${bare(hwinvHistory.eventType)})
    SELECT j.id, j.fru, ${now}, 'Detected' FROM j
    WHERE (SELECT ${h(hwinvHistory.fruId)} || char(0) || ${h(hwinvHistory.eventType)} FROM ${hwinvHistory} h
           WHERE ${h(hwinvHistory.id)} = j.id ORDER BY ${h(hwinvHistory.seq)} DESC LIMIT 1) IS NOT (j.fru || char(0) || 'Detected')`;
}

/**
 * Statements storing `locations` (and their FRUs) and recording where each FRU was detected, for
 * a batch of their own or a caller's. The first of duplicate IDs (locations or FRUs) wins.
 */
export function storeStatements(locations: LocationRecord[], now: number): Statement[] {
  const seenLoc = new Set<string>();
  const seenFru = new Set<string>();
  const locs: LocationRecord[] = [];
  const frus: FruRecord[] = [];
  for (const l of locations) {
    if (seenLoc.has(l.id)) continue;
    seenLoc.add(l.id);
    locs.push(l);
    if (l.fru && !seenFru.has(l.fru.fruId)) {
      seenFru.add(l.fru.fruId);
      frus.push(l.fru);
    }
  }
  const out: Statement[] = [];
  // FRUs first: locations refer to them.
  out.push(...upsertFru(frus));
  out.push(
    ...upsertLocation(
      locs.map((l) => ({
        id: l.id,
        type: l.type,
        ordinal: l.ordinal,
        status: l.status,
        parentNode: l.parentNode,
        info: l.info,
        fruId: l.fru?.fruId ?? null,
      })),
    ),
  );
  const pairs = locs.filter((l) => l.fru).map((l): [string, string] => [l.id, l.fru!.fruId]);
  for (const chunk of chunks(pairs)) out.push(detectedEvents(chunk, now));
  return out;
}

export async function storeLocations(db: Db, locations: LocationRecord[], now: number): Promise<void> {
  await runBatch(db, storeStatements(locations, now));
}

/**
 * Statements detaching the FRUs of the components `described` selects (and of everything under
 * them), as upstream does when their Redfish endpoint goes: the locations are deleted and each FRU
 * removal is recorded as a `Removed` event.
 */
export function detachStatements(described: SQLWrapper, now: number): Statement[] {
  // Driven by the components: a range of the key each. An EXISTS per location over all of them
  // was quadratic (750 endpoints deleted at once: 3 s; ten times as many would pass D1's 30 s).
  const location = sql`l.${bare(hwinvLocations.id)}`;
  const under = sql`${hwinvLocations.id} IN (SELECT ${location} FROM (${described}) d JOIN ${hwinvLocations} l ON ${selfOrDescendant(location, sql`d.id`)})`;
  return [
    sql`INSERT INTO ${hwinvHistory} (${bare(hwinvHistory.id)}, ${bare(hwinvHistory.fruId)}, ${bare(hwinvHistory.timeMs)}, ${bare(hwinvHistory.eventType)})
      SELECT ${hwinvLocations.id}, ${hwinvLocations.fruId}, ${now}, 'Removed' FROM ${hwinvLocations}
      WHERE ${hwinvLocations.fruId} IS NOT NULL AND ${under}`,
    sql`DELETE FROM ${hwinvLocations} WHERE ${under}`,
  ];
}

// ----------------------------------------------------------------------------- reads

const locationColumns = {
  id: hwinvLocations.id,
  type: hwinvLocations.type,
  ordinal: hwinvLocations.ordinal,
  status: hwinvLocations.status,
  parentNode: hwinvLocations.parentNode,
  info: hwinvLocations.info,
  fruId: hwinvFrus.fruId,
  fruType: hwinvFrus.type,
  fruSubtype: hwinvFrus.subtype,
  fruInfo: hwinvFrus.info,
};

async function selectLocations(db: Db, where: SQL | undefined): Promise<LocationRecord[]> {
  const rows = await db
    .select(locationColumns)
    .from(hwinvLocations)
    .leftJoin(hwinvFrus, eq(hwinvFrus.fruId, hwinvLocations.fruId))
    .where(where)
    .orderBy(asc(hwinvLocations.id))
    .all();
  return rows.map((r) => ({
    id: r.id,
    type: r.type,
    ordinal: r.ordinal,
    status: r.status,
    parentNode: r.parentNode,
    info: JSON.parse(r.info),
    fru:
      r.fruId === null
        ? undefined
        : { fruId: r.fruId, type: r.fruType ?? "", subtype: r.fruSubtype ?? "", info: JSON.parse(r.fruInfo ?? "{}") },
  }));
}

export const getLocation = async (db: Db, id: string) => (await selectLocations(db, eq(hwinvLocations.id, id)))[0];

/** The filters of GET /Inventory/Hardware and /HardwareByFRU, on FRU fields as upstream (the FRUInfo's). */
export interface FruFilter {
  types?: string[];
  /**
   * Substrings of the manufacturer, any case (upstream's ILIKE '%m%', but `%` and `_` are
   * themselves). Not a LIKE: D1 on Cloudflare refuses a LIKE pattern over 50 bytes, and one bound
   * parameter per value passed its 100 parameters with the 100th value.
   */
  manufacturers?: string[];
  partNumbers?: string[];
  serialNumbers?: string[];
  fruIds?: string[];
}

function fruWhere(f: FruFilter, typeColumn: SQLWrapper): SQL[] {
  const out: SQL[] = [];
  if (f.types?.length) out.push(inList(typeColumn, f.types));
  if (f.manufacturers?.length) {
    const manufacturer = sql`lower(json_extract(${hwinvFrus.info}, '$.Manufacturer'))`;
    out.push(
      anyList(f.manufacturers, (json) => sql`EXISTS (SELECT 1 FROM json_each(${json}) m WHERE instr(${manufacturer}, lower(m.value)) > 0)`),
    );
  }
  if (f.partNumbers?.length) out.push(inList(sql`json_extract(${hwinvFrus.info}, '$.PartNumber')`, f.partNumbers));
  if (f.serialNumbers?.length) out.push(inList(sql`json_extract(${hwinvFrus.info}, '$.SerialNumber')`, f.serialNumbers));
  if (f.fruIds?.length) out.push(inList(hwinvFrus.fruId, f.fruIds));
  return out;
}

const inPartitions = (partitions: string[]) =>
  inArray(
    hwinvLocations.parentNode,
    sql`(SELECT ${partitionMembers.componentId} FROM ${partitionMembers} WHERE ${inList(partitionMembers.partitionName, partitions)})`,
  );

/**
 * Each HMS type's JSON names: `<prefix>LocationInfo`, `<prefix>FRUInfo`, `HWInvByLoc<suffix>`,
 * `HWInvByFRU<suffix>`, as a table SQL can join.
 */
const typeNames = sql.raw(
  `(SELECT column1 AS type, column2 AS prefix, column3 AS suffix FROM (VALUES ${HARDWARE_TYPES.map((t) => `('${t.type}', '${t.prefix}', '${t.suffix}')`).join(", ")}))`,
);

/** A FRU's JSON document (fruJson's shape); `tf` names its row of typeNames. */
/*
 * Documents are spliced as text: the info columns hold JSON that SQLite wrote (json_extract's
 * minified output), so they go in as they are, unparsed; every other value is json_quote'd.
 */
const q = (v: SQLWrapper) => sql`json_quote(${v})`;

/** A FRU's JSON document (fruJson's shape); `tf` names its row of typeNames. */
const fruDoc = sql`'{"FRUID":' || ${q(hwinvFrus.fruId)} || ',"Type":' || ${q(hwinvFrus.type)} || ',"Subtype":' || ${q(hwinvFrus.subtype)}
  || ',"HWInventoryByFRUType":"HWInvByFRU' || coalesce(tf.suffix, '') || '","' || coalesce(tf.prefix, '') || 'FRUInfo":' || ${hwinvFrus.info} || '}'`;

/** A location's JSON document (locationJson's shape), with `more` before its closing brace; `t` names its row of typeNames. */
const locationDoc = (more: SQL) => sql`'{"ID":' || ${q(hwinvLocations.id)} || ',"Type":' || ${q(hwinvLocations.type)}
  || ',"Ordinal":' || ${hwinvLocations.ordinal} || ',"Status":' || ${q(hwinvLocations.status)}
  || ',"HWInventoryByLocationType":"HWInvByLoc' || coalesce(t.suffix, '') || '","' || coalesce(t.prefix, '') || 'LocationInfo":'
  || ${hwinvLocations.info}${more} || '}'`;

/**
 * Locations as upstream answers them, each a JSON document SQLite writes: a list of 20,000
 * locations is answered without parsing and re-serialising their info objects.
 */
export async function listLocationDocs(db: Db, f: FruFilter & { ids?: string[]; partitions?: string[] }): Promise<string[]> {
  const where = fruWhere(f, hwinvLocations.type);
  if (f.ids?.length) where.push(inList(hwinvLocations.id, f.ids));
  if (f.partitions?.length) where.push(inPartitions(f.partitions));
  const rows = await db.all<{ doc: string }>(sql`SELECT CASE WHEN ${hwinvFrus.fruId} IS NULL THEN ${locationDoc(sql``)}
      ELSE ${locationDoc(sql` || ',"PopulatedFRU":' || ${fruDoc}`)} END AS doc
    FROM ${hwinvLocations} LEFT JOIN ${hwinvFrus} ON ${hwinvFrus.fruId} = ${hwinvLocations.fruId}
    LEFT JOIN ${typeNames} t ON t.type = ${hwinvLocations.type} LEFT JOIN ${typeNames} tf ON tf.type = ${hwinvFrus.type}
    ${where.length ? sql`WHERE ${and(...where)}` : sql``} ORDER BY ${hwinvLocations.id}`);
  return rows.map((r) => r.doc);
}

/** FRUs as upstream answers them, each a JSON document SQLite writes. */
export async function listFruDocs(db: Db, f: FruFilter): Promise<string[]> {
  const where = fruWhere(f, hwinvFrus.type);
  const rows = await db.all<{ doc: string }>(sql`SELECT ${fruDoc} AS doc FROM ${hwinvFrus}
    LEFT JOIN ${typeNames} tf ON tf.type = ${hwinvFrus.type}
    ${where.length ? sql`WHERE ${and(...where)}` : sql``} ORDER BY ${hwinvFrus.fruId}`);
  return rows.map((r) => r.doc);
}

/** What GET /Inventory/Hardware/Query/{xname} asks for (upstream's HWInvLocFilter). */
export interface LocationQuery {
  /** A component's xname; undefined for the whole system. */
  id?: string;
  /** Its ancestors (upstream's `parents`; s0 excluded). */
  ancestors: string[];
  types: string[];
  children: boolean;
  parents: boolean;
  partitions: string[];
}

/**
 * Upstream's query: with `children`, the xname and everything under it (with types as well: the
 * matching locations under the xname and everything under those); without, the xname itself;
 * types narrow unless both children and parents are asked for; `parents` adds the ancestors.
 */
export async function queryLocations(db: Db, q: LocationQuery): Promise<LocationRecord[]> {
  const hierarchy = q.children || (q.types.length > 0 && !q.parents);
  const typed = q.types.length > 0 && !(q.parents && q.children);
  const idCond =
    q.id === undefined
      ? undefined
      : hierarchy
        ? selfOrDescendant(hwinvLocations.id, q.id)
        : inList(hwinvLocations.id, [q.id, ...(q.parents ? q.ancestors : [])]);
  const typeCond = typed ? inList(hwinvLocations.type, q.types) : undefined;
  let where: SQL | undefined;
  if (q.children && q.types.length > 0 && !q.parents) {
    // The matching locations, then everything under each of them.
    const l2 = sql`l2`;
    const matched = sql`SELECT m.${bare(hwinvLocations.id)} AS id FROM ${hwinvLocations} m WHERE ${and(
      q.id === undefined ? undefined : selfOrDescendant(sql`m.${bare(hwinvLocations.id)}`, q.id),
      inList(sql`m.${bare(hwinvLocations.type)}`, q.types),
    )}`;
    where = inArray(
      hwinvLocations.id,
      sql`(SELECT ${l2}.${bare(hwinvLocations.id)} FROM (${matched}) mt JOIN ${hwinvLocations} ${l2}
        ON ${selfOrDescendant(sql`${l2}.${bare(hwinvLocations.id)}`, sql`mt.id`)})`,
    );
  } else where = and(idCond, typeCond);
  if (q.parents && hierarchy && q.ancestors.length) where = or(where, inList(hwinvLocations.id, q.ancestors));
  if (q.partitions.length) where = and(where, inPartitions(q.partitions));
  return selectLocations(db, where);
}

export async function deleteLocation(db: Db, id: string): Promise<boolean> {
  return changes(await db.delete(hwinvLocations).where(eq(hwinvLocations.id, id)).run()) > 0;
}

export const deleteAllLocations = (db: Db) => countAndDelete(db, hwinvLocations);

// --- FRUs ---------------------------------------------------------------------------------------

const fruOf = (r: typeof hwinvFrus.$inferSelect): FruRecord => ({
  fruId: r.fruId,
  type: r.type,
  subtype: r.subtype,
  info: JSON.parse(r.info),
});

export async function getFru(db: Db, fruId: string): Promise<FruRecord | undefined> {
  const row = await db.select().from(hwinvFrus).where(eq(hwinvFrus.fruId, fruId)).get();
  return row && fruOf(row);
}

/** Deletes a FRU; a location holding it is left empty (no PopulatedFRU). */
export async function deleteFru(db: Db, fruId: string): Promise<boolean> {
  return changes(await db.delete(hwinvFrus).where(eq(hwinvFrus.fruId, fruId)).run()) > 0;
}

export const deleteAllFrus = (db: Db) => countAndDelete(db, hwinvFrus);

// --- history ------------------------------------------------------------------------------------

export interface HistoryFilter {
  ids?: string[];
  fruIds?: string[];
  eventTypes?: string[];
  /** Events after / before these times (ms), as upstream's starttime and endtime. */
  afterMs?: number;
  beforeMs?: number;
}

export async function listHistory(db: Db, f: HistoryFilter): Promise<HistoryEvent[]> {
  const where: SQL[] = [];
  if (f.ids?.length) where.push(inList(hwinvHistory.id, f.ids));
  if (f.fruIds?.length) where.push(inList(hwinvHistory.fruId, f.fruIds));
  if (f.eventTypes?.length) where.push(inList(hwinvHistory.eventType, f.eventTypes));
  if (f.afterMs !== undefined) where.push(gt(hwinvHistory.timeMs, f.afterMs));
  if (f.beforeMs !== undefined) where.push(lt(hwinvHistory.timeMs, f.beforeMs));
  return db
    .select({ id: hwinvHistory.id, fruId: hwinvHistory.fruId, timeMs: hwinvHistory.timeMs, eventType: hwinvHistory.eventType })
    .from(hwinvHistory)
    .where(and(...where))
    .orderBy(asc(hwinvHistory.timeMs), asc(hwinvHistory.seq))
    .all();
}

export const deleteHistory = (db: Db, where?: SQL) => countAndDelete(db, hwinvHistory, where);
export const historyOfLocation = (id: string) => eq(hwinvHistory.id, id);
export const historyOfFru = (fruId: string) => eq(hwinvHistory.fruId, fruId);
