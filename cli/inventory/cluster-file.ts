import { parseXname } from "../../shared/xname";
import { type Inventory, InventoryError } from "./nodes-file";
import type { GroupBody } from "./payloads";

/**
 * The cluster file (ours): what the seed's ansible playbook sets besides SMD's inventory —
 * BSS boot parameters (its bss.yaml), cloud-init cluster defaults and groups (cluster.yaml,
 * cloud_init.yaml) and SMD groups (groups.yaml) — so `ochami discover static -d @nodes.yaml
 * --cluster-file cluster.yaml --overwrite` is the whole setup, and a re-run changes only what the
 * files changed. Pure apart from `readFile` (for `file.path` and `public-key-files`).
 *
 *   boot:                       # BSS: each entry is PUT (the nodes boot exactly this)
 *     - nodes: all              # or: nodes: [x1000c1s7b1n0, nid002] · groups: [compute] ·
 *       kernel: http://...      #     hosts: [Default, Compute, x...] · macs: [...] · nids: [...]
 *       initrd: http://...
 *       params: root=live:... ds=nocloud;s=http://172.16.0.254:8081/cloud-init/ ...
 *   cloud-init:
 *     defaults:                 # PUT: the whole record (fields not given are cleared)
 *       cluster-name: demo
 *       short-name: nid
 *       nid-length: 3
 *       base-url: http://172.16.0.254:8081/cloud-init
 *       public-key-files: [~/.ssh/id_rsa.pub]     # read and added to public-keys
 *     groups:                   # PUT per group
 *       - name: compute
 *         meta-data: {syslog_aggregator: 172.16.0.254}
 *         file: {path: templates/compute.yaml}    # or {content: "...", encoding: plain|base64}
 *   groups:                     # SMD groups, merged with nodes.yaml's group/groups keys
 *     ssh: all                  # label: all | [xname or node name...] | {description, tags, members}
 *     disk_config: [x1000c1s7b1n0]
 */
