import { type SQL, sql } from "drizzle-orm";
import { chooseBootConfig } from "../../boot/precedence";
import type { BootConfig, Candidate, MatchKind } from "../../boot/types";
import type { Db } from "../../db";
import { bootAssignments as assignments, components, ethernetInterfaces as interfaces } from "../../db/schema";
import type { Identifier } from "./model";
import { identifierRows } from "./store";

/**
 * Boot-parameter writes and SMD's nodes. A MAC, NID or xname that names a Node in SMD is a key of
 * that node: a write by it is a write for the node, stored as the node's xname entry, which wins
 * over every other entry of the node (workers/boot/precedence.ts), so the node boots what was
 * written whichever key it boots by. A key SMD does not know (yet) is stored as given and takes
 * effect once SMD has such a node. After a write, the nodes whose winning entry is one the
 * request wrote (or, for a delete, removed) are what the answer reports.
 */

const idOf = (i: Identifier) => `${i.kind} ${i.key}`;

/** The Node xnames each MAC, NID and xname of `ids` names in SMD, keyed `kind key` (NIDs may name several). */
export async function nodesNamedBy(db: Db, ids: Identifier[]): Promise<Map<string, string[]>> {
  const keys = ids.filter((i) => i.kind === "mac" || i.kind === "nid" || i.kind === "xname");
  const out = new Map<string, string[]>();
  if (keys.length === 0) return out;
  const isNode = sql`${components.type} = 'Node'`;
  const rows = await db.all<{ kind: "mac" | "nid" | "xname"; key: string; node: string }>(sql`
    WITH t AS ${identifierRows(keys)}
    SELECT t.kind AS kind, t.key AS key, ${components.id} AS node FROM t
      JOIN ${interfaces} ON t.kind = 'mac' AND ${interfaces.macAddress} = t.key
      JOIN ${components} ON ${components.id} = ${interfaces.componentId} AND ${isNode}
    UNION ALL
    SELECT t.kind, t.key, ${components.id} FROM t JOIN ${components} ON t.kind = 'nid' AND ${components.nid} = CAST(t.key AS INTEGER) AND ${isNode}
    UNION ALL
    SELECT t.kind, t.key, ${components.id} FROM t JOIN ${components} ON t.kind = 'xname' AND ${components.id} = t.key AND ${isNode}
    ORDER BY 3`);
  for (const r of rows) {
    const k = `${r.kind} ${r.key}`;
    out.set(k, [...(out.get(k) ?? []), r.node]);
  }
  return out;
}

/** How the identifiers of a write land in storage. */
export interface WritePlan {
  /** What is written: each node's xname for the keys that name Nodes, the other identifiers as given. */
  targets: Identifier[];
  /** MAC and NID entries whose key now names a node: the node's xname entry replaces them. */
  replaced: Identifier[];
  /** Identifiers of the request (xnames, MACs, NIDs) that name no Node in SMD. */
  unknown: Identifier[];
  /** The Nodes each resolved MAC and NID of the request names, for messages. */
  resolved: Array<{ id: Identifier; nodes: string[] }>;
  /** Every Node in SMD the request names (by xname, MAC or NID): their targets are their xnames. */
  nodes: Set<string>;
}

export function planWrite(ids: Identifier[], named: Map<string, string[]>): WritePlan {
  const plan: WritePlan = { targets: [], replaced: [], unknown: [], resolved: [], nodes: new Set() };
  const seen = new Set<string>();
  const target = (i: Identifier) => {
    if (!seen.has(idOf(i))) plan.targets.push(i);
    seen.add(idOf(i));
  };
  for (const id of ids) {
    const nodes = named.get(idOf(id));
    if (id.kind === "role" || id.kind === "default") target(id);
    else if (!nodes) {
      plan.unknown.push(id);
      target(id);
    } else if (id.kind === "xname") {
      plan.nodes.add(id.key);
      target(id);
    } else {
      for (const node of nodes) {
        plan.nodes.add(node);
        target({ kind: "xname", key: node });
      }
      plan.replaced.push(id);
      plan.resolved.push({ id, nodes });
    }
  }
  return plan;
}

/** `52:54:00:be:ef:01 is x1000c0s0b0n0; NID 8 is x1000c0s0b1n0`, for messages; "" when nothing was resolved. */
export function describeResolved(plan: WritePlan): string {
  return plan.resolved.map(({ id, nodes }) => `${id.kind === "nid" ? `NID ${id.key}` : id.key} is ${nodes.join(", ")}`).join("; ");
}

