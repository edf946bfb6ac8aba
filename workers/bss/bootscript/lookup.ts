import { type SQL, sql } from "drizzle-orm";
import type { Db } from "../../db";

/**
 * The boot path's one read: which node is asking, and what it boots. One SQL statement (one D1
 * round trip) resolves the requester through SMD's live tables and picks its boot config by
 * precedence, so a node added to SMD or a changed boot entry takes effect on the next request.
 * The boot snapshot (workers/boot-snapshot/model.ts) answers the same question from memory; this
 * is the path when it cannot (stale, rebuilding, or OCHAMI_BOOT_SNAPSHOT=off).
 */

/** How the node identified itself: `?mac=` (lower-case colon form), `?name=` (xname) or `?nid=`. */
export type BootKey = { mac: string } | { name: string } | { nid: number };

/** Which assignment supplied the config, most specific first. */
export type MatchKind = "xname" | "mac" | "nid" | "role" | "default";

export interface BootNode {
  id: string;
  /** -1 when the component has no NID. */
  nid: number;
  role: string;
  enabled: boolean;
  /** The node's first MAC in SMD (by interface ID), "" when it has none. */
  firstMac: string;
}

export interface BootConfig {
  kernel: string;
  initrd: string;
  params: string;
}

export interface Resolution {
  /** Undefined when SMD has no Node component for the key. */
  component?: BootNode;
  /** Undefined when no assignment applies to the node. */
  config?: BootConfig;
  matchedBy?: MatchKind;
}

/** The SMD Node component the key names (`comp` CTE, at most one row). */
function componentOf(key: BootKey): SQL {
  const cols = sql`c.id, c.nid, c.role, c.enabled`;
  if ("mac" in key)
    return sql`SELECT ${cols} FROM ethernet_interfaces e JOIN components c ON c.id = e.component_id
               WHERE e.mac_address = ${key.mac} AND c.type = 'Node'`;
  if ("name" in key) return sql`SELECT ${cols} FROM components c WHERE c.id = ${key.name} AND c.type = 'Node'`;
  // NIDs are not unique in SMD: the lowest xname wins, deterministically.
  return sql`SELECT ${cols} FROM components c WHERE c.nid = ${key.nid} AND c.type = 'Node' ORDER BY c.id LIMIT 1`;
}

/**
 * Candidate assignments with their precedence: the node's xname; the MAC that is booting, then
 * the node's other MACs (by MAC); its NID; its SMD role; `Default`. Every branch starts from the
 * one `comp` row and reaches assignments by primary key; CROSS JOIN pins that join order (SQLite
 * otherwise scans every MAC assignment and joins back, which grows with the cluster).
 */
function candidates(key: BootKey): SQL {
  const bootingMac = "mac" in key ? key.mac : "";
  return sql`
    SELECT 1 AS rank, '' AS sub, 'xname' AS matched, a.config_id FROM comp
      CROSS JOIN boot_assignments a ON a.kind = 'xname' AND a.key = comp.id
    UNION ALL
    SELECT 2, CASE WHEN e.mac_address = ${bootingMac} THEN '' ELSE e.mac_address END, 'mac', a.config_id FROM comp
      CROSS JOIN ethernet_interfaces e ON e.component_id = comp.id
      CROSS JOIN boot_assignments a ON a.kind = 'mac' AND a.key = e.mac_address
    UNION ALL
    SELECT 3, '', 'nid', a.config_id FROM comp
      CROSS JOIN boot_assignments a ON a.kind = 'nid' AND a.key = CAST(comp.nid AS TEXT) WHERE comp.nid >= 0
    UNION ALL
    SELECT 4, '', 'role', a.config_id FROM comp
      CROSS JOIN boot_assignments a ON a.kind = 'role' AND a.key = comp.role
    UNION ALL
    SELECT 5, '', 'default', a.config_id FROM comp
      CROSS JOIN boot_assignments a ON a.kind = 'default'`;
}

interface Row {
  id: string;
  nid: number;
  role: string;
  enabled: number;
  first_mac: string | null;
  matched: MatchKind | null;
  kernel: string | null;
  initrd: string | null;
  params: string | null;
}

/** The one statement (exported for the query-plan test). */
export function bootLookupQuery(key: BootKey): SQL {
  return sql`
    WITH comp AS (${componentOf(key)}),
         best AS (SELECT matched, config_id FROM (${candidates(key)}) ORDER BY rank, sub LIMIT 1)
    SELECT comp.id, comp.nid, comp.role, comp.enabled,
           (SELECT mac_address FROM ethernet_interfaces WHERE component_id = comp.id ORDER BY id LIMIT 1) AS first_mac,
           best.matched, cfg.kernel, cfg.initrd, cfg.params
    FROM comp LEFT JOIN best ON true LEFT JOIN boot_configs cfg ON cfg.id = best.config_id`;
}

export async function resolveBoot(db: Db, key: BootKey): Promise<Resolution> {
  const row = await db.get<Row | undefined>(bootLookupQuery(key));
  if (!row) return {};
  const component: BootNode = {
    id: row.id,
    nid: row.nid,
    role: row.role,
    enabled: Boolean(row.enabled),
    firstMac: row.first_mac ?? "",
  };
  if (row.matched === null || row.kernel === null) return { component };
  return {
    component,
    config: { kernel: row.kernel, initrd: row.initrd ?? "", params: row.params ?? "" },
    matchedBy: row.matched,
  };
}
