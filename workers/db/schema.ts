/**
 * The one drizzle schema for the D1 database every service shares. SQL migrations in
 * `migrations/` create exactly these tables (test/api/schema.test.ts compares them).
 * Sections by service; SMD's tables are read live by BSS and cloud-init, so a node added to SMD
 * boots at once.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

// ---------------------------------------------------------------- SMD (/hsm/v2)

export const components = sqliteTable(
  "components",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    state: text("state").notNull().default(""),
    flag: text("flag").notNull().default(""),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    softwareStatus: text("software_status").notNull().default(""),
    role: text("role").notNull().default(""),
    subRole: text("sub_role").notNull().default(""),
    /** -1 = no NID (upstream's convention; NIDs are not unique). */
    nid: integer("nid").notNull().default(-1),
    subtype: text("subtype").notNull().default(""),
    netType: text("net_type").notNull().default(""),
    arch: text("arch").notNull().default(""),
    class: text("class").notNull().default(""),
    reservationDisabled: integer("reservation_disabled", { mode: "boolean" }).notNull().default(false),
    locked: integer("locked", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [index("components_nid").on(t.nid), index("components_type").on(t.type)],
);

/** /Defaults/NodeMaps: default NID/Role/SubRole for nodes created without them. */
export const nodeMaps = sqliteTable(
  "node_maps",
  {
    id: text("id").primaryKey(),
    nid: integer("nid").notNull(),
    role: text("role").notNull().default(""),
    subRole: text("sub_role").notNull().default(""),
  },
  (t) => [uniqueIndex("node_maps_nid").on(t.nid)],
);

export const redfishEndpoints = sqliteTable(
  "redfish_endpoints",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    name: text("name").notNull().default(""),
    hostname: text("hostname").notNull().default(""),
    domain: text("domain").notNull().default(""),
    fqdn: text("fqdn").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    uuid: text("uuid").notNull().default(""),
    user: text("user").notNull().default(""),
    password: text("password").notNull().default(""),
    useSsdp: integer("use_ssdp", { mode: "boolean" }).notNull().default(false),
    macRequired: integer("mac_required", { mode: "boolean" }).notNull().default(false),
    macAddr: text("mac_addr").notNull().default(""),
    ipAddress: text("ip_address").notNull().default(""),
    rediscoverOnUpdate: integer("rediscover_on_update", { mode: "boolean" }).notNull().default(false),
    templateId: text("template_id").notNull().default(""),
    /** JSON DiscoveryInfo object. */
    discoveryInfo: text("discovery_info").notNull().default('{"LastDiscoveryStatus":"NotYetQueried"}'),
  },
  (t) => [uniqueIndex("redfish_endpoints_fqdn").on(t.fqdn)],
);

export const componentEndpoints = sqliteTable(
  "component_endpoints",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    domain: text("domain").notNull().default(""),
    fqdn: text("fqdn").notNull().default(""),
    redfishType: text("redfish_type").notNull().default(""),
    redfishSubtype: text("redfish_subtype").notNull().default(""),
    macAddr: text("mac_addr").notNull().default(""),
    uuid: text("uuid").notNull().default(""),
    odataId: text("odata_id").notNull().default(""),
    redfishEndpointId: text("redfish_endpoint_id")
      .notNull()
      .references(() => redfishEndpoints.id, { onDelete: "cascade" }),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    componentEndpointType: text("component_endpoint_type").notNull(),
    /** JSON: the one Redfish*Info object matching componentEndpointType. */
    info: text("info").notNull().default("{}"),
  },
  (t) => [index("component_endpoints_rfe").on(t.redfishEndpointId)],
);

