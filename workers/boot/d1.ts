import { type SQL, sql } from "drizzle-orm";
import { ipSpellings } from "../../shared/ip";
import type { Db } from "../db";
import {
  bootAssignments,
  bootConfigs,
  cloudInitClusterDefaults,
  cloudInitGroups,
  cloudInitInstances,
  components,
  ethernetInterfaceIps,
  ethernetInterfaces,
  groupMembers,
} from "../db/schema";
import { chooseBootConfig, withLowestId } from "./precedence";
import type { BootReader } from "./reader";
import {
  type BootKey,
  type Candidate,
  type ClusterDefaults,
  EMPTY_DEFAULTS,
  type GroupFacts,
  type InstanceInfo,
  type LookupOptions,
  type MatchKind,
  type NodeLookup,
  type Resolution,
} from "./types";

/**
 * The boot path read from D1's live tables: each lookup is ONE statement (one round trip), so a
 * node added to SMD or a changed boot entry takes effect on the very next request. The statements
 * gather the facts; the rules (precedence.ts) decide, as they do for the snapshot.
 */
export function d1Reader(db: Db): BootReader {
  let reader = readers.get(db);
  if (!reader) {
    reader = newReader(db);
    readers.set(db, reader);
  }
  return reader;
}

/** One reader per database (it holds no state of its own), so a request on the D1 path allocates none. */
const readers = new WeakMap<Db, BootReader>();

function newReader(db: Db): BootReader {
  return {
    source: "d1",
    resolveBoot: (key) => resolveBoot(db, key),
    async nodeByIp(ip, opts = {}) {
      const spellings = ipSpellings(ip);
      if (spellings.length === 0) return undefined;
      // Stored IPv6 text may be upper case; IPv4 has one spelling. A short literal IN list (at most
      // six) keeps the lookup a plain index search.
      const candidates = [...new Set([...spellings, ...spellings.map((s) => s.toUpperCase())])];
      const holders = sql`SELECT DISTINCT ${ethernetInterfaces.componentId} AS id FROM ${ethernetInterfaceIps}
        JOIN ${ethernetInterfaces} ON ${ethernetInterfaces.id} = ${ethernetInterfaceIps.interfaceId}
        WHERE ${ethernetInterfaceIps.ipAddress} IN (${sql.join(
          candidates.map((c) => sql`${c}`),
          sql`, `,
        )}) AND ${ethernetInterfaces.componentId} <> ''`;
      return lookupNode(db, holders, opts);
    },
    async nodeById(id, opts = {}) {
      return (await lookupNode(db, sql`SELECT ${id} AS id`, opts))!;
    },
    remember: (_key, compute) => compute().then((r) => r.value),
  };
}

// ----------------------------------------------------------------------------- BSS

/** The SMD Node components the key names (the `comp` CTE): one for a MAC or an xname, any number for a NID. */
function componentsOf(key: BootKey): SQL {
  const cols = sql`${components.id} AS id, ${components.nid} AS nid, ${components.role} AS role, ${components.enabled} AS enabled`;
  const isNode = sql`${components.type} = 'Node'`;
  if ("mac" in key)
    return sql`SELECT ${cols} FROM ${ethernetInterfaces} JOIN ${components} ON ${components.id} = ${ethernetInterfaces.componentId}
               WHERE ${ethernetInterfaces.macAddress} = ${key.mac} AND ${isNode}`;
  if ("name" in key) return sql`SELECT ${cols} FROM ${components} WHERE ${components.id} = ${key.name} AND ${isNode}`;
  return sql`SELECT ${cols} FROM ${components} WHERE ${components.nid} = ${key.nid} AND ${isNode}`;
}

/**
 * The boot entries that could apply to the `comp` row: its xname, each of its MACs, its NID, its
 * role and Default. Every branch starts from the one `comp` row and reaches assignments by primary
 * key; CROSS JOIN pins that join order (SQLite otherwise scans every MAC assignment and joins
 * back, which grows with the cluster).
 */
