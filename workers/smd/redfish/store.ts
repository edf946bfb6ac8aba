import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import { type Db, inList, runBatch, type Statement } from "../../db";
import { componentEndpoints, components, redfishEndpoints } from "../../db/schema";
import { insertInterfaceStatements } from "../interfaces/store";
import { type Terms, termsWhere } from "../terms";
import type { ComponentEndpointRow, RedfishEndpointRow } from "./model";
import type { DiscoveredInventory } from "./parser";

export type RedfishFilter = Partial<Record<"id" | "fqdn" | "type" | "uuid" | "macAddr" | "ipAddress" | "lastStatus", Terms<string>>>;

export async function listRedfishEndpoints(db: Db, f: RedfishFilter = {}): Promise<RedfishEndpointRow[]> {
  const where = and(
    ...termsWhere(redfishEndpoints.id, f.id),
    ...termsWhere(redfishEndpoints.fqdn, f.fqdn),
    ...termsWhere(redfishEndpoints.type, f.type),
    ...termsWhere(redfishEndpoints.uuid, f.uuid),
    ...termsWhere(redfishEndpoints.macAddr, f.macAddr),
    ...termsWhere(redfishEndpoints.ipAddress, f.ipAddress),
    ...termsWhere(sql`json_extract(${redfishEndpoints.discoveryInfo}, '$.LastDiscoveryStatus')`, f.lastStatus),
  );
  return db.select().from(redfishEndpoints).where(where).orderBy(asc(redfishEndpoints.id)).all();
}

export async function getRedfishEndpoint(db: Db, id: string): Promise<RedfishEndpointRow | undefined> {
  return db.select().from(redfishEndpoints).where(eq(redfishEndpoints.id, id)).get();
}

/**
 * Statements that store what the endpoint body described: BMC and node components (new ones
 * created; existing ones keep NID, Role and the rest, and come back from Empty to On), the
 * interfaces (`replace`: existing MACs re-pointed, as upstream's PUT does) and the component
 * endpoints (replaced).
 */
function inventoryStatements(inv: DiscoveredInventory, interfaces: "fail" | "replace"): Statement[] {
  const rows: unknown[][] = [];
  if (inv.bmc) rows.push([inv.bmc.id, "NodeBMC", "", -1]);
  for (const n of inv.nodes) rows.push([n.id, "Node", "Compute", n.nid]);
  const statements: Statement[] = [];
  if (rows.length)
    statements.push(sql`INSERT INTO ${components} (id, type, state, flag, enabled, role, nid)
      SELECT json_extract(value,'$[0]'), json_extract(value,'$[1]'), 'On', 'OK', 1, json_extract(value,'$[2]'), json_extract(value,'$[3]')
      FROM json_each(${JSON.stringify(rows)}) WHERE true
      ON CONFLICT (id) DO UPDATE SET state = 'On', flag = 'OK' WHERE ${components.state} IN ('', 'Empty')`);
  statements.push(...insertInterfaceStatements(inv.interfaces, interfaces));
  if (inv.componentEndpoints.length) {
    statements.push(
      sql`DELETE FROM ${componentEndpoints} WHERE ${inList(
        componentEndpoints.id,
        inv.componentEndpoints.map((c) => c.id),
      )}`,
    );
    for (const ce of inv.componentEndpoints) statements.push(insertComponentEndpoint(ce));
  }
  return statements;
}

function insertComponentEndpoint(ce: ComponentEndpointRow): SQL {
  return sql`INSERT INTO ${componentEndpoints} (id, type, domain, fqdn, redfish_type, redfish_subtype, mac_addr, uuid, odata_id,
      redfish_endpoint_id, enabled, component_endpoint_type, info)
    VALUES (${ce.id}, ${ce.type}, ${ce.domain}, ${ce.fqdn}, ${ce.redfishType}, ${ce.redfishSubtype}, ${ce.macAddr}, ${ce.uuid},
      ${ce.odataId}, ${ce.redfishEndpointId}, ${ce.enabled ? 1 : 0}, ${ce.componentEndpointType}, ${ce.info})`;
}