export const ethernetInterfaces = sqliteTable(
  "ethernet_interfaces",
  {
    /** Lower-case MAC hex without separators. */
    id: text("id").primaryKey(),
    /** Lower-case colon form; what coresmd and the agent key on. */
    macAddress: text("mac_address").notNull(),
    description: text("description").notNull().default(""),
    /** May be "" (not tied to a component) and need not exist in components (as upstream). */
    componentId: text("component_id").notNull().default(""),
    type: text("type").notNull().default(""),
    /** RFC 3339 with fractional seconds, bumped when the IP list changes. */
    lastUpdate: text("last_update").notNull(),
  },
  (t) => [index("ethernet_interfaces_component").on(t.componentId), uniqueIndex("ethernet_interfaces_mac").on(t.macAddress)],
);

export const ethernetInterfaceIps = sqliteTable(
  "ethernet_interface_ips",
  {
    interfaceId: text("interface_id")
      .notNull()
      .references(() => ethernetInterfaces.id, { onDelete: "cascade" }),
    ipAddress: text("ip_address").notNull(),
    network: text("network").notNull().default(""),
    /** Keeps the client's order: the first address is the one DHCP and cloud-init use. */
    position: integer("position").notNull(),
  },
  (t) => [primaryKey({ columns: [t.interfaceId, t.ipAddress] }), index("ethernet_interface_ips_ip").on(t.ipAddress)],
);

export const groups = sqliteTable("groups", {
  label: text("label").primaryKey(),
  description: text("description").notNull().default(""),
  exclusiveGroup: text("exclusive_group").notNull().default(""),
  /** JSON array of lower-case tags. */
  tags: text("tags").notNull().default("[]"),
});

export const groupMembers = sqliteTable(
  "group_members",
  {
    groupLabel: text("group_label")
      .notNull()
      .references(() => groups.label, { onDelete: "cascade" }),
    componentId: text("component_id")
      .notNull()
      .references(() => components.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.groupLabel, t.componentId] }), index("group_members_component").on(t.componentId)],
);

export const partitions = sqliteTable("partitions", {
  name: text("name").primaryKey(),
  description: text("description").notNull().default(""),
  tags: text("tags").notNull().default("[]"),
});

export const partitionMembers = sqliteTable(
  "partition_members",
  {
    partitionName: text("partition_name")
      .notNull()
      .references(() => partitions.name, { onDelete: "cascade" }),
    /** A component is in at most one partition. */
    componentId: text("component_id")
      .primaryKey()
      .references(() => components.id, { onDelete: "cascade" }),
  },
  (t) => [index("partition_members_partition").on(t.partitionName)],
);

// ---------------------------------------------------------------- BSS (/boot/v1) — issue 3

/**
 * What a node boots: kernel, initrd, kernel command line and the cloud-init object a client
 * stored with it. Deduplicated by content: a thousand nodes on one image share one row. A config
 * lives as long as some assignment points at it (writes delete orphans in the same batch).
 */
export const bootConfigs = sqliteTable(
  "boot_configs",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    kernel: text("kernel").notNull(),
    initrd: text("initrd").notNull().default(""),
    params: text("params").notNull().default(""),
    /** Canonical JSON of the wire `cloud-init` object (workers/bss/params/model.ts). */
    cloudInit: text("cloud_init").notNull(),
  },
  (t) => [uniqueIndex("boot_configs_content").on(t.kernel, t.initrd, t.params, t.cloudInit)],
);

/**
 * Who boots which config. One row per identifier, so an entry naming several MACs, xnames and
 * NIDs stores every one of them. `kind`/`key`:
 *   xname   — Node xname, normalised            mac  — lower-case colon form
 *   nid     — decimal NID                        role — SMD Role, canonical spelling (`Compute`)
 *   default — key `Default`
 * The bootscript lookup takes the first that applies in that order of precedence (xname, the
 * booting MAC, the node's other MACs, NID, role, Default).
 */
export const bootAssignments = sqliteTable(
  "boot_assignments",
  {
    kind: text("kind", { enum: ["xname", "mac", "nid", "role", "default"] }).notNull(),
    key: text("key").notNull(),
    configId: integer("config_id")
      .notNull()
      .references(() => bootConfigs.id),
  },
  (t) => [primaryKey({ columns: [t.kind, t.key] }), index("boot_assignments_config").on(t.configId)],
);

