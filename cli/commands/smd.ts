import { Command, Option } from "commander";
import { CliError, EXIT, UsageError } from "../errors";
import { listOption } from "../io/input";
import { asString, at, type JsonObject, objectsIn } from "../io/json";
import { listOrOne, type TableSpec } from "../io/output";
import {
  act,
  type ConfirmOptions,
  collect,
  confirmed,
  type DataOptions,
  examples,
  exitFor,
  forEach,
  needData,
  type OutputOptions,
  output,
  type Run,
  withConfirm,
  withData,
  withOutput,
} from "./define";
import { enc, itemsOf, parseBool, parseInteger, requireField } from "./payload";
import { groupCommand, membershipCommand, partitionCommand } from "./smd-groups";
import { hardwareCommand } from "./smd-hardware";
import { ifaceCommand, rfeCommand } from "./smd-inventory";
import { lockCommand, scnCommand } from "./smd-locks";

/**
 * `ochami smd`: SMD (/hsm/v2) as upstream's command tree — component, compep, rfe, iface, group
 * (+ member, membership), status, service — plus `partition`, `membership`, component
 * `set`/`update`, `hardware`, `lock` and `scn`, which upstream lacks.
 */
export function smdCommand(): Command {
  const smd = new Command("smd")
    .description("inventory: components, interfaces, Redfish endpoints, groups (SMD, /hsm/v2)")
    .option("--uri <uri>", "SMD base URI, absolute or a path under the cluster URI (default /hsm/v2)");
  examples(smd, ["ochami smd component get -F table", "ochami smd iface get --comp-id x1000c1s7b1n0", "ochami smd group get"]);

  const status = act<OutputOptions & { all?: boolean }>(
    new Command("status").description("is SMD up? (GET /service/ready)").option("--all", "print SMD's enumerations (GET /service/values)"),
    async (run) => {
      const res = await run.ctx.api().json("smd", "GET", run.opts.all ? "/service/values" : "/service/ready", { auth: false });
      output(run, res);
    },
  );
  withOutput(status);
  examples(status, ["ochami smd status", "ochami smd status --all -F yaml"]);

  const service = new Command("service").description("SMD service information");
  examples(service, ["ochami smd service status", "ochami smd service values role"]);
  const serviceStatus = act<OutputOptions & { all?: boolean }>(
    new Command("status").description("GET /service/ready").option("--all", "print SMD's enumerations (GET /service/values)"),
    async (run) =>
      output(run, await run.ctx.api().json("smd", "GET", run.opts.all ? "/service/values" : "/service/ready", { auth: false })),
  );
  withOutput(serviceStatus);
  examples(serviceStatus, ["ochami smd service status"]);
  const values = act<OutputOptions, [kind: string | undefined]>(
    new Command("values")
      .description("valid values of SMD's enumerations (GET /service/values[/<kind>])")
      .argument("[kind]", "arch, class, flag, nettype, role, subrole, state or type"),
    async (run) =>
      output(
        run,
        await run.ctx
          .api()
          .json("smd", "GET", `/service/values${run.args[0] ? `/${enc(run.args[0].toLowerCase())}` : ""}`, { auth: false }),
      ),
  );
  withOutput(values);
  examples(values, ["ochami smd service values", "ochami smd service values state -F yaml"]);
  service.addCommand(serviceStatus).addCommand(values);

  return smd
    .addCommand(status)
    .addCommand(service)
    .addCommand(componentCommand())
    .addCommand(compepCommand())
    .addCommand(rfeCommand())
    .addCommand(ifaceCommand())
    .addCommand(groupCommand())
    .addCommand(partitionCommand())
    .addCommand(membershipCommand())
    .addCommand(hardwareCommand())
    .addCommand(lockCommand())
    .addCommand(scnCommand());
}

// ----------------------------------------------------------------------------- filters

/** The options withComponentFilters adds. */
export interface ComponentFilterOptions {
  type?: string[];
  state?: string[];
  flag?: string[];
  role?: string[];
  subrole?: string[];
  arch?: string[];
  class?: string[];
  enabled?: string;
  group?: string[];
  partition?: string[];
  nidStart?: string;
  nidEnd?: string;
  softwarestatus?: string[];
  subtype?: string[];
}

