import { LRUCache } from "lru-cache";
import { canonicalIp } from "../../../shared/ip";
import { chooseBootConfig, takesPrecedence } from "../precedence";
import type { BootReader } from "../reader";
import {
  type BootConfig,
  type BootKey,
  type BootNode,
  type Candidate,
  type ClusterDefaults,
  EMPTY_DEFAULTS,
  type FileEncoding,
  type GroupFacts,
  type InstanceInfo,
  type LookupOptions,
  type MatchKind,
  type NodeLookup,
  type Resolution,
} from "../types";

/**
 * Everything the boot path reads, indexed in memory: a BootReader that answers without a
 * database round trip. Built from plain rows (load.ts reads them in one D1 transaction) and
 * queried synchronously; the rules are those of precedence.ts, as for the D1 reader.
 * test/api/boot-snapshot.test.ts compares the two readers on the same data.
 */

/** The rows one snapshot is built from (column names as in D1). */
export interface SnapshotRows {
  components: Array<{ id: string; type: string; nid: number; role: string; enabled: number }>;
  /** Ordered by id (upstream's interface order: a node's "first" MAC and IP come from it). */
  interfaces: Array<{ id: string; mac_address: string; component_id: string }>;
  /** Ordered by interface_id, position. */
  ips: Array<{ interface_id: string; ip_address: string }>;
  members: Array<{ group_label: string; component_id: string }>;
  assignments: Array<{ kind: MatchKind; key: string; config_id: number }>;
  configs: Array<{ id: number; kernel: string; initrd: string; params: string }>;
  ciGroups: Array<{ name: string; description: string; meta_data: string | null; file_content: string; file_encoding: string }>;
  instances: Array<InstanceRow>;
  defaults: Array<DefaultsRow>;
}

/** A cloud-init row as stored: the record's fields (load.ts names the columns so), keys as JSON text. */
type WithKeysText<T> = Omit<T, "publicKeys"> & { publicKeys: string };
export type InstanceRow = WithKeysText<InstanceInfo>;
export type DefaultsRow = WithKeysText<ClusterDefaults>;

const withKeys = <T extends { publicKeys: string }>(row: T) => ({ ...row, publicKeys: JSON.parse(row.publicKeys) as string[] });

/**
 * Components are kept as columns indexed by a slot number, not as an object per component: at
 * 100,000 nodes (and as many BMCs) an object with two arrays per component was over a million
 * heap objects for every major collection to mark, and the API process's CPU per request nearly
 * doubled from 10,000 nodes to 100,000. Here a component is its slot (the key of `slotOf`), its first IP and
 * its MACs (a string each), and small integers: flags, NID, and indexes into shared tables of
 * types, roles and group lists.
 */
const NO_SLOT = -1;
/** Flag bits per slot. */
const IN_SMD = 1;
const ENABLED = 2;

/** Each distinct value once, by index: what a few hundred thousand components share. */
class Interned<T> {
  readonly values: T[] = [];
  private readonly index = new Map<string, number>();
  constructor(private readonly keyOf: (v: T) => string) {}
  add(value: T): number {
    const key = this.keyOf(value);
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.values.length;
      this.values.push(value);
      this.index.set(key, i);
    }
    return i;
  }
}

interface CloudInitGroupData {
  facts: GroupFacts;
  file: { content: string; encoding: FileEncoding };
}

export class BootSnapshot implements BootReader {
  readonly source = "snapshot";
  /** Slot by xname. Interfaces may name components SMD lacks; those get a slot too (not in SMD). */
  private readonly slotOf = new Map<string, number>();
  private readonly flags: number[] = [];
  private readonly nids: number[] = [];
  private readonly typeOf: number[] = [];
  private readonly roleOf: number[] = [];
  /** MACs joined by spaces ("" for none): one string per component. */
  private readonly macsOf: string[] = [];
  private readonly firstIps: string[] = [];
  private readonly groupsOf: number[] = [];
  private readonly words = new Interned<string>((w) => w);
  private readonly groupLists = new Interned<readonly string[]>((g) => g.join("\0"));
  private readonly componentByMac = new Map<string, string>();
  /** Canonical IP → the component holding it (precedence.ts when several do). */
  private readonly componentByIp = new Map<string, string>();
  /** NID → the Node holding it (NIDs are not unique in SMD). */
  private readonly nodeByNid = new Map<number, string>();
  /** Boot configs by the kind of key naming them, then the key (one map per kind: a lookup builds no string). */
  private readonly assignments: Record<MatchKind, Map<string, BootConfig>> = {
    xname: new Map(),
    mac: new Map(),
    nid: new Map(),
    role: new Map(),
    default: new Map(),
  };
  private readonly ciGroups = new Map<string, CloudInitGroupData>();
  private readonly instances = new Map<string, InstanceInfo>();
  private readonly defaults: ClusterDefaults;
  /**
   * Answers derived from this snapshot's data, which cannot change while it is current; bounded by
   * their size, the least recently used going first. (A Map evicting its oldest key through
   * `keys().next()` cost ~8 µs per miss once evictions began: V8 leaves a deleted entry as a hole
   * at the front of the table until it is rebuilt, and the iterator walks every hole.)
   */
  private readonly derived = new LRUCache<string, { value: unknown }>({
    maxSize: KEPT_ANSWER_BYTES,
    sizeCalculation: (kept, key) => keptBytes(key, kept.value),
  });
  readonly componentCount: number;

