import type { ApiClient, ApiService } from "../../shared/api-client/client";
import { ApiError } from "../../shared/api-client/errors";
import { cliErrorOf, EXIT } from "../errors";
import { asString, at, type JsonObject, objectsIn } from "../io/json";
import { log } from "../log";
import type { ClusterPlan } from "./cluster-file";
import type { ComponentBody, DiscoveryPayloads } from "./payloads";
import {
  byKey,
  componentVerdict,
  endpointVerdict,
  groupVerdict,
  interfaceId,
  interfaceVerdict,
  type SmdSnapshot,
  Tally,
  type Verdict,
} from "./smd-diff";

/**
 * Sends a discovery to the API in the order upstream's ochami sends it: components, Redfish
 * endpoints, node interfaces, groups; then, from a cluster file, BSS boot parameters and
 * cloud-init defaults and groups. Every request is attempted (a failure is reported and the rest
 * go on), except after an authentication failure, which every later request would repeat.
 *
 * SMD is read first and each record compared with what SMD holds (smd-diff.ts): a record that
 * exists with the file's values is not sent again and is reported unchanged; one that exists
 * with other values is replaced with --overwrite (changed) and, without it, left alone and
 * reported as a conflict (exit 4), as upstream's ochami reports SMD's 409s. Each kind gets one
 * line: added, changed, unchanged, conflicting, failed.
 *
 * Where we differ from upstream: `--overwrite` also makes a group's members those of the files
 * (upstream PATCHes the group, which leaves members unchanged, so the seed's playbook had to
 * delete and re-add groups); members it would drop are confirmed first (confirmRemoval). The
 * cluster-file parts are always set (PUT), so they are idempotent.
 */
export interface ApplyOptions {
  overwrite: boolean;
  dryRun: boolean;
  /** Where progress lines go (stderr). */
  report: (line: string) => void;
  /** Where --dry-run prints the requests (stdout). */
  print: (line: string) => void;
  /** Whether --overwrite may drop these members of a group (asked, or warned about, by the command). */
  confirmRemoval: (label: string, removed: string[]) => Promise<boolean>;
}

export interface ApplyResult {
  ok: number;
  failed: number;
  conflicts: number;
  exitCode: number;
}

class AuthAbort extends Error {}

/**
 * Speed, where we differ from upstream, which sends every Redfish endpoint and interface on its
 * own, one after the other (about 2.5 ms each against local D1): new endpoints go in SMD's array
 * form, ENDPOINTS_PER_POST per request (our SMD runs the discovery parser on each element;
 * upstream's ignores the elements' node data, so against upstream SMD use --overwrite, which
 * keeps upstream's one request per endpoint). Requests that stay single (PUTs, PATCHes, interface
 * POSTs) go out PARALLEL at a time. The order between kinds is kept (SMD makes a BMC's node
 * components from its endpoint); a dry run prints in file order. The first thrown error (an auth
 * abort) stops new starts.
 */
const ENDPOINTS_PER_POST = 250;
const CHUNKS_IN_FLIGHT = 2;
const PARALLEL = 8;
/** Conflicts listed one per line, per kind; the rest are counted. */
const CONFLICTS_LISTED = 20;

async function inParallel<T>(items: T[], fn: (item: T) => Promise<void>, width = PARALLEL): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

const BASE: Record<ApiService, string> = { smd: "/hsm/v2", bss: "/boot/v1", "cloud-init": "/cloud-init", root: "" };