/** Component filter options shared by `component get` and `membership get`: the query keys SMD's component lists take. */
export function withComponentFilters(cmd: Command): Command {
  return cmd
    .option("--type <type>", "HMS type, e.g. Node, NodeBMC (repeatable, or comma-separated)", collect)
    .option("--state <state>", "e.g. Ready, On, Off; !Ready negates (repeatable, or comma-separated)", collect)
    .option("--flag <flag>", "e.g. OK, Alert (repeatable, or comma-separated)", collect)
    .option("--role <role>", "e.g. Compute, Service (repeatable, or comma-separated)", collect)
    .option("--subrole <subrole>", "repeatable, or comma-separated", collect)
    .option("--arch <arch>", "e.g. X86, ARM (repeatable, or comma-separated)", collect)
    .option("--class <class>", "e.g. River, Mountain (repeatable, or comma-separated)", collect)
    .option("--enabled <bool>", "true or false")
    .option("--group <label>", "members of these groups (repeatable, or comma-separated)", collect)
    .option("--partition <name>", "members of these partitions (repeatable, or comma-separated)", collect)
    .option("--nid-start <nid>", "lowest NID")
    .option("--nid-end <nid>", "highest NID")
    .option("--softwarestatus <status>", "software statuses (repeatable, or comma-separated)", collect)
    .option("--subtype <subtype>", "subtypes (repeatable, or comma-separated)", collect);
}

export function componentQuery(o: ComponentFilterOptions): Record<string, string[] | string | undefined> {
  return {
    type: listOption(o.type),
    state: listOption(o.state),
    flag: listOption(o.flag),
    role: listOption(o.role),
    subrole: listOption(o.subrole),
    arch: listOption(o.arch),
    class: listOption(o.class),
    enabled: o.enabled === undefined ? undefined : String(parseBool(o.enabled, "--enabled")),
    group: listOption(o.group),
    partition: listOption(o.partition),
    nid_start: o.nidStart,
    nid_end: o.nidEnd,
    softwarestatus: listOption(o.softwarestatus),
    subtype: listOption(o.subtype),
  };
}

const COMPONENT_TABLE: TableSpec = {
  rows: (d) => listOrOne(at(d, "Components"), d, "ID"),
  columns: [
    { header: "ID", value: (c) => c.ID },
    { header: "TYPE", value: (c) => c.Type },
    { header: "STATE", value: (c) => c.State },
    { header: "FLAG", value: (c) => c.Flag },
    { header: "ENABLED", value: (c) => c.Enabled },
    { header: "ROLE", value: (c) => [c.Role, c.SubRole].filter(Boolean).join("/") },
    { header: "NID", value: (c) => c.NID },
    { header: "ARCH", value: (c) => c.Arch },
  ],
};

// ----------------------------------------------------------------------------- component