/**
 * One statement: every Node component some identifier of `targets` (rows `(kind, key)`) could
 * apply to, with its MACs and the keys of every entry that applies to it. Each branch reaches
 * boot_assignments by its primary key from one component row.
 */
export function bootingNodesQuery(targets: SQL): SQL {
  const a = assignments;
  return sql`
    WITH t AS MATERIALIZED (${targets}),
    comp AS (SELECT ${components.id} AS id, ${components.nid} AS nid, ${components.role} AS role FROM ${components}
      WHERE ${components.type} = 'Node' AND (
        ${components.id} IN (SELECT key FROM t WHERE kind = 'xname')
        OR ${components.id} IN (SELECT ${interfaces.componentId} FROM ${interfaces} WHERE ${interfaces.macAddress} IN (SELECT key FROM t WHERE kind = 'mac'))
        OR (${components.nid} >= 0 AND CAST(${components.nid} AS TEXT) IN (SELECT key FROM t WHERE kind = 'nid'))
        OR ${components.role} IN (SELECT key FROM t WHERE kind = 'role')
        OR EXISTS (SELECT 1 FROM t WHERE kind = 'default')))
    SELECT comp.id AS id, comp.nid AS nid, comp.role AS role,
      (SELECT json_group_array(mac) FROM (SELECT ${interfaces.macAddress} AS mac FROM ${interfaces}
        WHERE ${interfaces.componentId} = comp.id ORDER BY ${interfaces.id})) AS macs,
      (SELECT json_group_array(json_array(kind, key)) FROM (
        SELECT ${a.kind} AS kind, ${a.key} AS key FROM ${a} WHERE ${a.kind} = 'xname' AND ${a.key} = comp.id
        UNION ALL SELECT ${a.kind}, ${a.key} FROM ${interfaces} JOIN ${a} ON ${a.kind} = 'mac' AND ${a.key} = ${interfaces.macAddress}
          WHERE ${interfaces.componentId} = comp.id
        UNION ALL SELECT ${a.kind}, ${a.key} FROM ${a} WHERE ${a.kind} = 'nid' AND comp.nid >= 0 AND ${a.key} = CAST(comp.nid AS TEXT)
        UNION ALL SELECT ${a.kind}, ${a.key} FROM ${a} WHERE ${a.kind} = 'role' AND ${a.key} = comp.role
        UNION ALL SELECT ${a.kind}, ${a.key} FROM ${a} WHERE ${a.kind} = 'default')) AS candidates
    FROM comp ORDER BY comp.id`;
}

export interface BootingRow {
  id: string;
  nid: number;
  role: string;
  /** JSON array of MACs. */
  macs: string;
  /** JSON array of [kind, key]. */
  candidates: string;
}

/** The entry a node boots when it asks by `bootingMac` ("" when it asks by xname or NID), or undefined. */
export function winningEntry(row: BootingRow, bootingMac: string): Identifier | undefined {
  const node = { id: row.id, nid: row.nid, role: row.role, macs: JSON.parse(row.macs) as string[] };
  // The rule needs only which entry wins, not what it holds: each candidate gets its own empty
  // config, by which the winner is recognised.
  const entryOf = new Map<BootConfig, Identifier>();
  const candidates = (JSON.parse(row.candidates) as Array<[MatchKind, string]>).map(([kind, key]): Candidate => {
    const config: BootConfig = { kernel: "", initrd: "", params: "" };
    entryOf.set(config, { kind, key });
    return { kind, key, config };
  });
  const best = chooseBootConfig(node, bootingMac, candidates);
  return best && entryOf.get(best.config);
}

/**
 * The nodes of `rows` that boot one of `entries`, whichever key they ask by (their xname or NID,
 * or any of their MACs, which matters when a node has entries for several of its MACs).
 */
export function nodesBooting(rows: BootingRow[], entries: Identifier[]): string[] {
  const wanted = new Set(entries.map(idOf));
  return rows
    .filter((row) =>
      ["", ...(JSON.parse(row.macs) as string[])].some((mac) => {
        const w = winningEntry(row, mac);
        return w !== undefined && wanted.has(idOf(w));
      }),
    )
    .map((row) => row.id);
}