const CANDIDATES = sql`
  SELECT ${bootAssignments.kind} AS kind, ${bootAssignments.key} AS key, ${bootAssignments.configId} AS config_id FROM comp
    CROSS JOIN ${bootAssignments} ON ${bootAssignments.kind} = 'xname' AND ${bootAssignments.key} = comp.id
  UNION ALL
  SELECT ${bootAssignments.kind}, ${bootAssignments.key}, ${bootAssignments.configId} FROM comp
    CROSS JOIN ${ethernetInterfaces} ON ${ethernetInterfaces.componentId} = comp.id
    CROSS JOIN ${bootAssignments} ON ${bootAssignments.kind} = 'mac' AND ${bootAssignments.key} = ${ethernetInterfaces.macAddress}
  UNION ALL
  SELECT ${bootAssignments.kind}, ${bootAssignments.key}, ${bootAssignments.configId} FROM comp
    CROSS JOIN ${bootAssignments} ON ${bootAssignments.kind} = 'nid' AND ${bootAssignments.key} = CAST(comp.nid AS TEXT) WHERE comp.nid >= 0
  UNION ALL
  SELECT ${bootAssignments.kind}, ${bootAssignments.key}, ${bootAssignments.configId} FROM comp
    CROSS JOIN ${bootAssignments} ON ${bootAssignments.kind} = 'role' AND ${bootAssignments.key} = comp.role
  UNION ALL
  SELECT ${bootAssignments.kind}, ${bootAssignments.key}, ${bootAssignments.configId} FROM comp
    CROSS JOIN ${bootAssignments} ON ${bootAssignments.kind} = 'default'`;

/** The one statement of a boot lookup (exported for the query-plan test): one row per component the key names. */
export function bootLookupQuery(key: BootKey): SQL {
  return sql`
    WITH comp AS (${componentsOf(key)})
    SELECT comp.id, comp.nid, comp.role, comp.enabled,
      (SELECT json_group_array(mac) FROM
        (SELECT ${ethernetInterfaces.macAddress} AS mac FROM ${ethernetInterfaces} WHERE ${ethernetInterfaces.componentId} = comp.id
         ORDER BY ${ethernetInterfaces.id})) AS macs,
      (SELECT json_group_array(json_array(kind, key, ${bootConfigs.kernel}, ${bootConfigs.initrd}, ${bootConfigs.params}))
        FROM (${CANDIDATES}) JOIN ${bootConfigs} ON ${bootConfigs.id} = config_id) AS candidates
    FROM comp`;
}

interface BootRow {
  id: string;
  nid: number;
  role: string;
  enabled: number;
  /** JSON array of MACs. */
  macs: string;
  /** JSON array of [kind, key, kernel, initrd, params]. */
  candidates: string;
}

async function resolveBoot(db: Db, key: BootKey): Promise<Resolution> {
  const rows = await db.all<BootRow>(bootLookupQuery(key));
  // NIDs are not unique in SMD.
  const row = withLowestId(rows);
  if (!row) return {};
  const component = { id: row.id, nid: row.nid, role: row.role, enabled: Boolean(row.enabled), macs: JSON.parse(row.macs) as string[] };
  const candidates = (JSON.parse(row.candidates) as Array<[MatchKind, string, string, string, string]>).map(
    ([kind, key, kernel, initrd, params]): Candidate => ({ kind, key, config: { kernel, initrd, params } }),
  );
  const best = chooseBootConfig(component, "mac" in key ? key.mac : "", candidates);
  return best ? { component, config: best.config, matchedBy: best.matchedBy } : { component };
}

// ----------------------------------------------------------------------------- cloud-init

interface NodeRow {
  id: string;
  nid: number | null;
  ip: string | null;
  groups: string;
  ci_groups: string;
  instance: string | null;
  defaults: string | null;
  file: string | null;
}

/**
 * The node views of the components `holders` selects (a column `id`), one row each; the lowest
 * id is the node (several may hold one address).
 */