function componentCommand(): Command {
  const component = new Command("component").description("components: nodes, BMCs... (/State/Components)");
  examples(component, [
    "ochami smd component get -F table",
    "ochami smd component add x1000c1s7b0n0 1",
    "ochami smd component update --state Off x1000c1s7b0n0",
  ]);

  const get = act<OutputOptions & ComponentFilterOptions & { xname?: string[]; nid?: string[] }>(
    withComponentFilters(
      new Command("get")
        .alias("list")
        .description("all components, or those matching the options (one -x or -n prints that component alone, as upstream)")
        .option("-x, --xname <xname>", "xnames (repeatable, or comma-separated)", collect)
        .option("-n, --nid <nid>", "NIDs (repeatable, or comma-separated)", collect),
    ),
    async (run) => {
      const api = run.ctx.api();
      const xnames = listOption(run.opts.xname);
      const nids = listOption(run.opts.nid);
      const filters = componentQuery(run.opts);
      const hasFilter = Object.values(filters).some((v) => (Array.isArray(v) ? v.length : v !== undefined));
      if (!hasFilter && xnames.length + nids.length === 1) {
        const path = xnames.length
          ? `/State/Components/${enc(xnames[0])}`
          : `/State/Components/ByNID/${enc(String(parseInteger(nids[0], "--nid")))}`;
        return output(run, await api.json("smd", "GET", path), COMPONENT_TABLE);
      }
      output(
        run,
        await api.json("smd", "GET", "/State/Components", { auth: false, query: { ...filters, id: xnames, nid: nids } }),
        COMPONENT_TABLE,
      );
    },
  );
  withOutput(get);
  examples(get, [
    "ochami smd component get",
    "ochami smd component get -x x1000c1s7b1n0",
    "ochami smd component get --type Node --state Ready -F table",
    "ochami smd component get -n 1,2,3 -F yaml",
  ]);

  const add = act<ComponentFieldOptions, ComponentArgs>(
    withComponentFields(
      new Command("add")
        .description("create components; refuses (nothing written) when one exists already, since SMD would silently keep the old one")
        .argument("[xname]", "component xname")
        .argument("[nid]", "node ID"),
    ),
    async (run) => {
      const comps = componentsFrom(run, { State: "Ready", Enabled: true, Role: "Compute", Arch: "X86" });
      const api = run.ctx.api();
      const ids = comps.map((c) => String(c.ID));
      const existing = await api.json<unknown>("smd", "GET", "/State/Components", { auth: false, query: { id: ids } });
      const present = objectsIn(at(existing, "Components")).map((c) => c.ID);
      if (present.length)
        throw new CliError(
          `already in SMD: ${present.join(", ")}; nothing added (use \`ochami smd component set\` to overwrite)`,
          EXIT.REQUEST,
        );
      await api.call("smd", "POST", "/State/Components", { body: { Components: comps } });
      process.stderr.write(`added ${comps.length} component${comps.length === 1 ? "" : "s"}\n`);
    },
  );
  examples(add, [
    "ochami smd component add x1000c1s7b0n0 1",
    "ochami smd component add --state On --role Service x1000c1s7b0n1 2",
    "ochami smd component add -d @components.json",
    "ochami smd component add -f yaml -d @components.yaml",
  ]);

  const set = act<ComponentFieldOptions, ComponentArgs>(
    withComponentFields(
      new Command("set")
        .description("create or overwrite components (PUT with force, then NID, role, enabled and software status, which SMD's PUT keeps)")
        .argument("[xname]")
        .argument("[nid]"),
    ),
    async (run) => {
      const comps = componentsFrom(run, { State: "Ready" });
      const api = run.ctx.api();
      const r = await forEach(
        comps,
        (c) => String(c.ID),
        async (c) => {
          const id = enc(String(c.ID));
          await api.call("smd", "PUT", `/State/Components/${id}`, { body: { Component: c, Force: true } });
          if (c.NID !== undefined) await api.call("smd", "PATCH", `/State/Components/${id}/NID`, { body: { NID: c.NID } });
          if (c.Role) await api.call("smd", "PATCH", `/State/Components/${id}/Role`, { body: { Role: c.Role, SubRole: c.SubRole ?? "" } });
          if (c.Enabled !== undefined) await api.call("smd", "PATCH", `/State/Components/${id}/Enabled`, { body: { Enabled: c.Enabled } });
          if (c.SoftwareStatus)
            await api.call("smd", "PATCH", `/State/Components/${id}/SoftwareStatus`, { body: { SoftwareStatus: c.SoftwareStatus } });
        },
      );
      return exitFor(r);
    },
  );
  examples(set, ["ochami smd component set --state On --role Compute x1000c1s7b0n0 1", "ochami smd component set -d @components.json"]);

  const update = act<
    { state?: string; flag?: string; enabled?: string; role?: string; subrole?: string; nid?: string; swStatus?: string; force?: boolean },
    [xnames: string[]]
  >(
    new Command("update")
      .description("change fields of existing components (SMD's PATCH routes; several xnames use the Bulk routes)")
      .argument("<xname...>")
      .option("--state <state>", "new State (e.g. Ready, Off)")
      .option("--flag <flag>", "new Flag (OK, Warning, Alert, Locked)")
      .option("--enabled <bool>", "true or false")
      .option("--role <role>", "new Role")
      .option("--subrole <subrole>", "new SubRole (with --role)")
      .option("--nid <nid>", "new NID (one xname only)")
      .option("--sw-status <status>", "new SoftwareStatus")
      .option("--force", "with --state: also make state changes SMD does not allow by default (e.g. On to Standby)"),
    async (run) => {
      const ids = listOption(run.args[0]);
      const o = run.opts;
      const api = run.ctx.api();
      const patches: Array<[string, unknown]> = [];
      if (o.state)
        patches.push([
          "BulkStateData",
          { ComponentIDs: ids, State: o.state, ...(o.flag ? { Flag: o.flag } : {}), ...(o.force ? { Force: true } : {}) },
        ]);
      else if (o.flag) patches.push(["BulkFlagOnly", { ComponentIDs: ids, Flag: o.flag }]);
      if (o.enabled !== undefined) patches.push(["BulkEnabled", { ComponentIDs: ids, Enabled: parseBool(o.enabled, "--enabled") }]);
      if (o.role) patches.push(["BulkRole", { ComponentIDs: ids, Role: o.role, ...(o.subrole ? { SubRole: o.subrole } : {}) }]);
      else if (o.subrole) throw new UsageError("--subrole needs --role");
      if (o.swStatus) patches.push(["BulkSoftwareStatus", { ComponentIDs: ids, SoftwareStatus: o.swStatus }]);
      if (o.nid !== undefined) {
        if (ids.length !== 1) throw new UsageError("--nid changes one component: give exactly one xname");
        patches.push(["BulkNID", { Components: [{ ID: ids[0], NID: parseInteger(o.nid, "--nid") }] }]);
      }
      if (!patches.length) throw new UsageError("nothing to change: pass --state, --flag, --enabled, --role, --nid or --sw-status");
      // SMD ignores unknown xnames in PATCHes (204); say so instead of pretending.
      const known = await api.json<unknown>("smd", "GET", "/State/Components", { auth: false, query: { id: ids } });
      const missing = ids.filter((id) => !objectsIn(at(known, "Components")).some((c) => c.ID === id.toLowerCase()));
      if (missing.length) throw new CliError(`not in SMD: ${missing.join(", ")}; nothing changed`, EXIT.REQUEST);
      for (const [route, body] of patches) await api.call("smd", "PATCH", `/State/Components/${route}`, { body });
      if (!o.state) return;
      // SMD skips components whose state may not change that way, and still answers 204: say so.
      const after = objectsIn(
        at(await api.json<unknown>("smd", "GET", "/State/Components", { auth: false, query: { id: ids } }), "Components"),
      );
      const stuck = after.filter((c) => asString(c.State)?.toLowerCase() !== String(o.state).toLowerCase());
      if (!stuck.length) return;
      process.stderr.write(
        `error: SMD kept ${stuck.map((c) => `${c.ID} ${c.State}`).join(", ")}: it does not allow that change of state without --force\n`,
      );
      return stuck.length === ids.length ? EXIT.REQUEST : EXIT.PARTIAL;
    },
  );
  examples(update, [
    "ochami smd component update --state Off x1000c1s7b0n0",
    "ochami smd component update --enabled false x1000c1s7b0n0 x1000c1s7b1n0",
    "ochami smd component update --role Service --subrole Gateway x1000c1s7b0n0",
    "ochami smd component update --nid 42 x1000c1s7b0n0",
    "ochami smd component update --force --state Standby x1000c1s7b0n0",
  ]);

  const del = act<DeleteOptions, [xnames: string[]]>(
    withConfirm(
      withData(
        new Command("delete").description("delete components").argument("[xname...]").option("-a, --all", "delete EVERY component"),
        '{"Components":[{"ID":...}]}',
      ),
    ),
    async (run) =>
      deleteItems(run, {
        service: "smd",
        all: "/State/Components",
        one: (id) => `/State/Components/${enc(id)}`,
        wrapper: "Components",
        key: "ID",
        noun: "component",
      }),
  );
  examples(del, [
    "ochami smd component delete x1000c1s7b0n0",
    "ochami smd component delete --no-confirm --all",
    "ochami smd component delete -d @components.json",
  ]);

  return component.addCommand(get).addCommand(add).addCommand(set).addCommand(update).addCommand(del);
}