export interface ClusterPlan {
  boot: Array<Record<string, unknown>>;
  cloudInitDefaults?: Record<string, unknown>;
  cloudInitGroups: Array<Record<string, unknown> & { name: string }>;
  smdGroups: Map<string, GroupBody>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === "object" && !Array.isArray(v);
const SECTIONS = ["boot", "cloud-init", "groups"];
const BOOT_KEYS = ["nodes", "groups", "hosts", "macs", "nids", "kernel", "initrd", "params", "cloud-init"];

export function parseClusterFile(doc: unknown, inv: Inventory | undefined, readFile: (path: string) => string): ClusterPlan {
  const problems: string[] = [];
  const plan: ClusterPlan = { boot: [], cloudInitGroups: [], smdGroups: new Map() };
  if (!isObj(doc)) throw new InventoryError(["the cluster file must be a mapping with boot:, cloud-init: and/or groups:"]);
  for (const k of Object.keys(doc)) if (!SECTIONS.includes(k)) problems.push(`unknown section '${k}' (known: ${SECTIONS.join(", ")})`);

  /** Nodes of the nodes file by name and by xname (a node may have a BMC's xname, as upstream accepts). */
  const byName = new Map<string, string>();
  for (const n of inv?.nodes ?? []) if (n.name !== undefined && !byName.has(n.name)) byName.set(n.name, n.xname);
  const fileXnames = new Set(inv?.nodes.map((n) => n.xname));
  /** xnames of node references: `all`, xnames, or node names from the nodes file. */
  const resolve = (refs: unknown, where: string): string[] => {
    if (refs === "all") {
      if (!inv) problems.push(`${where}: 'all' needs the nodes file (-d)`);
      return inv?.nodes.map((n) => n.xname) ?? [];
    }
    const list = Array.isArray(refs) ? refs : [refs];
    const out: string[] = [];
    for (const r of list) {
      const s = typeof r === "string" || typeof r === "number" ? String(r).trim() : "";
      const parsed = parseXname(s);
      const x = byName.get(s) ?? (parsed && (parsed.type === "Node" || fileXnames.has(parsed.id)) ? parsed.id : undefined);
      if (!x) problems.push(`${where}: '${String(r)}' is neither a node xname nor the name of a node in the nodes file`);
      else if (!out.includes(x)) out.push(x);
    }
    return out;
  };

  // ---- SMD groups (first: boot entries may select nodes by group)
  const groupsSection = doc.groups;
  const groupEntries: Array<[string, unknown]> = [];
  if (Array.isArray(groupsSection))
    groupsSection.forEach((g, i) => {
      if (!isObj(g)) problems.push(`groups[${i}] must be a mapping`);
      groupEntries.push(isObj(g) ? [String(g.label ?? g.name ?? ""), g] : ["", {}]);
    });
  else if (isObj(groupsSection)) groupEntries.push(...Object.entries(groupsSection));
  else if (groupsSection !== undefined) problems.push("groups must be a list or a mapping of label to members");
  for (const [rawLabel, spec] of groupEntries) {
    const label = rawLabel.trim().toLowerCase();
    const where = `groups.${rawLabel || "?"}`;
    if (!/^[-a-z0-9:._]+$/.test(label)) {
      problems.push(`${where}: '${rawLabel}' is not a group label`);
      continue;
    }
    const full = isObj(spec) ? spec : { members: spec };
    const tags = full.tags === undefined ? undefined : Array.isArray(full.tags) ? full.tags.map(String) : [String(full.tags)];
    plan.smdGroups.set(label, {
      label,
      description: typeof full.description === "string" ? full.description : `The ${label} group`,
      members: { ids: full.members === undefined ? [] : resolve(full.members, `${where}.members`) },
      ...(tags ? { tags } : {}),
    });
  }

  // ---- BSS
  const boot = doc.boot;
  if (boot !== undefined && !Array.isArray(boot)) problems.push("boot must be a list of entries");
  ((boot as unknown[]) ?? []).forEach((e, i) => {
    const where = `boot[${i}]`;
    if (!isObj(e)) {
      problems.push(`${where} must be a mapping`);
      return;
    }
    for (const k of Object.keys(e))
      if (!BOOT_KEYS.includes(k)) problems.push(`${where}: unknown key '${k}' (known: ${BOOT_KEYS.join(", ")})`);
    const hosts: string[] = [];
    if (e.nodes !== undefined) hosts.push(...resolve(e.nodes, `${where}.nodes`));
    if (e.groups !== undefined)
      for (const g of (Array.isArray(e.groups) ? e.groups : [e.groups]).map((v) => String(v).toLowerCase())) {
        const members = new Set([
          ...(inv?.nodes.filter((n) => n.groups.includes(g)).map((n) => n.xname) ?? []),
          ...(plan.smdGroups.get(g)?.members.ids ?? []),
        ]);
        if (!members.size) problems.push(`${where}.groups: group '${g}' has no nodes in the nodes file or the groups section`);
        for (const x of members) if (!hosts.includes(x)) hosts.push(x);
      }
    if (e.hosts !== undefined)
      for (const h of Array.isArray(e.hosts) ? e.hosts : [e.hosts]) if (!hosts.includes(String(h))) hosts.push(String(h));
    const body: Obj = {};
    if (hosts.length) body.hosts = hosts;
    if (e.macs !== undefined) body.macs = Array.isArray(e.macs) ? e.macs.map(String) : [String(e.macs)];
    if (e.nids !== undefined) body.nids = Array.isArray(e.nids) ? e.nids : [e.nids];
    const selectors = ["nodes", "groups", "hosts", "macs", "nids"];
    if (!selectors.some((k) => e[k] !== undefined)) problems.push(`${where}: say which nodes boot it (${selectors.join(", ")})`);
    if (typeof e.kernel !== "string" || !e.kernel) problems.push(`${where}.kernel is missing`);
    for (const k of ["kernel", "initrd", "params", "cloud-init"]) if (e[k] !== undefined) body[k] = e[k];
    plan.boot.push(body);
  });

  // ---- cloud-init
  const ci = doc["cloud-init"];
  if (ci !== undefined && !isObj(ci)) problems.push("cloud-init must be a mapping with defaults: and/or groups:");
  if (isObj(ci)) {
    for (const k of Object.keys(ci))
      if (k !== "defaults" && k !== "groups") problems.push(`cloud-init: unknown key '${k}' (known: defaults, groups)`);
    if (ci.defaults !== undefined) {
      if (!isObj(ci.defaults)) problems.push("cloud-init.defaults must be a mapping");
      else {
        const { "public-key-files": files, ...defaults } = ci.defaults;
        const keys = Array.isArray(defaults["public-keys"]) ? defaults["public-keys"].map(String) : [];
        for (const f of files === undefined ? [] : Array.isArray(files) ? files : [files]) {
          try {
            keys.push(
              ...readFile(String(f))
                .split("\n")
                .map((l) => l.trim())
                .filter((l) => l && !l.startsWith("#")),
            );
          } catch (err) {
            problems.push(`cloud-init.defaults.public-key-files: cannot read ${String(f)}: ${why(err)}`);
          }
        }
        if (keys.length) defaults["public-keys"] = keys;
        plan.cloudInitDefaults = defaults;
      }
    }
    const groups = ci.groups;
    const entries: Array<[string | undefined, unknown]> = [];
    if (Array.isArray(groups)) entries.push(...groups.map((g): [undefined, unknown] => [undefined, g]));
    else if (isObj(groups)) entries.push(...Object.entries(groups));
    else if (groups !== undefined) problems.push("cloud-init.groups must be a list or a mapping");
    entries.forEach(([key, g], i) => {
      const where = `cloud-init.groups[${key ?? i}]`;
      if (!isObj(g)) {
        problems.push(`${where} must be a mapping`);
        return;
      }
      const name = String(g.name ?? key ?? "").trim();
      if (!name) {
        problems.push(`${where}.name is missing`);
        return;
      }
      const group: Obj & { name: string } = { ...g, name };
      if (g.file !== undefined) {
        if (!isObj(g.file)) {
          problems.push(`${where}.file must be a mapping (content or path, encoding)`);
          return;
        }
        const { path: filePath, ...file } = g.file;
        if (filePath !== undefined) {
          if (file.content !== undefined) problems.push(`${where}.file: give content or path, not both`);
          try {
            file.content = readFile(String(filePath));
            file.encoding ??= "plain";
          } catch (err) {
            problems.push(`${where}.file.path: cannot read ${String(filePath)}: ${why(err)}`);
          }
        }
        group.file = file;
      }
      plan.cloudInitGroups.push(group);
    });
  }
  if (problems.length) throw new InventoryError(problems);
  return plan;
}

function why(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : (err as Error).message;
}
