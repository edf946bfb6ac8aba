import { asc, eq, or, type SQL, sql } from "drizzle-orm";
import { type Db, inList } from "../../db";
import { componentEndpoints, components, ethernetInterfaces } from "../../db/schema";
import type { ComponentRow } from "../../smd/components/model";

/** A Node as BSS sees it: its SMD component, its MACs (EthernetInterfaces) and FQDN. */
export interface HostRecord {
  component: ComponentRow;
  macs: string[];
  fqdn: string;
}

export interface HostFilter {
  names: string[];
  macs: string[];
  nids: number[];
}

/**
 * Node components read live from SMD's tables (nothing cached), each with its MACs in interface
 * order, optionally narrowed to those matching any of the filter's names, MACs or NIDs. One query.
 */
export async function listHosts(db: Db, f?: HostFilter): Promise<HostRecord[]> {
  const any: SQL[] = [];
  if (f?.names.length) any.push(inList(components.id, f.names));
  if (f?.macs.length)
    any.push(
      sql`${components.id} IN (SELECT ${ethernetInterfaces.componentId} FROM ${ethernetInterfaces} WHERE ${inList(ethernetInterfaces.macAddress, f.macs)})`,
    );
  if (f?.nids.length) any.push(inList(components.nid, f.nids));
  const rows = await db
    .select({
      component: components,
      fqdn: sql<string>`COALESCE(${componentEndpoints.fqdn}, '')`,
      macs: sql<string>`(SELECT json_group_array(mac) FROM
        (SELECT ${ethernetInterfaces.macAddress} AS mac FROM ${ethernetInterfaces} WHERE ${ethernetInterfaces.componentId} = ${components.id}
         ORDER BY ${ethernetInterfaces.id}))`,
    })
    .from(components)
    .leftJoin(componentEndpoints, eq(componentEndpoints.id, components.id))
    .where(sql`${components.type} = 'Node'${any.length ? sql` AND ${or(...any)}` : sql``}`)
    .orderBy(asc(components.id))
    .all();
  return rows.map((r) => ({ component: r.component, fqdn: r.fqdn, macs: JSON.parse(r.macs) as string[] }));
}
