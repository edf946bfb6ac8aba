import { Command } from "commander";
import { UsageError } from "../errors";
import { listOption } from "../io/input";
import { at, type JsonObject, objectsIn } from "../io/json";
import { listOrOne, type TableSpec } from "../io/output";
import {
  act,
  collect,
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
import { enc, field, itemsOf, parseBool, requireField } from "./payload";
import { type DeleteOptions, deleteItems } from "./smd";

// ----------------------------------------------------------------------------- rfe

const RFE_TABLE: TableSpec = {
  rows: (d) => listOrOne(at(d, "RedfishEndpoints"), d, "ID"),
  columns: [
    { header: "ID", value: (r) => r.ID },
    { header: "TYPE", value: (r) => r.Type },
    { header: "NAME", value: (r) => r.Name },
    { header: "FQDN", value: (r) => r.FQDN },
    { header: "IP", value: (r) => r.IPAddress },
    { header: "MAC", value: (r) => r.MACAddr },
    { header: "ENABLED", value: (r) => r.Enabled },
    { header: "STATUS", value: (r) => at(r.DiscoveryInfo, "LastDiscoveryStatus") },
  ],
};

export function rfeCommand(): Command {
  const rfe = new Command("rfe").description("Redfish endpoints: the BMCs (/Inventory/RedfishEndpoints)");
  examples(rfe, ["ochami smd rfe get -F table", "ochami smd rfe add x1000c1s7b0 bmc01 172.16.0.101 de:ca:fc:0f:ee:ee"]);

  const get = act<OutputOptions & { xname?: string[]; fqdn?: string[]; ip?: string[]; mac?: string[]; type?: string[]; uuid?: string[] }>(
    new Command("get")
      .alias("list")
      .description("all Redfish endpoints, or those matching the options")
      .option("-x, --xname <xname>", "endpoint xnames (repeatable, or comma-separated)", collect)
      .option("--fqdn <fqdn>", "repeatable, or comma-separated", collect)
      .option("-i, --ip <ip>", "IP addresses (repeatable, or comma-separated)", collect)
      .option("-m, --mac <mac>", "MAC addresses (repeatable, or comma-separated)", collect)
      .option("--type <type>", "e.g. NodeBMC (repeatable, or comma-separated)", collect)
      .option("--uuid <uuid>", "repeatable, or comma-separated", collect),
    async (run) => {
      const o = run.opts;
      output(
        run,
        await run.ctx.api().json("smd", "GET", "/Inventory/RedfishEndpoints", {
          query: {
            id: listOption(o.xname),
            fqdn: listOption(o.fqdn),
            ipaddress: listOption(o.ip),
            macaddr: listOption(o.mac),
            type: listOption(o.type),
            uuid: listOption(o.uuid),
          },
        }),
        RFE_TABLE,
      );
    },
  );
  withOutput(get);
  examples(get, ["ochami smd rfe get", "ochami smd rfe get -x x1000c1s7b0 -F yaml", "ochami smd rfe get --ip 172.16.0.101"]);

  const add = act<RfeFlagOptions & DataOptions, RfeArgs>(
    withData(
      rfeFlags(
        new Command("add").description("add Redfish endpoints").argument("[xname]").argument("[name]").argument("[ip]").argument("[mac]"),
      ),
      '{"RedfishEndpoints":[...]}',
    ),
    async (run) => {
      const items = rfeItems(run);
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          items,
          (r) => String(r.ID),
          async (r) => void (await api.call("smd", "POST", "/Inventory/RedfishEndpoints", { body: r })),
        ),
      );
    },
  );
  examples(add, [
    "ochami smd rfe add x1000c1s7b0 bmc01 172.16.0.101 de:ca:fc:0f:ee:ee",
    "ochami smd rfe add --domain openchami.cluster x1000c1s7b1 bmc02 172.16.0.102 de:ca:fc:0f:ee:ef",
    "ochami smd rfe add -d @rfes.json",
  ]);

  const set = act<DataOptions>(
    withData(new Command("set").description("create or replace Redfish endpoints (PUT per endpoint)"), '{"RedfishEndpoints":[...]}'),
    async (run) => {
      const items = itemsOf(needData(run, "Redfish endpoints").value, "RedfishEndpoints", "Redfish endpoints");
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          items,
          (r) => requireField(r, "ID", "Redfish endpoints"),
          async (r) =>
            void (await api.call("smd", "PUT", `/Inventory/RedfishEndpoints/${enc(requireField(r, "ID", "Redfish endpoints"))}`, {
              body: r,
            })),
        ),
      );
    },
  );
  examples(set, ["ochami smd rfe set -d @rfes.json", "ochami smd rfe set -f yaml -d @rfes.yaml"]);

  const update = act<
    OutputOptions & DataOptions & RfeFlagOptions & { name?: string; ip?: string; mac?: string; fqdn?: string; enabled?: string },
    [xname: string]
  >(
    withData(
      rfeFlags(
        new Command("update")
          .description("change fields of one Redfish endpoint (PATCH)")
          .argument("<xname>")
          .option("--name <name>")
          .option("--ip <ip>")
          .option("--mac <mac>")
          .option("--fqdn <fqdn>")
          .option("--enabled <bool>"),
      ),
      "fields to change",
    ),
    async (run) => {
      const o = run.opts;
      let body: JsonObject = {};
      if (o.data !== undefined) body = itemsOf(needData(run).value, undefined, "fields")[0];
      const set = (k: string, v: unknown) => {
        if (v !== undefined) body[k] = v;
      };
      set("Name", o.name);
      set("IPAddress", o.ip);
      set("MACAddr", o.mac);
      set("FQDN", o.fqdn);
      set("Domain", o.domain);
      set("Hostname", o.hostname);
      set("User", o.username);
      set("Password", o.password);
      if (o.enabled !== undefined) body.Enabled = parseBool(o.enabled, "--enabled");
      if (!Object.keys(body).length) throw new UsageError("nothing to change: pass options or -d");
      output(run, await run.ctx.api().json("smd", "PATCH", `/Inventory/RedfishEndpoints/${enc(run.args[0])}`, { body }), RFE_TABLE);
    },
  );
  withOutput(update);
  examples(update, ["ochami smd rfe update x1000c1s7b0 --ip 172.16.0.111", "ochami smd rfe update x1000c1s7b0 --enabled false"]);

  const del = act<DeleteOptions, [xnames: string[]]>(
    withConfirm(
      withData(
        new Command("delete")
          .description("delete Redfish endpoints (their component endpoints go too)")
          .argument("[xname...]")
          .option("-a, --all", "delete EVERY Redfish endpoint"),
        '{"RedfishEndpoints":[{"ID":...}]}',
      ),
    ),
    async (run) =>
      deleteItems(run, {
        service: "smd",
        all: "/Inventory/RedfishEndpoints",
        one: (id) => `/Inventory/RedfishEndpoints/${enc(id)}`,
        wrapper: "RedfishEndpoints",
        key: "ID",
        noun: "Redfish endpoint",
      }),
  );
  examples(del, ["ochami smd rfe delete x1000c1s7b0", "ochami smd rfe delete --no-confirm --all"]);
  return rfe.addCommand(get).addCommand(add).addCommand(set).addCommand(update).addCommand(del);
}