export async function applyDiscovery(
  api: ApiClient,
  p: DiscoveryPayloads,
  plan: ClusterPlan | undefined,
  opts: ApplyOptions,
): Promise<ApplyResult> {
  if (opts.dryRun) return printRequests(p, plan, opts);
  let ok = 0;
  let failed = 0;
  let conflicts = 0;
  let lastCode: number = EXIT.REQUEST;

  /** One request; the status, or undefined when it failed (reported). */
  /** `tentative`: a refusal is returned, not reported (the caller tries another way). */
  const send = async (
    what: string,
    service: ApiService,
    method: string,
    path: string,
    body: unknown,
    tentative = false,
  ): Promise<number | undefined> => {
    const res = await api.send(service, method, path, { body });
    if (res.status >= 200 && res.status < 300) {
      ok++;
      return res.status;
    }
    if (tentative && res.status !== 401 && res.status !== 403) return res.status;
    const err = cliErrorOf(ApiError.answer(res));
    failed++;
    lastCode = err.exitCode;
    const hint = res.status === 409 && !opts.overwrite ? " (it exists already; --overwrite replaces it)" : "";
    opts.report(`error: ${method} ${BASE[service]}${path} (${what}): ${err.message}${hint}`);
    if (err.exitCode === EXIT.AUTH) throw new AuthAbort();
    return undefined;
  };

  /** Sorts one item into the tally by its verdict; true when it is to be written. */
  const sort = (tally: Tally, kind: string, id: string, v: Verdict): boolean => {
    if (v.kind === "added") return true;
    if (v.kind === "unchanged") {
      tally.unchanged.push(id);
      return false;
    }
    if (opts.overwrite) {
      log.info(`${kind} ${id} changes: ${v.details.join("; ")}`);
      return true;
    }
    tally.conflicting.push({ id, details: v.details });
    return false;
  };
  const line = (kind: string, tally: Tally, names = false) => {
    if (!tally.total) return;
    opts.report(`${kind}: ${tally.summary(names)}`);
    conflicts += tally.conflicting.length;
    for (const c of tally.conflicting.slice(0, CONFLICTS_LISTED))
      opts.report(`  conflict: ${kind.replace(/^smd /, "").replace(/s$/, "")} ${c.id}: ${c.details.join("; ")}`);
    if (tally.conflicting.length > CONFLICTS_LISTED) opts.report(`  … and ${tally.conflicting.length - CONFLICTS_LISTED} more conflicts`);
    if (tally.conflicting.length) opts.report("  (--overwrite replaces them with the file's)");
  };

  try {
    const snap = await readSmd(api, p);

    // ---- SMD: components first, so the files' NIDs win over those SMD would derive.
    const comps = new Tally();
    const newComps: ComponentBody[] = [];
    const changedComps: ComponentBody[] = [];
    for (const c of p.components) {
      const v = componentVerdict(c, snap.components.get(c.ID), opts.overwrite);
      if (!sort(comps, "component", c.ID, v)) continue;
      (v.kind === "added" ? newComps : changedComps).push(c);
    }
    if (newComps.length) {
      // One POST for all new ones (upstream PUTs each with --overwrite: the same records).
      if (await send(`${newComps.length} components`, "smd", "POST", "/State/Components", { Components: newComps }))
        comps.added.push(...newComps.map((c) => c.ID));
      else comps.failed += newComps.length;
    }
    await inParallel(changedComps, async (c) => {
      if (await send(c.ID, "smd", "PUT", `/State/Components/${c.ID}`, { Component: c, Force: true })) comps.changed.push(c.ID);
      else comps.failed++;
    });
    // PUT keeps an existing component's NID; this sets it.
    const withNid = changedComps.filter((c) => c.NID !== undefined);
    if (withNid.length)
      await send("NIDs", "smd", "PATCH", "/State/Components/BulkNID", {
        Components: withNid.map((c) => ({ ID: c.ID, Type: "", NID: c.NID })),
      });
    line("smd components", comps);

    // ---- Redfish endpoints, with the interfaces and node components SMD makes from them.
    const fileComponents = new Set(p.components.map((c) => c.ID));
    const willExist = (id: string) => snap.components.has(id) || fileComponents.has(id);
    const rfes = new Tally();
    const newRfes: DiscoveryPayloads["redfishEndpoints"] = [];
    const changedRfes: DiscoveryPayloads["redfishEndpoints"] = [];
    for (const e of p.redfishEndpoints) {
      const v = endpointVerdict(e, snap, willExist);
      if (!sort(rfes, "redfish endpoint", e.ID, v)) continue;
      (v.kind === "added" ? newRfes : changedRfes).push(e);
    }
    const postOne = async (e: (typeof newRfes)[number]) => {
      if (await send(e.ID, "smd", "POST", "/Inventory/RedfishEndpoints", e)) rfes.added.push(e.ID);
      else rfes.failed++;
    };
    if (newRfes.length === 1) await postOne(newRfes[0]);
    else {
      const chunks: Array<typeof newRfes> = [];
      for (let i = 0; i < newRfes.length; i += ENDPOINTS_PER_POST) chunks.push(newRfes.slice(i, i + ENDPOINTS_PER_POST));
      // Two chunks in flight: the API process checks one while the database process writes the
      // other (each is one process, one thread).
      await inParallel(
        chunks,
        async (chunk) => {
          // SMD's array form, one transaction per chunk. A chunk it refuses (an endpoint exists
          // already, or one is invalid) is sent again endpoint by endpoint, so each refusal is
          // reported for its own endpoint, as upstream reports them.
          const status = await send(
            `${chunk.length} Redfish endpoints`,
            "smd",
            "POST",
            "/Inventory/RedfishEndpoints",
            { RedfishEndpoints: chunk },
            true,
          );
          if (status && status < 300) rfes.added.push(...chunk.map((e) => e.ID));
          else await inParallel(chunk, postOne);
        },
        CHUNKS_IN_FLIGHT,
      );
    }
    // SMD's PUT of an endpoint creates or replaces it and re-applies what it describes, taking
    // over interfaces that exist (upstream POSTs, then PUTs on a 409).
    await inParallel(changedRfes, async (e) => {
      if (await send(e.ID, "smd", "PUT", `/Inventory/RedfishEndpoints/${e.ID}`, e))
        (snap.endpoints.has(e.ID) ? rfes.changed : rfes.added).push(e.ID);
      else rfes.failed++;
    });
    line("smd redfish endpoints", rfes);

    // ---- Interfaces posted on their own (--discovery-version 1, nodes without a BMC). The
    // endpoints just written made interfaces too: compare with SMD as it is now.
    if (p.interfaces.length && (rfes.added.length || rfes.changed.length)) snap.interfaces = await readInterfaces(api);
    const ifaces = new Tally();
    const postIfaces: DiscoveryPayloads["interfaces"] = [];
    const patchIfaces: DiscoveryPayloads["interfaces"] = [];
    for (const f of p.interfaces) {
      const v = interfaceVerdict(f, snap.interfaces.get(interfaceId(f.MACAddress)));
      if (!sort(ifaces, "interface", f.MACAddress, v)) continue;
      (v.kind === "added" ? postIfaces : patchIfaces).push(f);
    }
    await inParallel(postIfaces, async (f) => {
      if (await send(f.MACAddress, "smd", "POST", "/Inventory/EthernetInterfaces", f)) ifaces.added.push(f.MACAddress);
      else ifaces.failed++;
    });
    await inParallel(patchIfaces, async (f) => {
      const { ComponentID, Description, IPAddresses } = f;
      const path = `/Inventory/EthernetInterfaces/${interfaceId(f.MACAddress)}`;
      if (await send(f.MACAddress, "smd", "PATCH", path, { ComponentID, Description, IPAddresses })) ifaces.changed.push(f.MACAddress);
      else ifaces.failed++;
    });
    line("smd interfaces", ifaces);

    // ---- Groups: created whole; with --overwrite, description/tags PATCHed and members set.
    const groups = new Tally();
    for (const g of p.groups) {
      const gv = groupVerdict(g, snap.groups.get(g.label));
      if (!sort(groups, "group", g.label, gv.verdict)) continue;
      if (gv.verdict.kind === "added") {
        if (await send(g.label, "smd", "POST", "/groups", g)) groups.added.push(g.label);
        else groups.failed++;
        continue;
      }
      // Not confirmed: the files' members are added, the others kept.
      const kept = gv.remove.length && !(await opts.confirmRemoval(g.label, gv.remove)) ? gv.remove.length : 0;
      const ids = kept ? [...gv.current, ...gv.add] : g.members.ids;
      const putMembers = gv.add.length > 0 || (gv.remove.length > 0 && !kept);
      if (!gv.fields && !putMembers) {
        groups.unchanged.push(`${g.label}: ${kept} kept`);
        continue;
      }
      let done = true;
      if (gv.fields)
        done = !!(await send(g.label, "smd", "PATCH", `/groups/${g.label}`, {
          description: g.description,
          ...(g.tags ? { tags: g.tags } : {}),
        }));
      if (putMembers)
        done = !!(await send(`${g.label} members`, "smd", "PUT", `/groups/${g.label}/members`, { group: g.label, ids })) && done;
      if (!done) {
        groups.failed++;
        continue;
      }
      const change = [
        gv.fields ? "description/tags" : "",
        gv.add.length ? `+${gv.add.length}` : "",
        gv.remove.length && !kept ? `-${gv.remove.length}` : "",
        kept ? `${kept} kept` : "",
      ].filter(Boolean);
      groups.changed.push(`${g.label}: ${change.join(" ")}`);
    }
    line("smd groups", groups, true);

    if (!plan) return done();

    // ---- BSS: each entry PUT, so a re-run is a no-op and the nodes boot exactly the file's entry.
    let bootOk = 0;
    for (const entry of plan.boot) {
      const who = [
        ...((entry.hosts as string[]) ?? []),
        ...((entry.macs as string[]) ?? []),
        ...((entry.nids as unknown[]) ?? []).map(String),
      ];
      if (await send(`${who.length} identifiers`, "bss", "PUT", "/bootparameters", entry)) bootOk++;
    }
    if (plan.boot.length) opts.report(`bss boot parameters: ${bootOk} of ${plan.boot.length} entries set`);

    // ---- cloud-init
    if (plan.cloudInitDefaults && (await send("cluster defaults", "cloud-init", "PUT", "/admin/cluster-defaults", plan.cloudInitDefaults)))
      opts.report("cloud-init defaults: set");
    const names: string[] = [];
    for (const g of plan.cloudInitGroups)
      if (await send(g.name, "cloud-init", "PUT", `/admin/groups/${encodeURIComponent(g.name)}`, g)) names.push(g.name);
    if (plan.cloudInitGroups.length) opts.report(`cloud-init groups: ${names.join(", ") || "none written"}`);
  } catch (err) {
    if (!(err instanceof AuthAbort)) throw err;
    opts.report("stopped: the API refused the token");
  }
  return done();

  function done(): ApplyResult {
    const exitCode =
      failed === 0
        ? conflicts
          ? EXIT.PARTIAL
          : EXIT.OK
        : ok === 0 && !conflicts
          ? lastCode
          : lastCode === EXIT.AUTH
            ? EXIT.AUTH
            : EXIT.PARTIAL;
    return { ok, failed, conflicts, exitCode };
  }
}