  constructor(rows: SnapshotRows) {
    const noGroups = this.groupLists.add([]);
    const none = this.words.add("");
    const addSlot = (id: string, flags: number, type: number, nid: number, role: number): number => {
      const slot = this.flags.length;
      this.slotOf.set(id, slot);
      this.flags.push(flags);
      this.typeOf.push(type);
      this.nids.push(nid);
      this.roleOf.push(role);
      this.macsOf.push("");
      this.firstIps.push("");
      this.groupsOf.push(noGroups);
      return slot;
    };
    for (const c of rows.components) {
      addSlot(c.id, IN_SMD | (c.enabled ? ENABLED : 0), this.words.add(c.type), c.nid, this.words.add(c.role));
      if (c.type === "Node" && c.nid >= 0 && takesPrecedence(c.id, this.nodeByNid.get(c.nid))) this.nodeByNid.set(c.nid, c.id);
    }
    this.componentCount = rows.components.length;
    const owner = new Map<string, string>();
    for (const e of rows.interfaces) {
      owner.set(e.id, e.component_id);
      this.componentByMac.set(e.mac_address, e.component_id);
      if (e.component_id === "") continue;
      const slot = this.slotOf.get(e.component_id) ?? addSlot(e.component_id, 0, none, -1, none);
      this.macsOf[slot] = this.macsOf[slot] === "" ? e.mac_address : `${this.macsOf[slot]} ${e.mac_address}`;
    }
    for (const ip of rows.ips) {
      const id = owner.get(ip.interface_id);
      if (!id) continue;
      const slot = this.slotOf.get(id)!;
      if (this.firstIps[slot] === "") this.firstIps[slot] = ip.ip_address;
      const key = canonicalIp(ip.ip_address) ?? ip.ip_address.toLowerCase();
      if (takesPrecedence(id, this.componentByIp.get(key))) this.componentByIp.set(key, id);
    }
    const members = new Map<number, string[]>();
    for (const m of rows.members) {
      const slot = this.slotOf.get(m.component_id);
      if (slot === undefined) continue;
      const labels = members.get(slot);
      if (labels) labels.push(m.group_label);
      else members.set(slot, [m.group_label]);
    }
    for (const [slot, labels] of members) this.groupsOf[slot] = this.groupLists.add(labels.sort(byCodeUnit));

    const configs = new Map(rows.configs.map((c) => [c.id, { kernel: c.kernel, initrd: c.initrd, params: c.params }]));
    for (const a of rows.assignments) {
      const config = configs.get(a.config_id);
      if (config) this.assignments[a.kind]?.set(a.key, config);
    }

    for (const g of rows.ciGroups) {
      this.ciGroups.set(g.name, {
        facts: {
          name: g.name,
          description: g.description,
          metaData: g.meta_data === null ? null : JSON.parse(g.meta_data),
          hasFile: g.file_content !== "",
        },
        file: { content: g.file_content, encoding: g.file_encoding as FileEncoding },
      });
    }
    for (const x of rows.instances) this.instances.set(x.id, withKeys(x));
    this.defaults = rows.defaults[0] ? withKeys(rows.defaults[0]) : EMPTY_DEFAULTS;
  }

  /**
   * Answers rendered from this snapshot's data are kept with it: bootscripts and cloud-init
   * documents, which nodes fetch again and again (rendering meta-data, YAML and a SHA-256
   * instance-id costs more than all the rest of a request). They take KEPT_ANSWER_BYTES at most
   * (the least recently used go first; one larger than that is not kept), so memory grows neither
   * with the cluster nor with the documents' size.
   */
  async remember<T>(key: string, compute: () => Promise<{ value: T; keep: boolean }>): Promise<T> {
    const kept = this.derived.get(key);
    if (kept !== undefined) return kept.value as T;
    const computed = await compute();
    if (computed.keep) this.derived.set(key, computed);
    return computed.value;
  }

  // --------------------------------------------------------------------------- BSS

  async resolveBoot(key: BootKey): Promise<Resolution> {
    const component = this.bootNode(key);
    if (!component) return {};
    const best = chooseBootConfig(component, "mac" in key ? key.mac : "", this.candidatesOf(component));
    return best ? { component, config: best.config, matchedBy: best.matchedBy } : { component };
  }

