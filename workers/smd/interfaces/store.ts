import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import { QueryBuilder } from "drizzle-orm/sqlite-core";
import { changes, countAndDelete, type Db, inList, jsonRowsInsert, runBatch, type Statement } from "../../db";
import { ethernetInterfaces, ethernetInterfaceIps as ips } from "../../db/schema";
import type { InterfaceRecord } from "./model";

export interface InterfaceFilter {
  ids: string[];
  macs: string[];
  ips: string[];
  networks: string[];
  componentIds: string[];
  types: string[];
  olderThan?: string;
  newerThan?: string;
}

const qb = new QueryBuilder();

/** The IP list of each interface, in order, as one JSON column: the whole list is one query. */
const orderedIps = qb
  .select({ ip: ips.ipAddress, network: ips.network })
  .from(ips)
  .where(eq(ips.interfaceId, ethernetInterfaces.id))
  .orderBy(ips.position)
  .as("ordered_ips");
const ipsJson = sql<string>`(SELECT json_group_array(json_array(${orderedIps.ip}, ${orderedIps.network})) FROM ${orderedIps})`;

const hasIpWhere = (where: SQL) => sql`EXISTS (SELECT 1 FROM ${ips} WHERE ${ips.interfaceId} = ${ethernetInterfaces.id} AND ${where})`;
const hasNoIp = sql`NOT EXISTS (SELECT 1 FROM ${ips} WHERE ${ips.interfaceId} = ${ethernetInterfaces.id})`;

function whereOf(f: InterfaceFilter): SQL | undefined {
  const parts: (SQL | undefined)[] = [];
  if (f.ids.length) parts.push(inList(ethernetInterfaces.id, f.ids));
  if (f.macs.length) parts.push(inList(ethernetInterfaces.macAddress, f.macs));
  if (f.componentIds.length) parts.push(inList(ethernetInterfaces.componentId, f.componentIds));
  if (f.types.length) parts.push(inList(ethernetInterfaces.type, f.types));
  if (f.ips.length) {
    // An empty IPAddress value selects interfaces without any address.
    const real = f.ips.filter((ip) => ip !== "");
    const any: SQL[] = [];
    if (real.length) any.push(hasIpWhere(inList(ips.ipAddress, real)));
    if (real.length !== f.ips.length) any.push(hasNoIp);
    parts.push(sql`(${sql.join(any, sql` OR `)})`);
  }
  if (f.networks.length) parts.push(hasIpWhere(inList(ips.network, f.networks)));
  if (f.olderThan) parts.push(sql`${ethernetInterfaces.lastUpdate} < ${f.olderThan}`);
  if (f.newerThan) parts.push(sql`${ethernetInterfaces.lastUpdate} > ${f.newerThan}`);
  return and(...parts);
}

function toRecord(r: typeof ethernetInterfaces.$inferSelect & { ips: string | null }): InterfaceRecord {
  const pairs = JSON.parse(r.ips ?? "[]") as Array<[string, string]>;
  return { ...r, ips: pairs.map(([ip, network]) => ({ ip, network })) };
}

export async function listInterfaces(db: Db, f: InterfaceFilter): Promise<InterfaceRecord[]> {
  const rows = await db
    .select({
      id: ethernetInterfaces.id,
      macAddress: ethernetInterfaces.macAddress,
      description: ethernetInterfaces.description,
      componentId: ethernetInterfaces.componentId,
      type: ethernetInterfaces.type,
      lastUpdate: ethernetInterfaces.lastUpdate,
      ips: ipsJson,
    })
    .from(ethernetInterfaces)
    .where(whereOf(f))
    .orderBy(asc(ethernetInterfaces.id))
    .all();
  return rows.map(toRecord);
}

export const EMPTY_FILTER: InterfaceFilter = { ids: [], macs: [], ips: [], networks: [], componentIds: [], types: [] };

export async function getInterface(db: Db, id: string): Promise<InterfaceRecord | undefined> {
  return (await listInterfaces(db, { ...EMPTY_FILTER, ids: [id] }))[0];
}

type IpRow = typeof ips.$inferSelect;

const ipInsert = jsonRowsInsert(ips, ["interfaceId", "ipAddress", "network", "position"]);
/** Inserts IP rows; an address an interface already has is skipped. */
const insertIpRows = (rows: IpRow[]) => ipInsert(rows, sql`ON CONFLICT DO NOTHING`);