/** SMD's records of the kinds the discovery writes (each list read once, whole). */
async function readSmd(api: ApiClient, p: DiscoveryPayloads): Promise<SmdSnapshot> {
  const list = async (path: string, key?: string) =>
    objectsIn(key ? at(await api.json("smd", "GET", path), key) : await api.json("smd", "GET", path));
  const needEndpoints = p.redfishEndpoints.length > 0;
  const [components, endpoints, interfaces, groups] = await Promise.all([
    p.components.length || needEndpoints ? list("/State/Components", "Components") : [],
    needEndpoints ? list("/Inventory/RedfishEndpoints", "RedfishEndpoints") : [],
    needEndpoints || p.interfaces.length ? readInterfaces(api) : new Map<string, JsonObject>(),
    p.groups.length ? list("/groups") : [],
  ]);
  return {
    components: byKey(components, (c) => asString(c.ID)),
    endpoints: byKey(endpoints, (e) => asString(e.ID)),
    interfaces,
    groups: byKey(groups, (g) => asString(g.label)),
  };
}

async function readInterfaces(api: ApiClient) {
  const records = objectsIn(await api.json("smd", "GET", "/Inventory/EthernetInterfaces"));
  return byKey(records, (f) => (typeof f.MACAddress === "string" ? interfaceId(f.MACAddress) : undefined));
}

