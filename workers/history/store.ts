import { and, asc, desc, gt, gte, ne, type SQL, sql } from "drizzle-orm";
import { chunks, columnNames, type Db, inList, runBatch, type Statement } from "../db";
import { bootEvents, bootLatest, components, ethernetInterfaces as ei, ethernetInterfaceIps as ips } from "../db/schema";
import type { BootEvent, LatestRow, ResolvedEvent } from "./model";

/**
 * A CTE `r` over the events (bound as one JSON parameter) that resolves each event's node in the
 * database itself, so recording never costs a lookup round trip: the given name, else the
 * component owning the MAC, else the one holding the IP; and `known`, whether that name is an SMD
 * component. `r` keeps the events' order in `i`.
 */
function resolved(json: string): SQL {
  return sql`WITH ev AS (
    SELECT key AS i, json_extract(value,'$[0]') AS given, json_extract(value,'$[1]') AS mac, json_extract(value,'$[2]') AS ip,
           json_extract(value,'$[3]') AS endpoint, json_extract(value,'$[4]') AS time_ms, json_extract(value,'$[5]') AS detail
    FROM json_each(${json})
  ), named AS (
    SELECT ev.*, COALESCE(NULLIF(given, ''),
      (SELECT ${ei.componentId} FROM ${ei} WHERE ${ei.macAddress} = ev.mac AND ev.mac <> '' AND ${ei.componentId} <> ''),
      (SELECT ${ei.componentId} FROM ${ips} JOIN ${ei} ON ${ei.id} = ${ips.interfaceId}
        WHERE ${ips.ipAddress} = ev.ip AND ev.ip <> '' AND ${ei.componentId} <> '' ORDER BY ${ips.position} LIMIT 1),
      '') AS name
    FROM ev
  ), r AS (
    SELECT named.*, EXISTS (SELECT 1 FROM ${components} WHERE ${components.id} = named.name) AS known FROM named
  )`;
}

const eventsJson = (events: BootEvent[]) =>
  JSON.stringify(events.map((e) => [e.name ?? "", e.mac ?? "", e.ip ?? "", e.endpoint, e.timeMs, e.detail ?? ""]));

/** Each event's node and whether SMD knows it, in the events' order: one read (the recorder's client limit needs it first). */
export async function resolveEvents(db: Db, events: BootEvent[]): Promise<ResolvedEvent[]> {
  const statements = chunks(events).map((chunk) => sql`${resolved(eventsJson(chunk))} SELECT name, known FROM r ORDER BY i`);
  const rows = (await runBatch(db, statements)).flatMap((r) => r.results as Array<{ name: string; known: number }>);
  return events.map((e, i) => ({ ...e, name: rows[i].name, known: rows[i].known === 1 }));
}

/** How much history is kept: the log's length, and the latest entries of requesters SMD does not know. */
export interface HistoryBounds {
  maxEvents: number;
  maxUnknown: number;
}

/**
 * One batch: append the events, move each (subject, endpoint)'s latest forward, prune the log to
 * `maxEvents` and, unless the caller knows every event is of an SMD node, the unknown requesters'
 * latest entries to `maxUnknown` (oldest first, by the partial time index of unknown entries;
 * SMD's nodes' entries are never pruned).
 */