async function lookupNode(db: Db, holders: SQL, opts: LookupOptions): Promise<NodeLookup | undefined> {
  const d = cloudInitClusterDefaults;
  const x = cloudInitInstances;
  const rows = await db.all<NodeRow>(sql`WITH hit AS MATERIALIZED (${holders})
    SELECT hit.id AS id, ${components.nid} AS nid,
      (SELECT ${ethernetInterfaceIps.ipAddress} FROM ${ethernetInterfaces}
        JOIN ${ethernetInterfaceIps} ON ${ethernetInterfaceIps.interfaceId} = ${ethernetInterfaces.id}
        WHERE ${ethernetInterfaces.componentId} = hit.id
        ORDER BY ${ethernetInterfaces.id}, ${ethernetInterfaceIps.position} LIMIT 1) AS ip,
      (SELECT json_group_array(label) FROM
        (SELECT ${groupMembers.groupLabel} AS label FROM ${groupMembers} WHERE ${groupMembers.componentId} = hit.id
         ORDER BY ${groupMembers.groupLabel})) AS groups,
      (SELECT json_group_array(json_object('name', ${cloudInitGroups.name}, 'description', ${cloudInitGroups.description},
          'metaData', json(${cloudInitGroups.metaData}), 'hasFile', ${cloudInitGroups.fileContent} <> ''))
        FROM ${cloudInitGroups} WHERE ${cloudInitGroups.name} IN
          (SELECT ${groupMembers.groupLabel} FROM ${groupMembers} WHERE ${groupMembers.componentId} = hit.id)) AS ci_groups,
      (SELECT json_object('id', ${x.id}, 'instanceId', ${x.instanceId}, 'localHostname', ${x.localHostname},
          'hostname', ${x.hostname}, 'clusterName', ${x.clusterName}, 'region', ${x.region},
          'availabilityZone', ${x.availabilityZone}, 'cloudProvider', ${x.cloudProvider},
          'instanceType', ${x.instanceType}, 'cloudInitBaseUrl', ${x.cloudInitBaseUrl},
          'publicKeys', json(${x.publicKeys}))
        FROM ${x} WHERE ${x.id} = hit.id) AS instance,
      (SELECT json_object('cloudProvider', ${d.cloudProvider}, 'region', ${d.region},
          'availabilityZone', ${d.availabilityZone}, 'clusterName', ${d.clusterName},
          'publicKeys', json(${d.publicKeys}), 'baseUrl', ${d.baseUrl}, 'bootSubnet', ${d.bootSubnet},
          'wgSubnet', ${d.wgSubnet}, 'shortName', ${d.shortName}, 'nidLength', ${d.nidLength})
        FROM ${d} WHERE ${d.id} = 1) AS defaults,
      (SELECT json_object('content', ${cloudInitGroups.fileContent}, 'encoding', ${cloudInitGroups.fileEncoding})
        FROM ${cloudInitGroups} WHERE ${cloudInitGroups.name} = ${opts.file ?? null}) AS file
    FROM hit LEFT JOIN ${components} ON ${components.id} = hit.id`);
  const row = withLowestId(rows);
  if (!row) return undefined;
  const groupData = (JSON.parse(row.ci_groups) as Array<GroupFacts & { hasFile: number | boolean }>).map((g) => ({
    ...g,
    hasFile: Boolean(g.hasFile),
  }));
  return {
    view: {
      id: row.id,
      inSmd: row.nid !== null,
      nid: row.nid ?? -1,
      ip: row.ip ?? "",
      groups: JSON.parse(row.groups),
      groupData,
      defaults: row.defaults ? (JSON.parse(row.defaults) as ClusterDefaults) : EMPTY_DEFAULTS,
      instance: row.instance ? (JSON.parse(row.instance) as InstanceInfo) : undefined,
    },
    file: row.file ? JSON.parse(row.file) : undefined,
  };
}