// ---------------------------------------------------------------- boot history (/boot/v1/endpoint-history)

/**
 * Every boot step a node takes (DHCP, bootscript, kernel, initrd, rootfs, cloud-init fetches),
 * newest last. Bounded: the recorder prunes the oldest beyond OCHAMI_HISTORY_MAX rows.
 */
export const bootEvents = sqliteTable(
  "boot_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** Node xname, or "" when the requester is not in SMD (then mac/ip say who it was). */
    name: text("name").notNull(),
    mac: text("mac").notNull().default(""),
    ip: text("ip").notNull().default(""),
    endpoint: text("endpoint").notNull(),
    timeMs: integer("time_ms").notNull(),
    detail: text("detail").notNull().default(""),
  },
  (t) => [index("boot_events_name_time").on(t.name, t.timeMs), index("boot_events_time").on(t.timeMs)],
);

/**
 * The latest event per (subject, endpoint): what upstream's endpoint-history reports. Entries of
 * nodes SMD knows are kept; the others (any MAC, IP or name a request names) are capped at
 * OCHAMI_HISTORY_UNKNOWN_MAX, oldest evicted first (workers/history/store.ts).
 */
export const bootLatest = sqliteTable(
  "boot_latest",
  {
    /** xname when known, else "mac:<mac>" or "ip:<ip>". */
    subject: text("subject").notNull(),
    endpoint: text("endpoint").notNull(),
    name: text("name").notNull(),
    mac: text("mac").notNull().default(""),
    ip: text("ip").notNull().default(""),
    timeMs: integer("time_ms").notNull(),
    detail: text("detail").notNull().default(""),
    /** `name` was an SMD component when the entry was last written. */
    known: integer("known", { mode: "boolean" }).notNull().default(false),
  },
  // No index by name: a named entry's subject is its name, so the primary key serves lookups and
  // grouping by node. Only unknown requesters' entries are pruned (oldest first), so only they are
  // indexed by time: a storm of SMD's nodes moves no entry of this index (each index an update
  // touches costs the database process a page write per event).
  (t) => [primaryKey({ columns: [t.subject, t.endpoint] }), index("boot_latest_unknown_time").on(t.timeMs).where(sql`${t.known} = 0`)],
);

// ---------------------------------------------------------------- cloud-init (/cloud-init) — issue 4

/**
 * Cluster-wide cloud-init defaults (upstream's ClusterDefaults): one row, id 1. Empty text and
 * nid_length 0 mean "not set", as upstream's omitempty fields.
 */
export const cloudInitClusterDefaults = sqliteTable(
  "cloud_init_cluster_defaults",
  {
    id: integer("id").primaryKey(),
    cloudProvider: text("cloud_provider").notNull().default(""),
    region: text("region").notNull().default(""),
    availabilityZone: text("availability_zone").notNull().default(""),
    clusterName: text("cluster_name").notNull().default(""),
    /** JSON array of SSH public keys. */
    publicKeys: text("public_keys").notNull().default("[]"),
    baseUrl: text("base_url").notNull().default(""),
    bootSubnet: text("boot_subnet").notNull().default(""),
    wgSubnet: text("wg_subnet").notNull().default(""),
    shortName: text("short_name").notNull().default(""),
    nidLength: integer("nid_length").notNull().default(0),
  },
  () => [check("cloud_init_cluster_defaults_one_row", sql`id = 1`)],
);

/**
 * cloud-init groups, matched by name against the SMD group labels a node is a member of.
 * `meta_data` is a JSON object merged into the node's meta-data; `file_content` is the group's
 * cloud-config, stored as given (base64 text when file_encoding is "base64").
 */
export const cloudInitGroups = sqliteTable("cloud_init_groups", {
  name: text("name").primaryKey(),
  description: text("description").notNull().default(""),
  /** JSON object, or NULL when the group has no meta-data. */
  metaData: text("meta_data"),
  fileContent: text("file_content").notNull().default(""),
  fileName: text("file_name").notNull().default(""),
  /** "plain", "base64", or "" when the group has no file. */
  fileEncoding: text("file_encoding").notNull().default(""),
  /** JSON object of strings (upstream's free-form `versions` map), or NULL. */
  versions: text("versions"),
});

