import { sql } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import { type Db, runBatch } from "../db";
import { bootLatest as bl, ethernetInterfaces as ei, bootEvents as ev } from "../db/schema";

/**
 * What the dashboard needs of the boot history to colour 10,000 nodes, in one read: per node, the
 * facts its boot stage is computed from (workers/ui/static/boot-state.js), and the event id to
 * follow the log from. `GET /boot/v1/endpoint-history` cannot feed that: its latest-per-step rows
 * are about ten per node (100,000 at 10,000 nodes, past its limit, oldest first), and it cannot
 * tell the firmware's DHCP from the booted OS's, nor count the group files fetched.
 *
 * The facts, defined the same way here (SQL, from the latest-per-step table and the log) and in
 * the browser (folding each new event of the log in):
 *  - the node's latest step that moves a boot forward: any step but the booted OS's own DHCP
 *    (a `dhcp` without `file=`, renewals included): its step, time and detail;
 *  - when its latest boot began: its latest firmware DHCP (`dhcp` with `file=`);
 *  - its latest vendor-data fetch (time and detail, which says how many group files it includes)
 *    and the group files fetched successfully since then.
 * All in one D1 batch (one transaction), so the cursor and the facts are of the same moment.
 */
export interface BootSummary {
  now_ms: number;
  /** The newest event id: follow the log with `?history=true&after_id=<cursor>`. */
  cursor: number;
  columns: readonly string[];
  nodes: NodeFacts[];
}

/** [name, step, at, detail, start, vendorAt, vendorDetail, groups] (see `columns`). */
export type NodeFacts = [string, string, number, string, number, number, string, string[]];

export const FACT_COLUMNS = ["name", "step", "at_ms", "detail", "start_ms", "vendor_ms", "vendor_detail", "groups"] as const;

/** A failed fetch: its detail begins with the HTTP status the node got (`404: …`). */
const FAILED = sql`GLOB '[0-9][0-9][0-9]: *'`;
/** The log and the latest-per-step table under short names, for the one query that joins them. */
const logged = alias(ev, "e");
const vendorRow = alias(bl, "v");
const OS_DHCP = sql`(${bl.endpoint} = 'dhcp' AND instr(${bl.detail}, 'file=') = 0)`;

export async function bootSummary(db: Db): Promise<BootSummary> {
  const [cursor, latest, firmware, vendor, groups] = await runBatch(db, [
    sql`SELECT COALESCE(MAX(${ev.id}), 0) AS cursor FROM ${ev}`,
    // One max() aggregate: SQLite takes the bare columns from the row holding it. A named entry's
    // subject is its name: grouping by subject walks the primary key.
    sql`SELECT ${bl.name} AS name, ${bl.endpoint} AS step, MAX(${bl.timeMs}) AS at, ${bl.detail} AS detail
        FROM ${bl} WHERE ${bl.name} <> '' AND NOT ${OS_DHCP} GROUP BY ${bl.subject}`,
    // The latest firmware DHCP: the latest-per-step row when the OS has not answered since, else the log.
    sql`SELECT name, MAX(t) AS t FROM (
          SELECT ${bl.name} AS name, ${bl.timeMs} AS t FROM ${bl}
            WHERE ${bl.name} <> '' AND ${bl.endpoint} = 'dhcp' AND instr(${bl.detail}, 'file=') > 0
          UNION ALL
          SELECT ${ev.name}, ${ev.timeMs} FROM ${ev}
            WHERE ${ev.name} <> '' AND ${ev.endpoint} = 'dhcp' AND instr(${ev.detail}, 'file=') > 0
        ) GROUP BY name`,
    sql`SELECT ${bl.name} AS name, ${bl.timeMs} AS t, ${bl.detail} AS detail FROM ${bl}
        WHERE ${bl.name} <> '' AND ${bl.endpoint} = 'vendor-data'`,
    sql`SELECT ${logged.name} AS name, json_group_array(DISTINCT ${logged.detail}) AS groups
        FROM ${ev} ${logged} JOIN ${bl} ${vendorRow} ON ${vendorRow.subject} = ${logged.name} AND ${vendorRow.endpoint} = 'vendor-data'
        WHERE ${logged.name} <> '' AND ${logged.endpoint} = 'cloud-init-group' AND ${logged.timeMs} >= ${vendorRow.timeMs}
          AND NOT (${logged.detail} ${FAILED})
        GROUP BY ${logged.name}`,
  ]);
  const startOf = byName(firmware.results as Array<{ name: string; t: number }>);
  const vendorOf = byName(vendor.results as Array<{ name: string; t: number; detail: string }>);
  const groupsOf = byName(groups.results as Array<{ name: string; groups: string }>);
  const nodes = (latest.results as Array<{ name: string; step: string; at: number; detail: string }>).map((r): NodeFacts => {
    const v = vendorOf.get(r.name);
    const g = groupsOf.get(r.name);
    return [r.name, r.step, r.at, r.detail, startOf.get(r.name)?.t ?? 0, v?.t ?? 0, v?.detail ?? "", g ? JSON.parse(g.groups) : []];
  });
  return { now_ms: Date.now(), cursor: (cursor.results[0] as { cursor: number }).cursor, columns: FACT_COLUMNS, nodes };
}

