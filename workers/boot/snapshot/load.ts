import { type SQL, sql } from "drizzle-orm";
import { type Db, preRendered, runBatch } from "../../db";
import {
  bootAssignments,
  bootConfigs,
  bootGeneration,
  cloudInitGroups,
  components,
  cloudInitClusterDefaults as defaults,
  ethernetInterfaceIps,
  ethernetInterfaces,
  groupMembers,
  cloudInitInstances as instances,
} from "../../db/schema";
import { BootSnapshot, type SnapshotRows } from "./model";

/** Which database state a snapshot or a check describes: the trigger-bumped counter and the database's id. */
export interface Generation {
  generation: number;
  databaseId: string;
}

export const sameGeneration = (a: Generation, b: Generation) => a.generation === b.generation && a.databaseId === b.databaseId;

const GENERATION = sql`SELECT ${bootGeneration.generation} AS generation, ${bootGeneration.databaseId} AS databaseId
  FROM ${bootGeneration} WHERE ${bootGeneration.id} = 1`;

const MISSING = "boot_generation has no row: are the migrations applied?";

const generationRead = preRendered(GENERATION);

/** The current generation: one indexed one-row read. */
export async function readGeneration(db: Db): Promise<Generation> {
  const row = await generationRead.first<Generation>(db);
  if (!row) throw new Error(MISSING);
  return row;
}

/**
 * Every table the boot path reads (the same list the generation triggers watch, in
 * migrations/0006_boot_generation.sql; a test checks it), with columns named as SnapshotRows names them.
 */
export const SNAPSHOT_QUERIES: Record<keyof SnapshotRows, SQL> = {
  components: sql`SELECT ${components.id}, ${components.type}, ${components.nid}, ${components.role}, ${components.enabled} FROM ${components}`,
  interfaces: sql`SELECT ${ethernetInterfaces.id}, ${ethernetInterfaces.macAddress}, ${ethernetInterfaces.componentId}
    FROM ${ethernetInterfaces} ORDER BY ${ethernetInterfaces.id}`,
  ips: sql`SELECT ${ethernetInterfaceIps.interfaceId}, ${ethernetInterfaceIps.ipAddress} FROM ${ethernetInterfaceIps}
    ORDER BY ${ethernetInterfaceIps.interfaceId}, ${ethernetInterfaceIps.position}`,
  members: sql`SELECT ${groupMembers.groupLabel}, ${groupMembers.componentId} FROM ${groupMembers}`,
  assignments: sql`SELECT ${bootAssignments.kind}, ${bootAssignments.key}, ${bootAssignments.configId} FROM ${bootAssignments}`,
  configs: sql`SELECT ${bootConfigs.id}, ${bootConfigs.kernel}, ${bootConfigs.initrd}, ${bootConfigs.params} FROM ${bootConfigs}`,
  ciGroups: sql`SELECT ${cloudInitGroups.name}, ${cloudInitGroups.description}, ${cloudInitGroups.metaData}, ${cloudInitGroups.fileContent},
    ${cloudInitGroups.fileEncoding} FROM ${cloudInitGroups}`,
  // Named as the records they become (boot/types.ts InstanceInfo, ClusterDefaults).
  instances: sql`SELECT ${instances.id} AS id, ${instances.instanceId} AS instanceId, ${instances.localHostname} AS localHostname,
    ${instances.hostname} AS hostname, ${instances.clusterName} AS clusterName, ${instances.region} AS region,
    ${instances.availabilityZone} AS availabilityZone, ${instances.cloudProvider} AS cloudProvider,
    ${instances.instanceType} AS instanceType, ${instances.cloudInitBaseUrl} AS cloudInitBaseUrl,
    ${instances.publicKeys} AS publicKeys FROM ${instances}`,
  defaults: sql`SELECT ${defaults.cloudProvider} AS cloudProvider, ${defaults.region} AS region,
    ${defaults.availabilityZone} AS availabilityZone, ${defaults.clusterName} AS clusterName, ${defaults.publicKeys} AS publicKeys,
    ${defaults.baseUrl} AS baseUrl, ${defaults.bootSubnet} AS bootSubnet, ${defaults.wgSubnet} AS wgSubnet,
    ${defaults.shortName} AS shortName, ${defaults.nidLength} AS nidLength FROM ${defaults} WHERE ${defaults.id} = 1`,
};

/**
 * The generation and every table the boot path reads in one D1 batch: one transaction, so the
 * snapshot is exactly the database at that generation.
 */
export async function loadSnapshot(db: Db): Promise<{ snapshot: BootSnapshot; generation: Generation }> {
  const names = Object.keys(SNAPSHOT_QUERIES) as Array<keyof SnapshotRows>;
  const results = await runBatch(db, [GENERATION, ...names.map((n) => SNAPSHOT_QUERIES[n])]);
  const generation = results[0].results[0] as Generation | undefined;
  if (!generation) throw new Error(MISSING);
  const rows = Object.fromEntries(names.map((n, i) => [n, results[i + 1].results])) as unknown as SnapshotRows;
  return { snapshot: new BootSnapshot(rows), generation };
}