  /** The SMD Node a boot key names, read from its columns; undefined for any other component. */
  private bootNode(key: BootKey): BootNode | undefined {
    let id: string | undefined;
    if ("mac" in key) id = this.componentByMac.get(key.mac);
    else if ("name" in key) id = key.name;
    else id = this.nodeByNid.get(key.nid);
    const slot = id === undefined ? NO_SLOT : (this.slotOf.get(id) ?? NO_SLOT);
    if (slot === NO_SLOT || (this.flags[slot] & IN_SMD) === 0 || this.words.values[this.typeOf[slot]] !== "Node") return undefined;
    const macs = this.macsOf[slot];
    return {
      id: id!,
      nid: this.nids[slot],
      role: this.words.values[this.roleOf[slot]],
      enabled: (this.flags[slot] & ENABLED) !== 0,
      macs: macs === "" ? [] : macs.split(" "),
    };
  }

  /**
   * The boot entries whose key names this node, as the D1 reader's statement gathers them. A kind
   * no entry has is not looked up (most clusters assign by role or `Default`, few by MAC).
   */
  private candidatesOf(node: BootNode): Candidate[] {
    const out: Candidate[] = [];
    const { xname, mac, nid, role, default: fallback } = this.assignments;
    if (xname.size) addCandidate(out, "xname", xname, node.id);
    if (mac.size) for (const m of node.macs) addCandidate(out, "mac", mac, m);
    if (role.size) addCandidate(out, "role", role, node.role);
    if (nid.size && node.nid >= 0) addCandidate(out, "nid", nid, String(node.nid));
    if (fallback.size) addCandidate(out, "default", fallback, "Default");
    return out;
  }

  // --------------------------------------------------------------------------- cloud-init

  async nodeByIp(ip: string, opts: LookupOptions = {}): Promise<NodeLookup | undefined> {
    // The keys are canonical text, and so is every address the client-IP code hands over: look it
    // up as given first (a canonical spelling names one address), parse only when that misses.
    let id = this.componentByIp.get(ip);
    if (id === undefined) {
      const key = canonicalIp(ip);
      id = key === undefined || key === ip ? undefined : this.componentByIp.get(key);
    }
    return id === undefined ? undefined : this.nodeById(id, opts);
  }

  async nodeById(id: string, opts: LookupOptions = {}): Promise<NodeLookup> {
    // Every cloud-init request comes here: read the columns it needs.
    const slot = this.slotOf.get(id) ?? NO_SLOT;
    const inSmd = slot !== NO_SLOT && (this.flags[slot] & IN_SMD) !== 0;
    const groups = slot === NO_SLOT ? [] : this.groupLists.values[this.groupsOf[slot]];
    const file = opts.file === undefined ? undefined : this.ciGroups.get(opts.file)?.file;
    return {
      view: {
        id,
        inSmd,
        nid: inSmd ? this.nids[slot] : -1,
        ip: slot === NO_SLOT ? "" : this.firstIps[slot],
        groups: [...groups],
        groupData: groups.flatMap((g) => {
          const data = this.ciGroups.get(g);
          return data ? [data.facts] : [];
        }),
        defaults: this.defaults,
        instance: this.instances.get(id),
      },
      file,
    };
  }
}

function addCandidate(out: Candidate[], kind: MatchKind, entries: Map<string, BootConfig>, key: string) {
  const config = entries.get(key);
  if (config) out.push({ kind, key, config });
}

/**
 * What the kept answers may take, by keptBytes's estimate. A bootscript answer is about 940 bytes
 * by it (a 480-byte script, its key, what the history records), a meta-data answer a little more,
 * so this keeps some 35,000 answers: the bootscript, meta-data and vendor-data of 10,000 nodes, the
 * bootscripts of a third of 100,000. Twice as much was measured (bench:scale, 2026-12-03) to add
 * little speed and ~200 MB to the API process's peak memory; on Cloudflare an isolate has 128 MB.
 */
export const KEPT_ANSWER_BYTES = 32 * 1024 * 1024;

/** What V8 spends on a kept answer beside its text: the cache's entry, the answer's object, their headers. */
const KEPT_ENTRY_BYTES = 256;

/**
 * The size of a kept answer, estimated: its key and the text and bytes it holds, directly or in an
 * array, at a byte per character (what V8 takes for the ASCII they are), and a fixed cost per entry.
 * Bytes count in full even where kept answers share them, so an answer holding large shared bytes
 * should not be kept at all (a group's file, cloud-init/routes.ts).
 */
export function keptBytes(key: string, value: unknown): number {
  let bytes = KEPT_ENTRY_BYTES + key.length;
  const add = (v: unknown, depth: number) => {
    if (typeof v === "string") bytes += v.length;
    else if (v instanceof Uint8Array) bytes += v.byteLength;
    else if (v !== null && typeof v === "object" && depth < 2) for (const field of Object.values(v)) add(field, depth + 1);
  };
  add(value, 0);
  return bytes;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
