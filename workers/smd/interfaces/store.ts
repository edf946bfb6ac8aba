import { and, asc, eq, type SQL, sql } from "drizzle-orm";
import { changes, countAndDelete, type Db, inList, runBatch, type Statement } from "../../db";
import { ethernetInterfaceIps, ethernetInterfaces } from "../../db/schema";
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

/** The IP list of each interface, in order, as one JSON column: the whole list is one query. */
const ipsJson = sql<string>`(SELECT json_group_array(json_array(ip_address, network)) FROM
  (SELECT ip_address, network FROM ${ethernetInterfaceIps} i WHERE i.interface_id = ${ethernetInterfaces.id} ORDER BY position))`;

const hasIp = (ips: string[]) =>
  sql`EXISTS (SELECT 1 FROM ${ethernetInterfaceIps} i WHERE i.interface_id = ${ethernetInterfaces.id} AND ${inList(sql`i.ip_address`, ips)})`;
const hasNoIp = sql`NOT EXISTS (SELECT 1 FROM ${ethernetInterfaceIps} i WHERE i.interface_id = ${ethernetInterfaces.id})`;

function whereOf(f: InterfaceFilter): SQL | undefined {
  const parts: (SQL | undefined)[] = [];
  if (f.ids.length) parts.push(inList(ethernetInterfaces.id, f.ids));
  if (f.macs.length) parts.push(inList(ethernetInterfaces.macAddress, f.macs));
  if (f.componentIds.length) parts.push(inList(ethernetInterfaces.componentId, f.componentIds));
  if (f.types.length) parts.push(inList(ethernetInterfaces.type, f.types));
  if (f.ips.length) {
    const real = f.ips.filter((ip) => ip !== "");
    const any: SQL[] = [];
    if (real.length) any.push(hasIp(real));
    if (real.length !== f.ips.length) any.push(hasNoIp);
    parts.push(sql`(${sql.join(any, sql` OR `)})`);
  }
  if (f.networks.length)
    parts.push(
      sql`EXISTS (SELECT 1 FROM ${ethernetInterfaceIps} i WHERE i.interface_id = ${ethernetInterfaces.id} AND ${inList(sql`i.network`, f.networks)})`,
    );
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

/** Statements that insert interfaces and their IPs (one JSON parameter each), for one batch. */
export function insertInterfaceStatements(records: InterfaceRecord[], onConflict: "fail" | "replace"): Statement[] {
  if (records.length === 0) return [];
  const rows = records.map((r) => [r.id, r.macAddress, r.description, r.componentId, r.type, r.lastUpdate]);
  const ips = records.flatMap((r) => r.ips.map((a, position) => [r.id, a.ip, a.network, position]));
  const statements: Statement[] = [];
  if (onConflict === "replace")
    statements.push(
      sql`DELETE FROM ${ethernetInterfaces} WHERE ${inList(
        ethernetInterfaces.id,
        records.map((r) => r.id),
      )}`,
    );
  statements.push(sql`INSERT INTO ${ethernetInterfaces} (id, mac_address, description, component_id, type, last_update)
    SELECT json_extract(value,'$[0]'), json_extract(value,'$[1]'), json_extract(value,'$[2]'), json_extract(value,'$[3]'),
           json_extract(value,'$[4]'), json_extract(value,'$[5]') FROM json_each(${JSON.stringify(rows)})`);
  if (ips.length)
    statements.push(sql`INSERT OR IGNORE INTO ${ethernetInterfaceIps} (interface_id, ip_address, network, position)
      SELECT json_extract(value,'$[0]'), json_extract(value,'$[1]'), json_extract(value,'$[2]'), json_extract(value,'$[3]')
      FROM json_each(${JSON.stringify(ips)})`);
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
  const set: Record<string, unknown> = {};
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.componentId !== undefined) set.componentId = patch.componentId;
  if (patch.type !== undefined) set.type = patch.type;
  if (patch.lastUpdate !== undefined) set.lastUpdate = patch.lastUpdate;
  const statements: Statement[] = [];
  if (Object.keys(set).length) statements.push(db.update(ethernetInterfaces).set(set).where(eq(ethernetInterfaces.id, id)));
  if (patch.ips) {
    statements.push(sql`DELETE FROM ${ethernetInterfaceIps} WHERE interface_id = ${id}`);
    const rows = patch.ips.map((a, position) => [a.ip, a.network, position]);
    if (rows.length)
      statements.push(sql`INSERT OR IGNORE INTO ${ethernetInterfaceIps} (interface_id, ip_address, network, position)
        SELECT ${id}, json_extract(value,'$[0]'), json_extract(value,'$[1]'), json_extract(value,'$[2]') FROM json_each(${JSON.stringify(rows)})`);
  }
  await runBatch(db, statements);
}

export async function deleteInterface(db: Db, id: string): Promise<number> {
  return changes(await db.delete(ethernetInterfaces).where(eq(ethernetInterfaces.id, id)).run());
}

export async function deleteAllInterfaces(db: Db): Promise<number> {
  return countAndDelete(db, ethernetInterfaces);
}

export async function addIp(db: Db, id: string, ip: string, network: string, lastUpdate: string): Promise<void> {
  await runBatch(db, [
    sql`INSERT INTO ${ethernetInterfaceIps} (interface_id, ip_address, network, position)
        VALUES (${id}, ${ip}, ${network}, (SELECT COALESCE(MAX(position) + 1, 0) FROM ${ethernetInterfaceIps} WHERE interface_id = ${id}))`,
    sql`UPDATE ${ethernetInterfaces} SET last_update = ${lastUpdate} WHERE id = ${id}`,
  ]);
}

export async function setIpNetwork(db: Db, id: string, ip: string, network: string, lastUpdate: string): Promise<number> {
  const [res] = await runBatch(db, [
    sql`UPDATE ${ethernetInterfaceIps} SET network = ${network} WHERE interface_id = ${id} AND ip_address = ${ip}`,
    sql`UPDATE ${ethernetInterfaces} SET last_update = ${lastUpdate} WHERE id = ${id}
        AND EXISTS (SELECT 1 FROM ${ethernetInterfaceIps} WHERE interface_id = ${id} AND ip_address = ${ip})`,
  ]);
  return res.meta.changes ?? 0;
}

export async function deleteIp(db: Db, id: string, ip: string, lastUpdate: string): Promise<number> {
  const [res] = await runBatch(db, [
    sql`DELETE FROM ${ethernetInterfaceIps} WHERE interface_id = ${id} AND ip_address = ${ip}`,
    sql`UPDATE ${ethernetInterfaces} SET last_update = ${lastUpdate} WHERE id = ${id} AND changes() > 0`,
  ]);
  return res.meta.changes ?? 0;
}
