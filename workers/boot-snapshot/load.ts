import { BootSnapshot, type SnapshotRows } from "./model";

/** Which database state a snapshot or a check describes: the trigger-bumped counter and the database's id. */
export interface Generation {
  generation: number;
  databaseId: string;
}

export const sameGeneration = (a: Generation, b: Generation) => a.generation === b.generation && a.databaseId === b.databaseId;

const GENERATION_SQL = "SELECT generation, database_id AS databaseId FROM boot_generation WHERE id = 1";

/** The current generation: one indexed one-row read. */
export async function readGeneration(d1: D1Database): Promise<Generation> {
  const row = await d1.prepare(GENERATION_SQL).first<Generation>();
  if (!row) throw new Error("boot_generation has no row: are the migrations applied?");
  return row;
}

/**
 * Every table the boot path reads (the same list the generation triggers watch, in
 * migrations/0006_boot_generation.sql), and the generation, in one D1 batch: one transaction, so
 * the snapshot is exactly the database at that generation.
 */
const QUERIES: Record<keyof SnapshotRows, string> = {
  components: "SELECT id, type, nid, role, enabled FROM components",
  interfaces: "SELECT id, mac_address, component_id FROM ethernet_interfaces ORDER BY id",
  ips: "SELECT interface_id, ip_address FROM ethernet_interface_ips ORDER BY interface_id, position",
  members: "SELECT group_label, component_id FROM group_members",
  assignments: "SELECT kind, key, config_id FROM boot_assignments",
  configs: "SELECT id, kernel, initrd, params FROM boot_configs",
  ciGroups: "SELECT name, description, meta_data, file_content, file_encoding FROM cloud_init_groups",
  // Named as the records they become (cloud-init/model.ts InstanceInfo, ClusterDefaults).
  instances: `SELECT id, instance_id AS instanceId, local_hostname AS localHostname, hostname, cluster_name AS clusterName, region,
    availability_zone AS availabilityZone, cloud_provider AS cloudProvider, instance_type AS instanceType,
    cloud_init_base_url AS cloudInitBaseUrl, public_keys AS publicKeys FROM cloud_init_instances`,
  defaults: `SELECT cloud_provider AS cloudProvider, region, availability_zone AS availabilityZone, cluster_name AS clusterName,
    public_keys AS publicKeys, base_url AS baseUrl, boot_subnet AS bootSubnet, wg_subnet AS wgSubnet, short_name AS shortName,
    nid_length AS nidLength FROM cloud_init_cluster_defaults WHERE id = 1`,
};

export async function loadSnapshot(d1: D1Database): Promise<{ snapshot: BootSnapshot; generation: Generation }> {
  const names = Object.keys(QUERIES) as Array<keyof SnapshotRows>;
  const results = await d1.batch([d1.prepare(GENERATION_SQL), ...names.map((n) => d1.prepare(QUERIES[n]))]);
  const generation = results[0].results[0] as Generation | undefined;
  if (!generation) throw new Error("boot_generation has no row: are the migrations applied?");
  const rows = Object.fromEntries(names.map((n, i) => [n, results[i + 1].results])) as unknown as SnapshotRows;
  return { snapshot: new BootSnapshot(rows), generation };
}