/** The options rfeFlags adds. */
interface RfeFlagOptions {
  domain?: string;
  hostname?: string;
  username?: string;
  password?: string;
}

type RfeArgs = [xname: string | undefined, name: string | undefined, ip: string | undefined, mac: string | undefined];

function rfeFlags(cmd: Command): Command {
  return cmd
    .option("--domain <domain>", "DNS domain of the BMC")
    .option("--hostname <hostname>", "host name of the BMC")
    .option("--username <user>", "Redfish user SMD stores")
    .option("--password <password>", "Redfish password SMD stores (visible in `ps`; prefer -d @file)");
}

function rfeItems(run: Run<RfeFlagOptions & DataOptions, RfeArgs>): JsonObject[] {
  const [xname, name, ip, mac] = run.args;
  if (run.opts.data !== undefined || !xname) {
    if (xname) throw new UsageError("pass either positional arguments or -d, not both");
    const items = itemsOf(needData(run, "Redfish endpoints").value, "RedfishEndpoints", "Redfish endpoints");
    for (const r of items) requireField(r, "ID", "Redfish endpoints");
    return items;
  }
  if (!name || !ip || !mac) throw new UsageError("add needs <xname> <name> <ip> <mac> (or -d)");
  const o = run.opts;
  const r: JsonObject = { ID: xname, Name: name, IPAddress: ip, MACAddr: mac };
  if (o.domain) r.Domain = o.domain;
  if (o.hostname) r.Hostname = o.hostname;
  if (o.username) r.User = o.username;
  if (o.password) r.Password = o.password;
  return [r];
}