/** The options withComponentFields adds. */
interface ComponentFieldOptions extends DataOptions {
  state?: string;
  enabled?: boolean;
  disabled?: boolean;
  role?: string;
  subrole?: string;
  arch?: string;
  class?: string;
  nettype?: string;
  swStatus?: string;
}

type ComponentArgs = [xname: string | undefined, nid: string | undefined];

function withComponentFields(cmd: Command): Command {
  return withData(cmd, '{"Components":[...]}')
    .option("--state <state>", "State (default Ready)")
    .addOption(new Option("--enabled", "Enabled: true (default)"))
    .addOption(new Option("--disabled", "Enabled: false").conflicts("enabled"))
    .option("--role <role>", "Role (add: default Compute)")
    .option("--subrole <subrole>", "SubRole")
    .option("--arch <arch>", "Arch (add: default X86)")
    .option("--class <class>", "Class")
    .option("--nettype <nettype>", "NetType")
    .option("--sw-status <status>", "SoftwareStatus");
}

/** Components from -d, or one from the positional xname/NID and flags (with the command's defaults). */
function componentsFrom(run: Run<ComponentFieldOptions, ComponentArgs>, defaults: JsonObject): JsonObject[] {
  const [xname, nid] = run.args;
  if (run.opts.data !== undefined || !xname) {
    if (xname) throw new UsageError("pass either an xname or -d, not both");
    const items = itemsOf(needData(run, "components").value, "Components", "components");
    for (const c of items) requireField(c, "ID", "components");
    return items;
  }
  const o = run.opts;
  const c: JsonObject = { ID: xname, ...defaults };
  if (nid !== undefined) c.NID = parseInteger(nid, "nid");
  if (o.state) c.State = o.state;
  if (o.disabled) c.Enabled = false;
  else if (o.enabled) c.Enabled = true;
  if (o.role) c.Role = o.role;
  if (o.subrole) c.SubRole = o.subrole;
  if (o.arch) c.Arch = o.arch;
  if (o.class) c.Class = o.class;
  if (o.nettype) c.NetType = o.nettype;
  if (o.swStatus) c.SoftwareStatus = o.swStatus;
  return [c];
}

