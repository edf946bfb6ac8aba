import { type SQL, sql } from "drizzle-orm";
import { ipSpellings } from "../../shared/ip";
import type { Db } from "../db";
import type { GroupFacts, NodeView } from "./metadata";
import { type ClusterDefaults, EMPTY_DEFAULTS, type FileEncoding, type InstanceInfo } from "./model";

/**
 * How cloud-init finds the node behind a request: SMD EthernetInterfaces (IP → component), SMD
 * group memberships, and the cloud-init tables, read live (a node added to SMD is served at
 * once). Every lookup is ONE D1 query. The boot path asks workers/boot-snapshot first and comes
 * here when the snapshot cannot answer; the admin routes always come here.
 */
export interface NodeDirectory {
  /** The node owning `ip` in SMD, or undefined when no interface with a component holds it. */
  byIp(ip: string, opts?: LookupOptions): Promise<NodeLookup | undefined>;
  /** The node `id` (an xname) as if it had asked itself; `inSmd` false when SMD lacks it. */
  byId(id: string, opts?: LookupOptions): Promise<NodeLookup>;
}

export interface LookupOptions {
  /** Also return this cloud-init group's stored file. */
  file?: string;
}

export interface NodeLookup {
  view: NodeView;
  /** The stored file of `opts.file`, when that cloud-init group exists. */
  file?: { content: string; encoding: FileEncoding };
}

export function d1NodeDirectory(db: Db): NodeDirectory {
  return {
    async byIp(ip, opts = {}) {
      const spellings = ipSpellings(ip);
      if (spellings.length === 0) return undefined;
      // Stored IPv6 text may be upper case; IPv4 has one spelling. A short literal IN list (at most
      // six) keeps the lookup a plain index search.
      const candidates = [...new Set([...spellings, ...spellings.map((s) => s.toUpperCase())])];
      const hit = sql`SELECT e.component_id AS id FROM ethernet_interface_ips i
        JOIN ethernet_interfaces e ON e.id = i.interface_id
        WHERE i.ip_address IN (${sql.join(
          candidates.map((c) => sql`${c}`),
          sql`, `,
        )}) AND e.component_id <> ''
        ORDER BY e.component_id LIMIT 1`;
      return lookup(db, hit, opts);
    },
    async byId(id, opts = {}) {
      return (await lookup(db, sql`SELECT ${id} AS id`, opts))!;
    },
  };
}

interface Row {
  id: string;
  nid: number | null;
  ip: string | null;
  groups: string;
  ci_groups: string;
  instance: string | null;
  defaults: string | null;
  file: string | null;
}

async function lookup(db: Db, hit: SQL, opts: LookupOptions): Promise<NodeLookup | undefined> {
  const row = await db.get<Row | undefined>(sql`WITH hit AS MATERIALIZED (${hit}),
    node_groups AS (SELECT m.group_label AS label FROM group_members m WHERE m.component_id = (SELECT id FROM hit))
    SELECT hit.id AS id, c.nid AS nid,
      (SELECT i.ip_address FROM ethernet_interfaces e JOIN ethernet_interface_ips i ON i.interface_id = e.id
        WHERE e.component_id = hit.id ORDER BY e.id, i.position LIMIT 1) AS ip,
      (SELECT json_group_array(label) FROM (SELECT label FROM node_groups ORDER BY label)) AS groups,
      (SELECT json_group_array(json_object('name', g.name, 'description', g.description,
          'metaData', json(g.meta_data), 'hasFile', g.file_content <> ''))
        FROM cloud_init_groups g WHERE g.name IN (SELECT label FROM node_groups)) AS ci_groups,
      (SELECT json_object('id', x.id, 'instanceId', x.instance_id, 'localHostname', x.local_hostname,
          'hostname', x.hostname, 'clusterName', x.cluster_name, 'region', x.region,
          'availabilityZone', x.availability_zone, 'cloudProvider', x.cloud_provider,
          'instanceType', x.instance_type, 'cloudInitBaseUrl', x.cloud_init_base_url,
          'publicKeys', json(x.public_keys))
        FROM cloud_init_instances x WHERE x.id = hit.id) AS instance,
      (SELECT json_object('cloudProvider', d.cloud_provider, 'region', d.region,
          'availabilityZone', d.availability_zone, 'clusterName', d.cluster_name,
          'publicKeys', json(d.public_keys), 'baseUrl', d.base_url, 'bootSubnet', d.boot_subnet,
          'wgSubnet', d.wg_subnet, 'shortName', d.short_name, 'nidLength', d.nid_length)
        FROM cloud_init_cluster_defaults d WHERE d.id = 1) AS defaults,
      (SELECT json_object('content', f.file_content, 'encoding', f.file_encoding)
        FROM cloud_init_groups f WHERE f.name = ${opts.file ?? null}) AS file
    FROM hit LEFT JOIN components c ON c.id = hit.id`);
  if (!row) return undefined;
  const groupData = (JSON.parse(row.ci_groups) as Array<GroupFacts & { hasFile: number | boolean }>).map((g) => ({
    ...g,
    hasFile: Boolean(g.hasFile),
  }));
  const view: NodeView = {
    id: row.id,
    inSmd: row.nid !== null,
    nid: row.nid ?? -1,
    ip: row.ip ?? "",
    groups: JSON.parse(row.groups),
    groupData,
    defaults: row.defaults ? (JSON.parse(row.defaults) as ClusterDefaults) : EMPTY_DEFAULTS,
    instance: row.instance ? (JSON.parse(row.instance) as InstanceInfo) : undefined,
  };
  return { view, file: row.file ? JSON.parse(row.file) : undefined };
}
