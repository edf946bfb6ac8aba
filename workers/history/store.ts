import { and, asc, desc, gt, gte, type SQL, sql } from "drizzle-orm";
import { chunks, type Db, inList, runBatch, type Statement } from "../db";
import { bootEvents, bootLatest } from "../db/schema";
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
      (SELECT component_id FROM ethernet_interfaces WHERE mac_address = ev.mac AND ev.mac <> '' AND component_id <> ''),
      (SELECT e.component_id FROM ethernet_interface_ips i JOIN ethernet_interfaces e ON e.id = i.interface_id
        WHERE i.ip_address = ev.ip AND ev.ip <> '' AND e.component_id <> '' ORDER BY i.position LIMIT 1),
      '') AS name
    FROM ev
  )`;
}

/** One batch: append the events, move each (subject, endpoint)'s latest forward, prune the log. */
export async function writeEvents(db: Db, events: BootEvent[], maxEvents: number): Promise<void> {
  const statements: Statement[] = [];
  for (const chunk of chunks(events)) {
    const json = JSON.stringify(chunk.map((e) => [e.name ?? "", e.mac ?? "", e.ip ?? "", e.endpoint, e.timeMs, e.detail ?? ""]));
    statements.push(sql`${resolved(json)} INSERT INTO ${bootEvents} (name, mac, ip, endpoint, time_ms, detail)
      SELECT name, mac, ip, endpoint, time_ms, detail FROM r ORDER BY time_ms`);
    statements.push(sql`${resolved(json)} INSERT INTO ${bootLatest} (subject, endpoint, name, mac, ip, time_ms, detail)
      SELECT CASE WHEN name <> '' THEN name WHEN mac <> '' THEN 'mac:' || mac ELSE 'ip:' || ip END,
             endpoint, name, mac, ip, time_ms, detail FROM r WHERE true
      ON CONFLICT (subject, endpoint) DO UPDATE SET name = excluded.name, mac = excluded.mac, ip = excluded.ip,
        time_ms = excluded.time_ms, detail = excluded.detail WHERE excluded.time_ms >= ${bootLatest.timeMs}`);
  }
  statements.push(sql`DELETE FROM ${bootEvents} WHERE id <= (SELECT MAX(id) FROM ${bootEvents}) - ${maxEvents}`);
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