/**
 * Per-node overrides (upstream's OpenCHAMIInstanceInfo), keyed by the node's xname. No foreign key
 * to components: an admin may describe a node before SMD knows it, as upstream allows.
 */
export const cloudInitInstances = sqliteTable("cloud_init_instances", {
  id: text("id").primaryKey(),
  /** Explicit instance-id; "" = the one derived from the xname (workers/cloud-init/metadata.ts). */
  instanceId: text("instance_id").notNull().default(""),
  localHostname: text("local_hostname").notNull().default(""),
  hostname: text("hostname").notNull().default(""),
  clusterName: text("cluster_name").notNull().default(""),
  region: text("region").notNull().default(""),
  availabilityZone: text("availability_zone").notNull().default(""),
  cloudProvider: text("cloud_provider").notNull().default(""),
  instanceType: text("instance_type").notNull().default(""),
  cloudInitBaseUrl: text("cloud_init_base_url").notNull().default(""),
  /** JSON array of SSH public keys added to the cluster's. */
  publicKeys: text("public_keys").notNull().default("[]"),
});

// ---------------------------------------------------------------- auth — issue 5

/**
 * OAuth 2.0 clients of our token endpoint (client credentials grant). Secrets are stored only as
 * PBKDF2 hashes (shared/auth/secret-hash.ts). Revocation keeps the row (revoked_at set) so a
 * revoked id can never come back to life and the list stays an audit trail.
 */
export const authClients = sqliteTable("auth_clients", {
  clientId: text("client_id").primaryKey(),
  name: text("name").notNull().default(""),
  /** Space-separated canonical scopes (workers/auth/scopes.ts), as in an OAuth `scope` value. */
  scope: text("scope").notNull(),
  secretHash: text("secret_hash").notNull(),
  /** `api` (POST /auth/clients) or `bootstrap` (seeded from the OCHAMI_AUTH_BOOTSTRAP_CLIENT secret). */
  origin: text("origin").notNull().default("api"),
  /** client_id of the admin that created it; "" when auth was off or for the bootstrap client. */
  createdBy: text("created_by").notNull().default(""),
  /** RFC 3339. */
  createdAt: text("created_at").notNull(),
  /** RFC 3339; null while the client is active. */
  revokedAt: text("revoked_at"),
});

// ---------------------------------------------------------------- boot snapshot — issue 9

/**
 * One row (id 1): a counter that SQLite triggers bump on every write to a table the boot path
 * reads (migrations/0006_boot_generation.sql lists them), and a random id of this database. The
 * worker's in-memory boot snapshot (workers/boot/snapshot) is current exactly while both equal
 * what it was built from, whoever wrote: this isolate, another one, or `wrangler d1 execute`.
 */
export const bootGeneration = sqliteTable(
  "boot_generation",
  {
    id: integer("id").primaryKey(),
    generation: integer("generation").notNull().default(0),
    databaseId: text("database_id").notNull(),
  },
  () => [check("boot_generation_one_row", sql`id = 1`)],
);

// ---------------------------------------------------------------- SMD locks and reservations — issue 20

/**
 * A component's reservation (/locks): at most one per component. `expiresMs` null is an admin
 * reservation (on a locked component, until released); otherwise a service reservation that
 * lapses at that time (an expired row is treated as absent and purged by the next lock request).
 * The deputy key lets others check the reservation; the reservation key renews or releases it.
 */
export const reservations = sqliteTable(
  "reservations",
  {
    componentId: text("component_id")
      .primaryKey()
      .references(() => components.id, { onDelete: "cascade" }),
    createdMs: integer("created_ms").notNull(),
    expiresMs: integer("expires_ms"),
    deputyKey: text("deputy_key").notNull(),
    reservationKey: text("reservation_key").notNull(),
  },
  (t) => [uniqueIndex("reservations_deputy_key").on(t.deputyKey), uniqueIndex("reservations_reservation_key").on(t.reservationKey)],
);