function byName<T extends { name: string }>(rows: T[]): Map<string, T> {
  return new Map(rows.map((r) => [r.name, r]));
}

/** A MAC (or, for a cloud-init fetch, an address) no node in SMD had when it asked. */
export interface UnknownRequester {
  mac: string;
  ip: string;
  first_ms: number;
  last_ms: number;
  /** The latest step it took, and what it got. */
  endpoint: string;
  detail: string;
  /** Every step it reached. */
  steps: string[];
  /** Events of it still in the log. */
  events: number;
  /** The component that holds this MAC in SMD now (it was added since), or "". */
  known_as: string;
}

export const UNKNOWN_LIMIT = 10_000;

/**
 * Requesters the history could not name (the bootloop's unknown MACs, cloud-init fetches from
 * addresses no node has), newest first: from the latest-per-step rows (kept however long ago),
 * with the first sighting and count from the log where it still holds them.
 */
export async function unknownRequesters(db: Db): Promise<UnknownRequester[]> {
  const subject = sql`CASE WHEN ${ev.mac} <> '' THEN 'mac:' || ${ev.mac} ELSE 'ip:' || ${ev.ip} END`;
  const rows = await db.all<{
    subject: string;
    mac: string;
    ip: string;
    last: number;
    endpoint: string;
    detail: string;
    steps: string;
    first: number | null;
    events: number | null;
    known_as: string | null;
  }>(sql`WITH latest AS (
      SELECT ${bl.subject} AS subject, ${bl.mac} AS mac, ${bl.ip} AS ip, MAX(${bl.timeMs}) AS last, ${bl.endpoint} AS endpoint,
             ${bl.detail} AS detail, json_group_array(${bl.endpoint}) AS steps
      FROM ${bl} WHERE ${bl.name} = '' GROUP BY ${bl.subject} ORDER BY last DESC LIMIT ${UNKNOWN_LIMIT}
    ), logged AS (
      SELECT ${subject} AS subject, MIN(${ev.timeMs}) AS first, COUNT(*) AS events FROM ${ev}
      WHERE ${ev.name} = '' GROUP BY 1
    )
    SELECT latest.*, logged.first AS first, logged.events AS events,
      (SELECT ${ei.componentId} FROM ${ei} WHERE ${ei.macAddress} = latest.mac AND latest.mac <> '') AS known_as
    FROM latest LEFT JOIN logged ON logged.subject = latest.subject ORDER BY last DESC`);
  return rows.map((r) => ({
    mac: r.mac,
    ip: r.ip,
    first_ms: Math.min(r.first ?? r.last, r.last),
    last_ms: r.last,
    endpoint: r.endpoint,
    detail: r.detail,
    steps: JSON.parse(r.steps),
    events: r.events ?? 0,
    known_as: r.known_as ?? "",
  }));
}