/** Creates endpoints (all-or-nothing) with whatever their bodies described. */
export async function insertRedfishEndpoints(
  db: Db,
  items: Array<{ row: RedfishEndpointRow; inventory?: DiscoveredInventory }>,
): Promise<void> {
  const statements: Statement[] = [];
  for (const { row, inventory } of items) {
    statements.push(db.insert(redfishEndpoints).values(row));
    if (inventory) statements.push(...inventoryStatements(inventory, "fail"));
  }
  await runBatch(db, statements);
}

/** PUT: replace the endpoint (keeping its discovery info) and re-apply its inventory. */
export async function putRedfishEndpoint(db: Db, row: RedfishEndpointRow, inventory?: DiscoveredInventory): Promise<void> {
  const { id, discoveryInfo, ...rest } = row;
  await runBatch(db, [
    db.insert(redfishEndpoints).values(row).onConflictDoUpdate({ target: redfishEndpoints.id, set: rest }),
    ...(inventory ? inventoryStatements(inventory, "replace") : []),
  ]);
}

export async function updateRedfishEndpoint(db: Db, row: RedfishEndpointRow): Promise<void> {
  const { id, ...rest } = row;
  await db.update(redfishEndpoints).set(rest).where(eq(redfishEndpoints.id, id)).run();
}

/**
 * Deletes endpoints as upstream does: the components they described are set Empty/OK (not
 * deleted), their component endpoints go by cascade, interfaces and memberships stay.
 */
export async function deleteRedfishEndpoints(db: Db, where?: SQL): Promise<number> {
  const scope = where ? sql`WHERE ${where}` : sql``;
  const [, counted] = await runBatch(db, [
    sql`UPDATE ${components} SET state = 'Empty', flag = 'OK'
        WHERE id IN (SELECT ce.id FROM ${componentEndpoints} ce WHERE ce.redfish_endpoint_id IN (SELECT id FROM ${redfishEndpoints} ${scope}))
          AND NOT (state = 'Empty' AND flag = 'OK')`,
    sql`SELECT count(*) AS n FROM ${redfishEndpoints} ${scope}`,
    sql`DELETE FROM ${redfishEndpoints} ${scope}`,
  ]);
  return Number((counted.results[0] as { n: number }).n);
}

// --- component endpoints ------------------------------------------------------------------------

export type ComponentEndpointFilter = Partial<Record<"id" | "redfishEp" | "type" | "redfishType", string[]>>;

export async function listComponentEndpoints(db: Db, f: ComponentEndpointFilter = {}) {
  const where: SQL[] = [];
  if (f.id?.length) where.push(inList(componentEndpoints.id, f.id));
  if (f.redfishEp?.length) where.push(inList(componentEndpoints.redfishEndpointId, f.redfishEp));
  if (f.type?.length) where.push(inList(componentEndpoints.type, f.type));
  if (f.redfishType?.length) where.push(inList(componentEndpoints.redfishType, f.redfishType));
  return db
    .select({ ce: componentEndpoints, parentFqdn: redfishEndpoints.fqdn })
    .from(componentEndpoints)
    .innerJoin(redfishEndpoints, eq(redfishEndpoints.id, componentEndpoints.redfishEndpointId))
    .where(and(...where))
    .orderBy(asc(componentEndpoints.id))
    .all();
}

export async function deleteComponentEndpoints(db: Db, where?: SQL): Promise<number> {
  const scope = where ? sql`WHERE ${where}` : sql``;
  const [, counted] = await runBatch(db, [
    sql`UPDATE ${components} SET state = 'Empty', flag = 'OK'
        WHERE id IN (SELECT id FROM ${componentEndpoints} ${scope}) AND NOT (state = 'Empty' AND flag = 'OK')`,
    sql`SELECT count(*) AS n FROM ${componentEndpoints} ${scope}`,
    sql`DELETE FROM ${componentEndpoints} ${scope}`,
  ]);
  return Number((counted.results[0] as { n: number }).n);
}
