import type { ApiClient, ApiService } from "../../shared/api-client/client";
import { ApiError } from "../../shared/api-client/errors";
import { cliErrorOf, EXIT } from "../errors";
import type { ClusterPlan } from "./cluster-file";
import type { DiscoveryPayloads } from "./payloads";

/**
 * Sends a discovery to the API in the order upstream's ochami sends it: components, Redfish endpoints,
 * node interfaces, groups; then, from a cluster file, BSS boot parameters and cloud-init defaults
 * and groups. Without --overwrite, existing endpoints and groups are reported as conflicts (as
 * upstream); with it they are replaced. Every request is attempted (a failure is reported and the
 * rest go on), except after an authentication failure, which every later request would repeat.
 *
 * Where we differ from upstream: `--overwrite` also makes a group's members those of the files
 * (upstream PATCHes the group, which leaves members unchanged, so the seed's playbook had to
 * delete and re-add groups); the cluster-file parts are always set (PUT), so they are idempotent.
 */
export interface ApplyOptions {
  overwrite: boolean;
  dryRun: boolean;
  /** Where progress lines go (stderr). */
  report: (line: string) => void;
  /** Where --dry-run prints the requests (stdout). */
  print: (line: string) => void;
}

export interface ApplyResult {
  ok: number;
  failed: number;
  exitCode: number;
}

class AuthAbort extends Error {}

/**
 * Speed, where we differ from upstream, which sends every Redfish endpoint and interface on its
 * own, one after the other (about 2.5 ms each against local D1): endpoints go in SMD's array form,
 * ENDPOINTS_PER_POST per request (our SMD runs the discovery parser on each element; upstream's
 * ignores the elements' node data, so against upstream SMD use --overwrite, which keeps upstream's
 * one request per endpoint). Requests that stay single (--overwrite's POST-then-PUT, interfaces)
 * go out PARALLEL at a time. The order between kinds is kept (SMD makes a BMC's node components
 * from its endpoint); a dry run prints in file order. The first thrown error (an auth abort) stops
 * new starts.
 */
const ENDPOINTS_PER_POST = 250;
const PARALLEL = 8;

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

