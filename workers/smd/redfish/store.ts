import { and, asc, eq, getTableColumns, inArray, ne, or, type SQL, type SQLWrapper, sql } from "drizzle-orm";
import { QueryBuilder, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { bare, type Db, inList, jsonRowsInsert, runBatch, type Statement } from "../../db";
import { componentEndpoints, components, redfishEndpoints } from "../../db/schema";
import { detachStatements as detachHardwareStatements, storeStatements as storeHardwareStatements } from "../hardware/store";
import { insertInterfaceStatements } from "../interfaces/store";
import { type Terms, termsWhere } from "../terms";
import type { RedfishEndpointRow } from "./model";
import type { DiscoveredInventory } from "./parser";

export type RedfishFilter = Partial<Record<"id" | "fqdn" | "type" | "uuid" | "macAddr" | "ipAddress" | "lastStatus", Terms<string>>>;

const qb = new QueryBuilder();

/** Rows written whole, every column. */
const allColumns = <T extends SQLiteTable>(table: T) => Object.keys(getTableColumns(table)) as Array<keyof T["_"]["columns"] & string>;
const endpointInsert = jsonRowsInsert(redfishEndpoints, allColumns(redfishEndpoints));
const componentEndpointInsert = jsonRowsInsert(componentEndpoints, allColumns(componentEndpoints));
/** Components a discovery payload describes: new ones On and enabled; existing ones back from Empty to On. */
const componentInsert = jsonRowsInsert(components, ["id", "type", "role", "nid", "state", "flag", "enabled"]);
const reviveComponents = sql`ON CONFLICT (${bare(components.id)})
  DO UPDATE SET ${bare(components.state)} = 'On', ${bare(components.flag)} = 'OK' WHERE ${components.state} IN ('', 'Empty')`;

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
  const described = { state: "On", flag: "OK", enabled: true };
  const rows = [
    ...(inv.bmc ? [{ id: inv.bmc.id, type: "NodeBMC", role: "", nid: -1, ...described }] : []),
    ...inv.nodes.map((n) => ({ id: n.id, type: "Node", role: "Compute", nid: n.nid, ...described })),
  ];
  const statements: Statement[] = [];
  statements.push(...componentInsert(rows, reviveComponents));
  if (inv.hardware.length) statements.push(...storeHardwareStatements(inv.hardware, Date.now()));
  statements.push(...insertInterfaceStatements(inv.interfaces, interfaces));
  if (inv.componentEndpoints.length)
    statements.push(
      sql`DELETE FROM ${componentEndpoints} WHERE ${inList(
        componentEndpoints.id,
        inv.componentEndpoints.map((e) => e.id),
      )}`,
      ...componentEndpointInsert(inv.componentEndpoints),
    );
  return statements;
}

/**
 * Creates endpoints (all-or-nothing) with whatever their bodies described. The array form's rows
 * go in multi-row statements, a few per table rather than several per endpoint: a batch of 250
 * endpoints was ~1,500 statements, which cost the database process about 0.7 ms per endpoint.
 * The order of the per-endpoint statements is kept table by table (endpoints, components,
 * hardware, interfaces, component endpoints), so each row's references exist before it.
 */
export async function insertRedfishEndpoints(
  db: Db,
  items: Array<{ row: RedfishEndpointRow; inventory?: DiscoveredInventory }>,
): Promise<void> {
  if (items.length === 1) {
    const [{ row, inventory }] = items;
    await runBatch(db, [...endpointInsert([row]), ...(inventory ? inventoryStatements(inventory, "fail") : [])]);
    return;
  }
  const described = { state: "On", flag: "OK", enabled: true };
  const componentRows: Array<{ id: string; type: string; role: string; nid: number; state: string; flag: string; enabled: boolean }> = [];
  const interfaces: DiscoveredInventory["interfaces"] = [];
  /** By ID: a later endpoint's component endpoint replaces an earlier one's, as the per-endpoint DELETE did. */
  const componentEndpointRows = new Map<string, DiscoveredInventory["componentEndpoints"][number]>();
  for (const { inventory: inv } of items) {
    if (!inv) continue;
    if (inv.bmc) componentRows.push({ id: inv.bmc.id, type: "NodeBMC", role: "", nid: -1, ...described });
    for (const n of inv.nodes) componentRows.push({ id: n.id, type: "Node", role: "Compute", nid: n.nid, ...described });
    interfaces.push(...inv.interfaces);
    for (const e of inv.componentEndpoints) {
      componentEndpointRows.delete(e.id);
      componentEndpointRows.set(e.id, e);
    }
  }
  const statements: Statement[] = endpointInsert(items.map((i) => i.row));
  statements.push(...componentInsert(componentRows, reviveComponents));
  statements.push(...hardwareStatements(items.map((i) => i.inventory?.hardware ?? [])));
  statements.push(...insertInterfaceStatements(interfaces, "fail"));
  const endpointsOfComponents = [...componentEndpointRows.values()];
  if (endpointsOfComponents.length)
    statements.push(
      sql`DELETE FROM ${componentEndpoints} WHERE ${inList(
        componentEndpoints.id,
        endpointsOfComponents.map((e) => e.id),
      )}`,
      ...componentEndpointInsert(endpointsOfComponents),
    );
  await runBatch(db, statements);
}