export async function writeEvents(db: Db, events: BootEvent[], bounds: HistoryBounds, allKnown = false): Promise<void> {
  const statements: Statement[] = [];
  for (const chunk of chunks(events)) {
    const json = eventsJson(chunk);
    // `r`'s columns are the event's (resolved() names them); the tables' columns by drizzle's names.
    const e = bootEvents;
    statements.push(sql`${resolved(json)} INSERT INTO ${e} (${columnNames(e.name, e.mac, e.ip, e.endpoint, e.timeMs, e.detail)})
      SELECT name, mac, ip, endpoint, time_ms, detail FROM r ORDER BY time_ms`);
    // The latest entries from the rows just appended, not from the JSON again (that would parse it
    // and resolve every node a second time): the batch is one transaction and AUTOINCREMENT ids
    // are consecutive in it, so this chunk's events are the last chunk.length ids.
    const l = bootLatest;
    const update = [l.name, l.mac, l.ip, l.timeMs, l.detail, l.known].map((c) => sql`${columnNames(c)} = excluded.${columnNames(c)}`);
    statements.push(sql`INSERT INTO ${l} (${columnNames(l.subject, l.endpoint, l.name, l.mac, l.ip, l.timeMs, l.detail, l.known)})
      SELECT CASE WHEN ${e.name} <> '' THEN ${e.name} WHEN ${e.mac} <> '' THEN 'mac:' || ${e.mac} ELSE 'ip:' || ${e.ip} END,
             ${e.endpoint}, ${e.name}, ${e.mac}, ${e.ip}, ${e.timeMs}, ${e.detail},
             EXISTS (SELECT 1 FROM ${components} WHERE ${components.id} = ${e.name})
      FROM ${e} WHERE ${e.id} > (SELECT MAX(${e.id}) FROM ${e}) - ${chunk.length}
      ON CONFLICT (${columnNames(l.subject, l.endpoint)}) DO UPDATE SET ${sql.join(update, sql`, `)}
        WHERE excluded.${columnNames(l.timeMs)} >= ${l.timeMs}`);
  }
  statements.push(
    sql`DELETE FROM ${bootEvents} WHERE ${bootEvents.id} <= (SELECT MAX(${bootEvents.id}) FROM ${bootEvents}) - ${bounds.maxEvents}`,
  );
  if (!allKnown) statements.push(pruneUnknownLatest(bounds.maxUnknown));
  await runBatch(db, statements);
}

/** Deletes the latest entries of requesters SMD does not know beyond the newest `maxUnknown`, walking their partial time index. */
export function pruneUnknownLatest(maxUnknown: number): SQL {
  return sql`DELETE FROM ${bootLatest} WHERE rowid IN (
    SELECT rowid FROM ${bootLatest} WHERE ${bootLatest.known} = 0 ORDER BY ${bootLatest.timeMs} DESC LIMIT -1 OFFSET ${maxUnknown})`;
}

export interface HistoryQuery {
  names: string[];
  endpoints: string[];
  sinceMs?: number;
  afterId?: number;
  limit: number;
}

export async function latest(db: Db, q: HistoryQuery): Promise<LatestRow[]> {
  const where: (SQL | undefined)[] = [];
  // A named entry's subject is its name (the primary key's first column; there is no name index).
  if (q.names.length) where.push(inList(bootLatest.subject, q.names), ne(bootLatest.name, ""));
  if (q.endpoints.length) where.push(inList(bootLatest.endpoint, q.endpoints));
  if (q.sinceMs !== undefined) where.push(gte(bootLatest.timeMs, q.sinceMs));
  return db
    .select({
      name: bootLatest.name,
      mac: bootLatest.mac,
      ip: bootLatest.ip,
      endpoint: bootLatest.endpoint,
      timeMs: bootLatest.timeMs,
      detail: bootLatest.detail,
    })
    .from(bootLatest)
    .where(and(...where))
    .orderBy(asc(bootLatest.timeMs))
    .limit(q.limit)
    .all();
}

/** The event log, oldest first; `afterId` lets a watcher poll for what is new. */
export async function events(db: Db, q: HistoryQuery): Promise<Array<LatestRow & { id: number }>> {
  const where: (SQL | undefined)[] = [];
  if (q.names.length) where.push(inList(bootEvents.name, q.names));
  if (q.endpoints.length) where.push(inList(bootEvents.endpoint, q.endpoints));
  if (q.sinceMs !== undefined) where.push(gte(bootEvents.timeMs, q.sinceMs));
  if (q.afterId !== undefined) where.push(gt(bootEvents.id, q.afterId));
  // Newest `limit` events, returned oldest first.
  const rows = await db
    .select()
    .from(bootEvents)
    .where(and(...where))
    .orderBy(desc(bootEvents.id))
    .limit(q.limit)
    .all();
  return rows.reverse();
}