/** An interface's IP list as rows, in order. */
const ipRowsOf = (interfaceId: string, list: InterfaceRecord["ips"]): IpRow[] =>
  list.map((a, position) => ({ interfaceId, ipAddress: a.ip, network: a.network, position }));

const interfaceInsert = jsonRowsInsert(ethernetInterfaces, ["id", "macAddress", "description", "componentId", "type", "lastUpdate"]);

/** Statements that insert interfaces and their IPs (one JSON parameter each), for one batch. */
export function insertInterfaceStatements(records: InterfaceRecord[], onConflict: "fail" | "replace"): Statement[] {
  if (records.length === 0) return [];
  const ipRows = records.flatMap((r) => ipRowsOf(r.id, r.ips));
  const statements: Statement[] = [];
  if (onConflict === "replace")
    statements.push(
      sql`DELETE FROM ${ethernetInterfaces} WHERE ${inList(
        ethernetInterfaces.id,
        records.map((r) => r.id),
      )}`,
    );
  statements.push(...interfaceInsert(records), ...insertIpRows(ipRows));
  return statements;
}

export async function insertInterfaces(db: Db, records: InterfaceRecord[], onConflict: "fail" | "replace"): Promise<void> {
  await runBatch(db, insertInterfaceStatements(records, onConflict));
}

export async function updateInterface(
  db: Db,
  id: string,
  patch: { description?: string; componentId?: string; type?: string; ips?: Array<{ ip: string; network: string }>; lastUpdate?: string },
): Promise<void> {
  const set: Partial<typeof ethernetInterfaces.$inferInsert> = {};
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.componentId !== undefined) set.componentId = patch.componentId;
  if (patch.type !== undefined) set.type = patch.type;
  if (patch.lastUpdate !== undefined) set.lastUpdate = patch.lastUpdate;
  const statements: Statement[] = [];
  if (Object.keys(set).length) statements.push(db.update(ethernetInterfaces).set(set).where(eq(ethernetInterfaces.id, id)));
  if (patch.ips) {
    statements.push(db.delete(ips).where(eq(ips.interfaceId, id)));
    statements.push(...insertIpRows(ipRowsOf(id, patch.ips)));
  }
  await runBatch(db, statements);
}

export async function deleteInterface(db: Db, id: string): Promise<number> {
  return changes(await db.delete(ethernetInterfaces).where(eq(ethernetInterfaces.id, id)).run());
}

export async function deleteAllInterfaces(db: Db): Promise<number> {
  return countAndDelete(db, ethernetInterfaces);
}

const touch = (db: Db, id: string, lastUpdate: string, where?: SQL) =>
  db
    .update(ethernetInterfaces)
    .set({ lastUpdate })
    .where(and(eq(ethernetInterfaces.id, id), where));

/** Adds an address at the end of the interface's list. */
export async function addIp(db: Db, id: string, ip: string, network: string, lastUpdate: string): Promise<void> {
  const next = sql`(SELECT COALESCE(MAX(${ips.position}) + 1, 0) FROM ${ips} WHERE ${ips.interfaceId} = ${id})`;
  await runBatch(db, [db.insert(ips).values({ interfaceId: id, ipAddress: ip, network, position: next }), touch(db, id, lastUpdate)]);
}

const theIp = (id: string, ip: string) => and(eq(ips.interfaceId, id), eq(ips.ipAddress, ip));

export async function setIpNetwork(db: Db, id: string, ip: string, network: string, lastUpdate: string): Promise<number> {
  const [res] = await runBatch(db, [
    db.update(ips).set({ network }).where(theIp(id, ip)),
    touch(db, id, lastUpdate, sql`EXISTS (SELECT 1 FROM ${ips} WHERE ${theIp(id, ip)})`),
  ]);
  return res.meta.changes ?? 0;
}

export async function deleteIp(db: Db, id: string, ip: string, lastUpdate: string): Promise<number> {
  const [res] = await runBatch(db, [db.delete(ips).where(theIp(id, ip)), touch(db, id, lastUpdate, sql`changes() > 0`)]);
  return res.meta.changes ?? 0;
}