// ----------------------------------------------------------------------------- iface

const IFACE_TABLE: TableSpec = {
  rows: (d) => listOrOne(d, d, "ID"),
  columns: [
    { header: "ID", value: (i) => i.ID },
    { header: "MAC", value: (i) => i.MACAddress },
    { header: "COMPONENT", value: (i) => i.ComponentID },
    { header: "TYPE", value: (i) => i.Type },
    {
      header: "IPS",
      value: (i) =>
        objectsIn(i.IPAddresses)
          .map((a) => (a.Network ? `${a.IPAddress}(${a.Network})` : a.IPAddress))
          .join(","),
    },
    { header: "DESCRIPTION", value: (i) => i.Description },
  ],
};

/** `net,ip` pairs (upstream's iface add syntax); a bare IP has no network. */
function ipPairs(values: string[]): Array<{ IPAddress: string; Network?: string }> {
  return values.map((v) => {
    const i = v.lastIndexOf(",");
    if (i < 0) return { IPAddress: v.trim() };
    const [net, ip] = [v.slice(0, i).trim(), v.slice(i + 1).trim()];
    if (!ip) throw new UsageError(`'${v}' is not <network>,<ip>`);
    return net ? { IPAddress: ip, Network: net } : { IPAddress: ip };
  });
}