// ----------------------------------------------------------------------------- shared delete

export interface DeleteSpec {
  service: "smd";
  all: string;
  one: (id: string) => string;
  wrapper: string;
  key: string;
  noun: string;
}

/** The options of a `delete` deleteItems runs: -a, -d, --no-confirm. */
export interface DeleteOptions extends DataOptions, ConfirmOptions {
  all?: boolean;
}

/** `delete <id...> | --all | -d`, confirming first, one DELETE per item. */
// biome-ignore lint/suspicious/noConfusingVoidType: an action's result, as act() takes it.
export async function deleteItems(run: Run<DeleteOptions, [ids: string[]]>, spec: DeleteSpec): Promise<number | void> {
  const api = run.ctx.api();
  const ids = run.args[0];
  if (run.opts.all) {
    if (ids.length || run.opts.data) throw new UsageError("--all takes no ids and no -d");
    if (!(await confirmed(run, `delete ALL ${spec.noun}s`))) return EXIT.REQUEST;
    const res = await api.json<unknown>(spec.service, "DELETE", spec.all);
    process.stderr.write(`${at(res, "message") ?? `deleted all ${spec.noun}s`}\n`);
    return;
  }
  let list = ids.flatMap((i) => listOption(i));
  if (!list.length)
    list = itemsOf(needData(run, `${spec.noun}s to delete`).value, spec.wrapper, `${spec.noun}s`).map((i) =>
      requireField(i, spec.key, spec.noun),
    );
  if (!list.length) throw new UsageError(`no ${spec.noun} given`);
  if (!(await confirmed(run, `delete ${list.length} ${spec.noun}${list.length === 1 ? "" : "s"} (${list.join(", ")})?`)))
    return EXIT.REQUEST;
  return exitFor(
    await forEach(
      list,
      (id) => id,
      async (id) => void (await api.call(spec.service, "DELETE", spec.one(id))),
    ),
  );
}

// ----------------------------------------------------------------------------- compep

function compepCommand(): Command {
  const compep = new Command("compep").description(
    "component endpoints: the link between components and Redfish (/Inventory/ComponentEndpoints)",
  );
  examples(compep, ["ochami smd compep get", "ochami smd compep delete x1000c1s7b0n0"]);
  const table: TableSpec = {
    rows: (d) => objectsIn(at(d, "ComponentEndpoints")),
    columns: [
      { header: "ID", value: (c) => c.ID },
      { header: "TYPE", value: (c) => c.Type },
      { header: "REDFISH_TYPE", value: (c) => c.RedfishType },
      { header: "RFE", value: (c) => c.RedfishEndpointID },
      { header: "URL", value: (c) => c.RedfishURL },
    ],
  };
  const get = act<OutputOptions, [xnames: string[]]>(
    new Command("get").alias("list").description("all component endpoints, or those of the given xnames").argument("[xname...]"),
    async (run) => {
      const api = run.ctx.api();
      const ids = run.args[0].flatMap((i) => listOption(i));
      if (!ids.length) return output(run, await api.json("smd", "GET", "/Inventory/ComponentEndpoints"), table);
      const list = [];
      for (const id of ids) list.push(await api.json("smd", "GET", `/Inventory/ComponentEndpoints/${enc(id)}`));
      output(run, { ComponentEndpoints: list }, table);
    },
  );
  withOutput(get);
  examples(get, ["ochami smd compep get", "ochami smd compep get x1000c1s7b0n0 -F yaml"]);
  const del = act<DeleteOptions, [xnames: string[]]>(
    withConfirm(
      withData(
        new Command("delete")
          .description("delete component endpoints")
          .argument("[xname...]")
          .option("-a, --all", "delete EVERY component endpoint"),
        '{"ComponentEndpoints":[{"ID":...}]}',
      ),
    ),
    async (run) =>
      deleteItems(run, {
        service: "smd",
        all: "/Inventory/ComponentEndpoints",
        one: (id) => `/Inventory/ComponentEndpoints/${enc(id)}`,
        wrapper: "ComponentEndpoints",
        key: "ID",
        noun: "component endpoint",
      }),
  );
  examples(del, ["ochami smd compep delete x1000c1s7b0n0", "ochami smd compep delete --no-confirm --all"]);
  return compep.addCommand(get).addCommand(del);
}
