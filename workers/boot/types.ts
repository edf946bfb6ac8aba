/**
 * What the boot path reads: the records a BootReader (reader.ts) returns, whichever
 * implementation answers. BSS and cloud-init build their answers from these; the cloud-init
 * admin model (cloud-init/model.ts) stores the same ClusterDefaults and InstanceInfo records.
 */

// ----------------------------------------------------------------------------- BSS

/** How a node identified itself at /bootscript: `?mac=` (lower-case colon form), `?name=` (xname) or `?nid=`. */
export type BootKey = { mac: string } | { name: string } | { nid: number };

/** Which kind of assignment supplied the config, most specific first. */
export type MatchKind = "xname" | "mac" | "nid" | "role" | "default";

export interface BootConfig {
  kernel: string;
  initrd: string;
  params: string;
}

/** A boot-parameters entry that could apply to a node: its key (an xname, a MAC, a NID, a role or Default) and config. */
export interface Candidate {
  kind: MatchKind;
  key: string;
  config: BootConfig;
}

/** The SMD Node component a boot key names. */
export interface BootNode {
  id: string;
  /** -1 when the component has no NID. */
  nid: number;
  role: string;
  enabled: boolean;
  /** The node's MACs in SMD, by interface ID ("first MAC" = macs[0]). */
  macs: string[];
}

export interface Resolution {
  /** Undefined when SMD has no Node component for the key. */
  component?: BootNode;
  /** Undefined when no assignment applies to the node. */
  config?: BootConfig;
  matchedBy?: MatchKind;
}

// ----------------------------------------------------------------------------- cloud-init

export interface ClusterDefaults {
  cloudProvider: string;
  region: string;
  availabilityZone: string;
  clusterName: string;
  publicKeys: string[];
  /** The include base for vendor-data, without a trailing slash. */
  baseUrl: string;
  bootSubnet: string;
  wgSubnet: string;
  shortName: string;
  /** Digits of the NID in generated hostnames; 0 = unset (4). */
  nidLength: number;
}

export const EMPTY_DEFAULTS: ClusterDefaults = {
  cloudProvider: "",
  region: "",
  availabilityZone: "",
  clusterName: "",
  publicKeys: [],
  baseUrl: "",
  bootSubnet: "",
  wgSubnet: "",
  shortName: "",
  nidLength: 0,
};

/** A node's own cloud-init record (PUT /cloud-init/admin/instance-info/{xname}). */
export interface InstanceInfo {
  /** The node's xname. */
  id: string;
  /** Explicit instance-id; "" = derived from the xname. */
  instanceId: string;
  localHostname: string;
  hostname: string;
  clusterName: string;
  region: string;
  availabilityZone: string;
  cloudProvider: string;
  instanceType: string;
  cloudInitBaseUrl: string;
  publicKeys: string[];
}

export type FileEncoding = "" | "plain" | "base64";

/** What meta-data and vendor-data need of a cloud-init group. */
export interface GroupFacts {
  name: string;
  description: string;
  metaData: Record<string, unknown> | null;
  hasFile: boolean;
}

/** A node as SMD knows it, with its cloud-init data: everything one node lookup returns. */
export interface NodeView {
  /** The node's xname. */
  id: string;
  /** False when an interface names a component SMD does not have. */
  inSmd: boolean;
  /** SMD NID; -1 when it has none. */
  nid: number;
  /** First IP of the node's first interface (SMD order), "" if none: upstream's local_ipv4. */
  ip: string;
  /** SMD group labels the node is a member of, sorted. */
  groups: string[];
  /** The cloud-init groups among `groups`. */
  groupData: GroupFacts[];
  defaults: ClusterDefaults;
  instance: InstanceInfo | undefined;
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