/**
 * One row (id 1): bumped by every write of the lock API, which plans its changes from what it
 * read and commits only if no other lock request committed in between (workers/smd/locks/store.ts).
 */
export const lockVersion = sqliteTable(
  "lock_version",
  {
    id: integer("id").primaryKey(),
    version: integer("version").notNull().default(0),
  },
  () => [check("lock_version_one_row", sql`id = 1`)],
);

// ---------------------------------------------------------------- SMD state change notifications — issue 20

/**
 * /Subscriptions/SCN: who is told of component changes. `subUrl` (subscriber name + URL) is unique,
 * as upstream's; `subscription` is the JSON object as clients wrote it (Subscriber, Enabled, Roles,
 * SubRoles, SoftwareStatus, States, Url).
 */
export const scnSubscriptions = sqliteTable("scn_subscriptions", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  subUrl: text("sub_url").notNull().unique(),
  subscription: text("subscription").notNull(),
});

// ---------------------------------------------------------------- SMD discovery status and power maps — issue 20

/**
 * /Inventory/DiscoveryStatus: upstream keeps one record (ID 0) of its last Redfish discovery run;
 * here /Inventory/Discover records that it was asked, and why no poll ran (workers/smd/discovery).
 */
export const discoveryStatus = sqliteTable("discovery_status", {
  id: integer("id").primaryKey(),
  status: text("status").notNull(),
  /** RFC 3339 with fractional seconds. */
  lastUpdate: text("last_update").notNull(),
  /** JSON object, or NULL. */
  details: text("details"),
});

/** /sysinfo/powermaps: which power supplies (xnames) power a component. */
export const powerMaps = sqliteTable("power_maps", {
  id: text("id").primaryKey(),
  /** JSON array of xnames. */
  poweredBy: text("powered_by").notNull(),
});

// ---------------------------------------------------------------- SMD hardware inventory — issue 20

/**
 * Field-replaceable units by FRU ID (upstream's hwinv_by_fru); `info` is the type's FRUInfo JSON
 * object. Filters by type or FRU info scan: an import of 400,000 FRUs pays for every index.
 */
export const hwinvFrus = sqliteTable("hwinv_frus", {
  fruId: text("fru_id").primaryKey(),
  type: text("type").notNull(),
  subtype: text("subtype").notNull().default(""),
  info: text("info").notNull(),
});

/**
 * Hardware locations by xname (upstream's hwinv_by_loc) and the FRU each holds; deleting a FRU
 * empties its location. `parentNode` is the node above a node's subcomponent (the location itself
 * otherwise), for partition filters; `info` is the type's LocationInfo JSON object.
 */
export const hwinvLocations = sqliteTable(
  "hwinv_locations",
  {
    id: text("id").primaryKey(),
    type: text("type").notNull(),
    ordinal: integer("ordinal").notNull().default(0),
    status: text("status").notNull().default("Populated"),
    parentNode: text("parent_node").notNull().default(""),
    info: text("info").notNull(),
    fruId: text("fru_id").references(() => hwinvFrus.fruId, { onDelete: "set null" }),
  },
  // By type (the common query) and by FRU (a deleted FRU empties its location); partition filters scan.
  (t) => [index("hwinv_locations_type").on(t.type), index("hwinv_locations_fru").on(t.fruId)],
);

/** Hardware history (upstream's hwinv_hist): a FRU detected at, added to or removed from a location. */
export const hwinvHistory = sqliteTable(
  "hwinv_history",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull(),
    fruId: text("fru_id").notNull(),
    timeMs: integer("time_ms").notNull(),
    eventType: text("event_type").notNull(),
  },
  // By location: its last event is its highest seq. By FRU and by time window, a scan (an import
  // writes one event per location, and every index slows it).
  (t) => [index("hwinv_history_id").on(t.id)],
);
