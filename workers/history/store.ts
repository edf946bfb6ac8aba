import { and, asc, desc, gt, gte, type SQL, sql } from "drizzle-orm";
import { chunks, columnNames, type Db, inList, runBatch, type Statement } from "../db";
import { bootEvents, bootLatest, ethernetInterfaces as ei, ethernetInterfaceIps as ips } from "../db/schema";
import type { BootEvent, LatestRow } from "./model";

/**
 * A CTE `r` over the events (bound as one JSON parameter) that resolves each event's node in the
 * database itself, so recording never costs a lookup round trip: the given name, else the
 * component owning the MAC, else the one holding the IP.
 */
function resolved(json: string): SQL {
  return sql`WITH ev AS (
    SELECT json_extract(value,'$[0]') AS given, json_extract(value,'$[1]') AS mac, json_extract(value,'$[2]') AS ip,
           json_extract(value,'$[3]') AS endpoint, json_extract(value,'$[4]') AS time_ms, json_extract(value,'$[5]') AS detail
    FROM json_each(${json})
  ), r AS (
    SELECT ev.*, COALESCE(NULLIF(given, ''),
      (SELECT ${ei.componentId} FROM ${ei} WHERE ${ei.macAddress} = ev.mac AND ev.mac <> '' AND ${ei.componentId} <> ''),
      (SELECT ${ei.componentId} FROM ${ips} JOIN ${ei} ON ${ei.id} = ${ips.interfaceId}
        WHERE ${ips.ipAddress} = ev.ip AND ev.ip <> '' AND ${ei.componentId} <> '' ORDER BY ${ips.position} LIMIT 1),
      '') AS name
    FROM ev
  )`;
}

/** One batch: append the events, move each (subject, endpoint)'s latest forward, prune the log. */
export async function writeEvents(db: Db, events: BootEvent[], maxEvents: number): Promise<void> {
  const statements: Statement[] = [];
  for (const chunk of chunks(events)) {
    const json = JSON.stringify(chunk.map((e) => [e.name ?? "", e.mac ?? "", e.ip ?? "", e.endpoint, e.timeMs, e.detail ?? ""]));
    // `r`'s columns are the event's (resolved() names them); the tables' columns by drizzle's names.
    const e = bootEvents;
    statements.push(sql`${resolved(json)} INSERT INTO ${e} (${columnNames(e.name, e.mac, e.ip, e.endpoint, e.timeMs, e.detail)})
      SELECT name, mac, ip, endpoint, time_ms, detail FROM r ORDER BY time_ms`);
    const l = bootLatest;
    const update = [l.name, l.mac, l.ip, l.timeMs, l.detail].map((c) => sql`${columnNames(c)} = excluded.${columnNames(c)}`);
    statements.push(sql`${resolved(json)} INSERT INTO ${l} (${columnNames(l.subject, l.endpoint, l.name, l.mac, l.ip, l.timeMs, l.detail)})
      SELECT CASE WHEN name <> '' THEN name WHEN mac <> '' THEN 'mac:' || mac ELSE 'ip:' || ip END,
             endpoint, name, mac, ip, time_ms, detail FROM r WHERE true
      ON CONFLICT (${columnNames(l.subject, l.endpoint)}) DO UPDATE SET ${sql.join(update, sql`, `)}
        WHERE excluded.${columnNames(l.timeMs)} >= ${l.timeMs}`);
  }
  statements.push(
    sql`DELETE FROM ${bootEvents} WHERE ${bootEvents.id} <= (SELECT MAX(${bootEvents.id}) FROM ${bootEvents}) - ${maxEvents}`,
  );
  await runBatch(db, statements);
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
  if (q.names.length) where.push(inList(bootLatest.name, q.names));
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