export async function applyDiscovery(
  api: ApiClient,
  p: DiscoveryPayloads,
  plan: ClusterPlan | undefined,
  options: ApplyOptions,
): Promise<ApplyResult> {
  // A dry run prints the requests and no summaries (nothing was written).
  const opts = options.dryRun ? { ...options, report: () => {} } : options;
  let ok = 0;
  let failed = 0;
  let lastCode: number = EXIT.REQUEST;
  const base: Record<ApiService, string> = { smd: "/hsm/v2", bss: "/boot/v1", "cloud-init": "/cloud-init", root: "" };

  /** One request; the status, or undefined when it failed (reported). */
  /** `tentative`: a refusal is returned, not reported (the caller tries another way). */
  const send = async (
    what: string,
    service: ApiService,
    method: string,
    path: string,
    body: unknown,
    expectConflict = false,
    tentative = false,
  ): Promise<number | undefined> => {
    if (opts.dryRun) {
      opts.print(`${method} ${base[service]}${path} ${JSON.stringify(body)}`);
      ok++;
      return 200;
    }
    const res = await api.send(service, method, path, { body });
    if (res.status >= 200 && res.status < 300) {
      ok++;
      return res.status;
    }
    if ((res.status === 409 && expectConflict) || (tentative && res.status !== 401 && res.status !== 403)) return res.status;
    const err = cliErrorOf(ApiError.answer(res));
    failed++;
    lastCode = err.exitCode;
    const hint = res.status === 409 && !opts.overwrite ? " (it exists already; --overwrite replaces it)" : "";
    opts.report(`error: ${method} ${base[service]}${path} (${what}): ${err.message}${hint}`);
    if (err.exitCode === EXIT.AUTH) throw new AuthAbort();
    return undefined;
  };

  try {
    // ---- SMD: components first, so the files' NIDs win over those SMD would derive.
    if (p.components.length) {
      if (!opts.overwrite) {
        await send(`${p.components.length} components`, "smd", "POST", "/State/Components", { Components: p.components });
      } else {
        for (const c of p.components) await send(c.ID, "smd", "PUT", `/State/Components/${c.ID}`, { Component: c, Force: true });
        const withNid = p.components.filter((c) => c.NID !== undefined);
        // PUT keeps an existing component's NID; this sets it.
        if (withNid.length)
          await send("NIDs", "smd", "PATCH", "/State/Components/BulkNID", {
            Components: withNid.map((c) => ({ ID: c.ID, Type: "", NID: c.NID })),
          });
      }
      opts.report(
        `smd components: ${p.components.length} ${opts.overwrite ? "set" : "added (existing ones are left as they are without --overwrite)"}`,
      );
    }

    let added = 0;
    let replaced = 0;
    const oneEndpoint = async (rfe: DiscoveryPayloads["redfishEndpoints"][number]) => {
      const status = await send(rfe.ID, "smd", "POST", "/Inventory/RedfishEndpoints", rfe, opts.overwrite);
      if (status === 409 && (await send(rfe.ID, "smd", "PUT", `/Inventory/RedfishEndpoints/${rfe.ID}`, rfe))) replaced++;
      else if (status && status < 300) added++;
    };
    if (opts.overwrite || p.redfishEndpoints.length === 1) await inParallel(p.redfishEndpoints, oneEndpoint);
    else
      for (let i = 0; i < p.redfishEndpoints.length; i += ENDPOINTS_PER_POST) {
        // SMD's array form, one transaction per chunk. A chunk it refuses (an endpoint exists
        // already, or one is invalid) is sent again endpoint by endpoint, so each refusal is
        // reported for its own endpoint, as upstream reports them.
        const chunk = p.redfishEndpoints.slice(i, i + ENDPOINTS_PER_POST);
        const status = await send(
          `${chunk.length} Redfish endpoints`,
          "smd",
          "POST",
          "/Inventory/RedfishEndpoints",
          { RedfishEndpoints: chunk },
          false,
          true,
        );
        if (status && status < 300) added += chunk.length;
        else await inParallel(chunk, oneEndpoint);
      }
    if (p.redfishEndpoints.length)
      opts.report(`smd redfish endpoints: ${added} added, ${replaced} replaced (with their nodes' interfaces)`);

    added = replaced = 0;
    await inParallel(p.interfaces, async (f) => {
      const status = await send(f.MACAddress, "smd", "POST", "/Inventory/EthernetInterfaces", f, opts.overwrite);
      if (status === 409) {
        const { ComponentID, Description, IPAddresses } = f;
        if (
          await send(f.MACAddress, "smd", "PATCH", `/Inventory/EthernetInterfaces/${f.MACAddress.replace(/:/g, "")}`, {
            ComponentID,
            Description,
            IPAddresses,
          })
        )
          replaced++;
      } else if (status && status < 300) added++;
    });
    if (p.interfaces.length) opts.report(`smd interfaces: ${added} added, ${replaced} updated`);

    const groupLines: string[] = [];
    for (const g of p.groups) {
      const status = await send(g.label, "smd", "POST", "/groups", g, opts.overwrite);
      if (status === 409) {
        const patched = await send(g.label, "smd", "PATCH", `/groups/${g.label}`, {
          description: g.description,
          ...(g.tags ? { tags: g.tags } : {}),
        });
        const members = await send(`${g.label} members`, "smd", "PUT", `/groups/${g.label}/members`, {
          group: g.label,
          ids: g.members.ids,
        });
        if (patched && members) groupLines.push(`${g.label} (${g.members.ids.length}, updated)`);
      } else if (status && status < 300) groupLines.push(`${g.label} (${g.members.ids.length})`);
    }
    if (p.groups.length) opts.report(`smd groups: ${groupLines.join(", ") || "none written"}`);

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
    if (options.dryRun)
      options.report(
        `dry run: ${ok} requests printed, nothing sent (with --overwrite, a 409 answer is followed by PUT, or PATCH for interfaces and groups)`,
      );
    return { ok, failed, exitCode: failed === 0 ? EXIT.OK : ok === 0 ? lastCode : lastCode === EXIT.AUTH ? EXIT.AUTH : EXIT.PARTIAL };
  }
}