export function ifaceCommand(): Command {
  const iface = new Command("iface").description("Ethernet interfaces: MACs and IPs of components (/Inventory/EthernetInterfaces)");
  examples(iface, ["ochami smd iface get -F table", "ochami smd iface add x1000c1s7b0n0 de:ad:be:ee:ee:f1 management,172.16.0.1"]);

  const get = act<
    OutputOptions & {
      id?: string;
      byIp?: boolean;
      compId?: string[];
      ip?: string[];
      mac?: string[];
      net?: string[];
      type?: string[];
      newerThan?: string;
      olderThan?: string;
    }
  >(
    new Command("get")
      .alias("list")
      .description("all interfaces, those matching the options, or one by --id")
      .option("-i, --id <id>", "one interface by ID (its MAC without separators)")
      .option("--by-ip", "with --id: only its IP addresses")
      .option("--comp-id <xname>", "component xnames (repeatable, or comma-separated)", collect)
      .option("--ip <ip>", "IP addresses (repeatable, or comma-separated)", collect)
      .option("-m, --mac <mac>", "MAC addresses (repeatable, or comma-separated)", collect)
      .option("--net <network>", "networks (repeatable, or comma-separated)", collect)
      .option("--type <type>", "component types, e.g. Node (repeatable, or comma-separated)", collect)
      .option("--newer-than <time>", "updated after this RFC 3339 time")
      .option("--older-than <time>", "updated before this RFC 3339 time"),
    async (run) => {
      const o = run.opts;
      const api = run.ctx.api();
      if (o.byIp && !o.id) throw new UsageError("--by-ip needs --id");
      if (o.id)
        return output(
          run,
          await api.json("smd", "GET", `/Inventory/EthernetInterfaces/${enc(o.id)}${o.byIp ? "/IPAddresses" : ""}`),
          o.byIp ? undefined : IFACE_TABLE,
        );
      output(
        run,
        await api.json("smd", "GET", "/Inventory/EthernetInterfaces", {
          auth: false,
          query: {
            ComponentID: listOption(o.compId),
            IPAddress: listOption(o.ip),
            MACAddress: listOption(o.mac),
            Network: listOption(o.net),
            Type: listOption(o.type),
            NewerThan: o.newerThan,
            OlderThan: o.olderThan,
          },
        }),
        IFACE_TABLE,
      );
    },
  );
  withOutput(get);
  examples(get, [
    "ochami smd iface get",
    "ochami smd iface get --comp-id x1000c1s7b1n0 -F table",
    "ochami smd iface get -i decafc0feeee --by-ip",
  ]);

  const add = act<DataOptions & { description: string }, [compId: string | undefined, mac: string | undefined, pairs: string[]]>(
    withData(
      new Command("add")
        .description("add an interface: component, MAC and <network>,<ip> pairs (or -d with a list)")
        .argument("[comp_id]")
        .argument("[mac]")
        .argument("[net_ip...]", "<network>,<ip> (or just <ip>)")
        .option("-D, --description <text>", "description", "Undescribed Ethernet Interface"),
      "interfaces (a list, or one object)",
    ),
    async (run) => {
      const [compId, mac, pairs] = run.args;
      let items: JsonObject[];
      if (run.opts.data !== undefined || !compId) {
        if (compId) throw new UsageError("pass either positional arguments or -d, not both");
        items = itemsOf(needData(run, "interfaces").value, "EthernetInterfaces", "interfaces");
      } else {
        if (!mac) throw new UsageError("add needs <comp_id> <mac> [<network>,<ip>...]");
        items = [{ ComponentID: compId, MACAddress: mac, Description: run.opts.description, IPAddresses: ipPairs(pairs) }];
      }
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          items,
          (i) => String(field(i, "MACAddress") ?? "?"),
          async (i) => void (await api.call("smd", "POST", "/Inventory/EthernetInterfaces", { body: i })),
        ),
      );
    },
  );
  examples(add, [
    "ochami smd iface add x1000c1s7b0n0 de:ad:be:ee:ee:f1 management,172.16.0.1",
    "ochami smd iface add -D 'BMC port' x1000c1s7b0 de:ca:fc:0f:ee:ee 172.16.0.101",
    "ochami smd iface add -d @ifaces.json",
  ]);

  const update = act<OutputOptions & DataOptions & { compId?: string; description?: string; ip?: string[] }, [id: string]>(
    withData(
      new Command("update")
        .description("change an interface's component, description or IP list (PATCH)")
        .argument("<id>", "interface ID or MAC")
        .option("--comp-id <xname>", "component it belongs to")
        .option("-D, --description <text>")
        .option("--ip <net_ip>", "replace its IPs with these <network>,<ip> pairs (repeatable, or comma-separated)", collect),
      "fields to change",
    ),
    async (run) => {
      const o = run.opts;
      let body: JsonObject = {};
      if (o.data !== undefined) body = itemsOf(needData(run).value, undefined, "fields")[0];
      if (o.compId) body.ComponentID = o.compId;
      if (o.description !== undefined) body.Description = o.description;
      if (o.ip) body.IPAddresses = ipPairs(o.ip);
      if (!Object.keys(body).length) throw new UsageError("nothing to change: pass --comp-id, --description, --ip or -d");
      const id = run.args[0].toLowerCase().replace(/[-:._]/g, "");
      output(run, await run.ctx.api().json("smd", "PATCH", `/Inventory/EthernetInterfaces/${enc(id)}`, { body }), IFACE_TABLE);
    },
  );
  withOutput(update);
  examples(update, [
    "ochami smd iface update deadbeeeeef1 --ip management,172.16.0.11",
    "ochami smd iface update de:ad:be:ee:ee:f1 --comp-id x1000c1s7b0n1",
  ]);

  const del = act<DeleteOptions, [ids: string[]]>(
    withConfirm(
      withData(
        new Command("delete").description("delete interfaces").argument("[id...]").option("-a, --all", "delete EVERY interface"),
        '[{"ID":...}]',
      ),
    ),
    async (run) =>
      deleteItems(run, {
        service: "smd",
        all: "/Inventory/EthernetInterfaces",
        one: (id) => `/Inventory/EthernetInterfaces/${enc(id.toLowerCase().replace(/[-:._]/g, ""))}`,
        wrapper: "EthernetInterfaces",
        key: "ID",
        noun: "interface",
      }),
  );
  examples(del, ["ochami smd iface delete deadbeeeeef1", "ochami smd iface delete --no-confirm --all"]);
  return iface.addCommand(get).addCommand(add).addCommand(update).addCommand(del);
}