/**
 * --dry-run: the requests upstream's ochami sends for these files, one per line (METHOD path
 * body), without reading SMD (so nothing is skipped as unchanged, and no cluster is needed).
 */
function printRequests(p: DiscoveryPayloads, plan: ClusterPlan | undefined, opts: ApplyOptions): ApplyResult {
  let ok = 0;
  const print = (service: ApiService, method: string, path: string, body: unknown) => {
    opts.print(`${method} ${BASE[service]}${path} ${JSON.stringify(body)}`);
    ok++;
  };
  if (p.components.length) {
    if (!opts.overwrite) print("smd", "POST", "/State/Components", { Components: p.components });
    else {
      for (const c of p.components) print("smd", "PUT", `/State/Components/${c.ID}`, { Component: c, Force: true });
      const withNid = p.components.filter((c) => c.NID !== undefined);
      if (withNid.length)
        print("smd", "PATCH", "/State/Components/BulkNID", { Components: withNid.map((c) => ({ ID: c.ID, Type: "", NID: c.NID })) });
    }
  }
  if (opts.overwrite || p.redfishEndpoints.length === 1)
    for (const e of p.redfishEndpoints) print("smd", "POST", "/Inventory/RedfishEndpoints", e);
  else
    for (let i = 0; i < p.redfishEndpoints.length; i += ENDPOINTS_PER_POST)
      print("smd", "POST", "/Inventory/RedfishEndpoints", { RedfishEndpoints: p.redfishEndpoints.slice(i, i + ENDPOINTS_PER_POST) });
  for (const f of p.interfaces) print("smd", "POST", "/Inventory/EthernetInterfaces", f);
  for (const g of p.groups) print("smd", "POST", "/groups", g);
  for (const entry of plan?.boot ?? []) print("bss", "PUT", "/bootparameters", entry);
  if (plan?.cloudInitDefaults) print("cloud-init", "PUT", "/admin/cluster-defaults", plan.cloudInitDefaults);
  for (const g of plan?.cloudInitGroups ?? []) print("cloud-init", "PUT", `/admin/groups/${encodeURIComponent(g.name)}`, g);
  opts.report(
    `dry run: ${ok} requests printed, nothing sent (with --overwrite, a 409 answer is followed by PUT, or PATCH for interfaces and groups)`,
  );
  log.info("a real run reads SMD first and sends only what is new or differs");
  return { ok, failed: 0, conflicts: 0, exitCode: EXIT.OK };
}