/**
 * The hardware of several endpoints: one set of multi-row statements for all of them (three
 * statements per endpoint made most of a 250-endpoint batch's statements, each built, sent and
 * prepared on its own). Done endpoint by endpoint, as before, when two endpoints describe the same
 * location or FRU: then each endpoint's upsert and `Detected` event follow the one before it.
 */
function hardwareStatements(perEndpoint: DiscoveredInventory["hardware"][]): Statement[] {
  const now = Date.now();
  const locations = new Set<string>();
  const frus = new Set<string>();
  let shared = false;
  for (const hardware of perEndpoint) {
    const mine = new Set(hardware.map((l) => l.id));
    const myFrus = new Set(hardware.flatMap((l) => (l.fru ? [l.fru.fruId] : [])));
    for (const id of mine) shared ||= locations.has(id);
    for (const id of myFrus) shared ||= frus.has(id);
    for (const id of mine) locations.add(id);
    for (const id of myFrus) frus.add(id);
  }
  if (shared) return perEndpoint.filter((h) => h.length).flatMap((h) => storeHardwareStatements(h, now));
  const all = perEndpoint.flat();
  return all.length ? storeHardwareStatements(all, now) : [];
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
 * Deletes `table`'s rows that `where` selects, counted in the same batch (D1's `changes` would also
 * count the rows that go by cascade); the components `described` names are set Empty/OK first.
 */
async function deleteDescribing(
  db: Db,
  table: SQLiteTable,
  where: SQL | undefined,
  described: SQLWrapper,
  opts: { detachHardware?: boolean } = {},
): Promise<Deleted> {
  const [emptied, counted] = await runBatch(db, [
    db
      .update(components)
      .set({ state: "Empty", flag: "OK" })
      .where(and(inArray(components.id, described), or(ne(components.state, "Empty"), ne(components.flag, "OK"))))
      .returning({ id: components.id }),
    sql`SELECT count(*) AS n FROM ${table} ${where ? sql`WHERE ${where}` : sql``}`,
    // Upstream detaches the FRUs of an endpoint's components when the endpoint goes (a Removed event each).
    ...(opts.detachHardware ? detachHardwareStatements(described, Date.now()) : []),
    db.delete(table).where(where),
  ]);
  return { count: Number((counted.results[0] as { n: number }).n), emptied: (emptied.results as Array<{ id: string }>).map((r) => r.id) };
}

/** How many rows went, and the components set Empty (their state change is announced). */
export interface Deleted {
  count: number;
  emptied: string[];
}

/**
 * Deletes endpoints as upstream does: the components they described are set Empty/OK (not
 * deleted), their component endpoints go by cascade, interfaces and memberships stay.
 */
export async function deleteRedfishEndpoints(db: Db, where?: SQL): Promise<Deleted> {
  const endpoints = qb.select({ id: redfishEndpoints.id }).from(redfishEndpoints).where(where);
  const described = qb
    .select({ id: componentEndpoints.id })
    .from(componentEndpoints)
    .where(inArray(componentEndpoints.redfishEndpointId, endpoints));
  return deleteDescribing(db, redfishEndpoints, where, described, { detachHardware: true });
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

/** Deletes component endpoints; the components they described are set Empty/OK. */
export async function deleteComponentEndpoints(db: Db, where?: SQL): Promise<Deleted> {
  return deleteDescribing(db, componentEndpoints, where, qb.select({ id: componentEndpoints.id }).from(componentEndpoints).where(where));
}
