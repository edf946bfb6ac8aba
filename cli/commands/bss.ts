import { Command } from "commander";
import { EXIT, UsageError } from "../errors";
import { listOption } from "../io/input";
import { asList, type JsonObject, objectsIn } from "../io/json";
import type { TableSpec } from "../io/output";
import { historyCommand } from "./bss-history";
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
import { itemsOf, parseInteger } from "./payload";

/**
 * `ochami bss`: boot parameters, boot scripts, hosts, dumpstate, status (upstream's tree), and
 * the boot history (`bss history`, with our event log and --follow).
 */
export function bssCommand(): Command {
  const bss = new Command("bss")
    .description("boot parameters and iPXE boot scripts (BSS, /boot/v1); boot history")
    .option("--uri <uri>", "BSS base URI, absolute or a path under the cluster URI (default /boot/v1)");
  examples(bss, ["ochami bss boot params get -F table", "ochami bss boot script get -m 52:54:00:be:ef:01", "ochami bss history --follow"]);

  const boot = new Command("boot").description("boot parameters, images and scripts");
  examples(boot, ["ochami bss boot params get", "ochami bss boot script get -x x1000c1s7b1n0"]);
  boot.addCommand(paramsCommand()).addCommand(imageCommand()).addCommand(scriptCommand());

  const hosts = new Command("hosts").description("SMD's nodes as BSS sees them (/hosts)");
  examples(hosts, ["ochami bss hosts get -F table"]);
  const hostsGet = act<OutputOptions & IdentifierOptions>(
    withIdentifiers(new Command("get").alias("list").description("nodes BSS knows, or those matching")),
    async (run) => {
      const o = run.opts;
      output(
        run,
        await run.ctx.api().json("bss", "GET", "/hosts", {
          auth: false,
          query: { name: listOption(o.xname), mac: listOption(o.mac), nid: listOption(o.nid) },
        }),
      );
    },
  );
  withOutput(hostsGet);
  examples(hostsGet, ["ochami bss hosts get", "ochami bss hosts get -x x1000c1s7b1n0 -F yaml"]);
  hosts.addCommand(hostsGet);

  const dumpstate = act<OutputOptions>(
    new Command("dumpstate").description("all of BSS's state: components and boot parameters (/dumpstate)"),
    async (run) => {
      output(run, await run.ctx.api().json("bss", "GET", "/dumpstate", { auth: false }));
    },
  );
  withOutput(dumpstate);
  examples(dumpstate, ["ochami bss dumpstate -F json-pretty"]);

  const status = act<OutputOptions & StatusOptions>(
    new Command("status")
      .description("is BSS up? (/service/status)")
      .option("--all", "/service/status/all")
      .option("--storage", "/service/storage/status")
      .option("--smd", "/service/hsm")
      .option("--version", "/service/version"),
    async (run) => output(run, await run.ctx.api().json("bss", "GET", statusPath(run.opts), { auth: false })),
  );
  withOutput(status);
  examples(status, ["ochami bss status", "ochami bss status --all"]);

  const service = new Command("service").description("BSS service information");
  examples(service, ["ochami bss service status", "ochami bss service version"]);
  // Upstream's flags of both status commands.
  const serviceStatus = act<OutputOptions & StatusOptions>(
    new Command("status")
      .description("/service/status")
      .option("--all", "/service/status/all")
      .option("--storage", "/service/storage/status")
      .option("--smd", "/service/hsm"),
    async (run) => output(run, await run.ctx.api().json("bss", "GET", statusPath(run.opts), { auth: false })),
  );
  const serviceVersion = act<OutputOptions>(new Command("version").description("/service/version"), async (run) =>
    output(run, await run.ctx.api().json("bss", "GET", "/service/version", { auth: false })),
  );
  withOutput(serviceStatus);
  withOutput(serviceVersion);
  examples(serviceStatus, ["ochami bss service status --all"]);
  examples(serviceVersion, ["ochami bss service version"]);
  service.addCommand(serviceStatus).addCommand(serviceVersion);

  return bss.addCommand(boot).addCommand(hosts).addCommand(dumpstate).addCommand(historyCommand()).addCommand(status).addCommand(service);
}

/** The options withIdentifiers adds. */
interface IdentifierOptions {
  xname?: string[];
  mac?: string[];
  nid?: string[];
}

function withIdentifiers(cmd: Command): Command {
  return cmd
    .option("-x, --xname <xname>", "node xnames, SMD roles (Compute) or Default (repeatable, or comma-separated)", collect)
    .option("-m, --mac <mac>", "MAC addresses (repeatable, or comma-separated)", collect)
    .option("-n, --nid <nid>", "NIDs (repeatable, or comma-separated)", collect);
}

// ----------------------------------------------------------------------------- params

const PARAMS_TABLE: TableSpec = {
  columns: [
    { header: "HOSTS", value: (p) => p.hosts },
    { header: "MACS", value: (p) => p.macs },
    { header: "NIDS", value: (p) => p.nids },
    { header: "KERNEL", value: (p) => p.kernel },
    { header: "INITRD", value: (p) => p.initrd },
    { header: "PARAMS", value: (p) => p.params },
  ],
};

/** The options of the params commands that write (`content` adds them). */
interface ParamsOptions extends IdentifierOptions, DataOptions {
  kernel?: string;
  initrd?: string;
  params?: string;
}

/** BootParams from -d (an object, or a list of them) or from the identifier and content flags. */
function bootParamsFrom(run: Run<ParamsOptions>, needContent: boolean): JsonObject[] {
  const o = run.opts;
  if (o.data !== undefined || (!o.xname && !o.mac && !o.nid && !o.kernel && !o.initrd && !o.params && !process.stdin.isTTY)) {
    return itemsOf(needData(run, "boot parameters").value, undefined, "boot parameters");
  }
  const body: JsonObject = {};
  const hosts = listOption(o.xname);
  const macs = listOption(o.mac);
  const nids = listOption(o.nid).map((n) => parseInteger(n, "--nid"));
  if (hosts.length) body.hosts = hosts;
  if (macs.length) body.macs = macs;
  if (nids.length) body.nids = nids;
  for (const k of ["kernel", "initrd", "params"] as const) if (o[k] !== undefined) body[k] = o[k];
  if (!hosts.length && !macs.length && !nids.length && needContent)
    throw new UsageError("say which nodes: -x/--xname, -m/--mac or -n/--nid (or -d)");
  if (needContent && o.kernel === undefined && o.initrd === undefined && o.params === undefined)
    throw new UsageError("nothing to set: pass --kernel, --initrd and/or --params (or -d)");
  return [body];
}

function paramsCommand(): Command {
  const params = new Command("params").description("boot parameters: kernel, initrd and kernel command line per node (/bootparameters)");
  examples(params, [
    "ochami bss boot params get -F table",
    "ochami bss boot params set -x Default --kernel http://172.16.0.254:8080/vmlinuz --params 'ro ip=dhcp'",
  ]);

  const content = (cmd: Command) =>
    withData(withIdentifiers(cmd), "BootParams object (or a list)")
      .option("--kernel <url>", "kernel URL")
      .option("--initrd <url>", "initrd URL")
      .option("-p, --params <params>", "kernel command line");

  const get = act<OutputOptions & IdentifierOptions>(
    withIdentifiers(new Command("get").alias("list").description("all boot parameters, or those of the given nodes")),
    async (run) => {
      const o = run.opts;
      output(
        run,
        await run.ctx
          .api()
          .json("bss", "GET", "/bootparameters", { query: { name: listOption(o.xname), mac: listOption(o.mac), nid: listOption(o.nid) } }),
        PARAMS_TABLE,
      );
    },
  );
  withOutput(get);
  examples(get, [
    "ochami bss boot params get",
    "ochami bss boot params get -m 52:54:00:be:ef:01 -F yaml",
    "ochami bss boot params get -x Default,Compute -F table",
  ]);

  const writer = (name: string, method: string, description: string, needContent: boolean, ex: string[]) => {
    const cmd = act<ParamsOptions>(content(new Command(name).description(description)), async (run) =>
      sendWrites(run, method, bootParamsFrom(run, needContent)),
    );
    return examples(cmd, ex);
  };
  const add = writer("add", "POST", "create boot parameters (fails, writing nothing, if a node has some already)", true, [
    "ochami bss boot params add -m 52:54:00:be:ef:01 --kernel http://172.16.0.254:8080/vmlinuz --initrd http://172.16.0.254:8080/initrd.img --params 'ro ip=dhcp'",
    "ochami bss boot params add -f yaml -d @boot.yaml",
  ]);
  const set = writer("set", "PUT", "create or replace boot parameters: the nodes boot exactly this from now on", true, [
    "ochami bss boot params set -x Default --kernel http://172.16.0.254:8080/vmlinuz --initrd http://172.16.0.254:8080/initrd.img --params 'ro ip=dhcp'",
    "ochami bss boot params set -x Compute --kernel http://172.16.0.254:8080/compute/vmlinuz",
    "ochami bss boot params set -d @boot.json",
  ]);
  const update = writer("update", "PATCH", "change fields of existing boot parameters (PATCH; the others are kept)", true, [
    "ochami bss boot params update -x x1000c1s7b1n0 --params 'ro ip=dhcp console=ttyS0,115200'",
    "ochami bss boot params update -n 1,2,3 --kernel http://172.16.0.254:8080/new/vmlinuz",
  ]);

  const del = act<ParamsOptions & ConfirmOptions>(
    withConfirm(
      content(
        new Command("delete").description(
          "delete the boot parameters of the given nodes, or every entry matching --kernel/--initrd/--params",
        ),
      ),
    ),
    async (run) => {
      const items = bootParamsFrom(run, false);
      if (items.some((p) => !Object.keys(p).length))
        throw new UsageError("say what to delete: -x, -m, -n, --kernel/--initrd/--params, or -d");
      if (!(await confirmed(run, `delete boot parameters of ${items.map(describe).join("; ")}?`))) return EXIT.REQUEST;
      return sendWrites(run, "DELETE", items);
    },
  );
  examples(del, [
    "ochami bss boot params delete -x x1000c1s7b1n0",
    "ochami bss boot params delete --no-confirm -m 52:54:00:be:ef:01,52:54:00:be:ef:02",
  ]);

  return params.addCommand(get).addCommand(add).addCommand(set).addCommand(update).addCommand(del);
}

/**
 * Sends each write and prints which nodes it changed, from the answer's `nodes`, `identifiers`
 * and `unknown` (upstream BSS answers an empty body: then nothing is printed). A write that
 * changed no node is stored but boots nothing yet: a warning, and the exit code says so (1; 4
 * when other items did change nodes).
 */
async function sendWrites(run: Run<ParamsOptions>, method: string, items: JsonObject[]): Promise<number> {
  const api = run.ctx.api();
  let unchanged = 0;
  const r = await forEach(items, describe, async (p) => {
    const report = writeReport((await api.call("bss", method, "/bootparameters", { body: p })).text());
    if (!report) return;
    const prefix = items.length > 1 ? `${describe(p)}: ` : "";
    const unknown = identifierList(report.unknown);
    if (report.nodes.length) {
      const shown = report.nodes.slice(0, MAX_NODES_SHOWN).join(", ");
      const more = report.nodes.length > MAX_NODES_SHOWN ? `, … (${report.nodes.length - MAX_NODES_SHOWN} more)` : "";
      const what = method === "DELETE" ? "no longer boot what was deleted" : "boot it now";
      process.stderr.write(`${prefix}changed ${plural(report.nodes.length, "node")} (they ${what}): ${shown}${more}\n`);
      if (unknown) process.stderr.write(`${prefix}note: ${unknown} name no Node in SMD: stored, they apply once SMD has such a node\n`);
      return;
    }
    unchanged++;
    const why = unknown
      ? `${unknown} name no Node in SMD (stored: they apply once SMD has such a node)`
      : method === "DELETE"
        ? `no node in SMD booted what was deleted`
        : `no node in SMD boots it: the nodes it names have entries that take precedence, or SMD has none`;
    process.stderr.write(`${prefix}warning: changed no node: ${why}\n`);
  });
  return exitFor({ ok: r.ok - unchanged, failed: r.failed + unchanged, lastError: r.lastError });
}

const MAX_NODES_SHOWN = 20;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

interface WriteReport {
  nodes: string[];
  unknown?: JsonObject;
}

/** The answer of a write, when the API says which nodes it changed (ours does; upstream's body is empty). */
function writeReport(text: string): WriteReport | undefined {
  try {
    const body = JSON.parse(text);
    if (body && Array.isArray(body.nodes)) return body as WriteReport;
  } catch {
    /* not a report */
  }
  return undefined;
}

/** `hosts=[a b] macs=[…] nids=[…]` of a {hosts, macs, nids} object; "" when empty. */
function identifierList(ids: JsonObject | undefined): string {
  if (!ids) return "";
  return (["hosts", "macs", "nids"] as const)
    .map((k) => [k, asList(ids[k])] as const)
    .filter(([, v]) => v.length)
    .map(([k, v]) => `${k}=[${v.join(" ")}]`)
    .join(" ");
}

function describe(p: JsonObject): string {
  const ids = [...asList(p.hosts), ...asList(p.macs), ...asList(p.nids).map(String)];
  return ids.length ? ids.join(",") : [p.kernel, p.initrd, p.params].filter(Boolean).join(" ") || "(empty)";
}

// ----------------------------------------------------------------------------- image

function imageCommand(): Command {
  const image = new Command("image").description("the root image nodes boot (the root= kernel parameter)");
  examples(image, ["ochami bss boot image set -x Compute live:http://172.16.0.254:8080/openchami/rocky/test/rootfs-4.18.0"]);
  const set = act<IdentifierOptions, [image: string]>(
    withIdentifiers(
      new Command("set").description("set root=<image> in the boot parameters of the given nodes").argument("<image>", "the root= value"),
    ),
    async (run) => {
      const o = run.opts;
      const image = run.args[0];
      if (/\s/.test(image)) throw new UsageError("the image may not contain spaces");
      const query = { name: listOption(o.xname), mac: listOption(o.mac), nid: listOption(o.nid) };
      if (!query.name.length && !query.mac.length && !query.nid.length) throw new UsageError("say which nodes: -x, -m or -n");
      const api = run.ctx.api();
      const entries = objectsIn(await api.json<unknown>("bss", "GET", "/bootparameters", { query }));
      return exitFor(
        await forEach(entries, describe, async (p) => {
          const tokens = String(p.params ?? "")
            .split(/\s+/)
            .filter((t) => t && !t.startsWith("root="));
          const { "cloud-init": cloudInit, ...rest } = p;
          await api.call("bss", "PUT", "/bootparameters", {
            body: { ...rest, ...(cloudInit ? { "cloud-init": cloudInit } : {}), params: [`root=${image}`, ...tokens].join(" ") },
          });
        }),
      );
    },
  );
  examples(set, ["ochami bss boot image set -x x1000c1s7b1n0 live:http://172.16.0.254:8080/openchami/rocky/test/rootfs-4.18.0"]);
  return image.addCommand(set);
}

// ----------------------------------------------------------------------------- script

function scriptCommand(): Command {
  const script = new Command("script").description("the iPXE script a node gets (/bootscript)");
  examples(script, ["ochami bss boot script get -m 52:54:00:be:ef:01"]);
  const get = act<{
    xname?: string;
    mac?: string;
    nid?: string;
    arch?: string;
    retry?: string;
    timestamp?: string;
    json?: boolean;
  }>(
    new Command("get")
      .description("print the iPXE boot script for a node, as the node would get it")
      .option("-x, --xname <xname>", "node xname")
      .option("-m, --mac <mac>", "MAC address")
      .option("-n, --nid <nid>", "NID")
      .option("--arch <arch>", "iPXE's $" + "{buildarch} (ask as on a retry)")
      .option("--retry <n>", "retry count")
      .option("--timestamp <ts>", "ts= value")
      .option("--json", "upstream's JSON form (json=1)"),
    async (run) => {
      const o = run.opts;
      if ([o.xname, o.mac, o.nid].filter(Boolean).length !== 1) throw new UsageError("give exactly one of -x, -m or -n");
      const res = await run.ctx.api().call("bss", "GET", "/bootscript", {
        auth: false,
        query: { mac: o.mac, name: o.xname, nid: o.nid, arch: o.arch, retry: o.retry, ts: o.timestamp, json: o.json ? "1" : undefined },
      });
      process.stdout.write(res.text());
    },
  );
  examples(get, [
    "ochami bss boot script get -m 52:54:00:be:ef:01",
    "ochami bss boot script get -x x1000c1s7b1n0",
    "ochami bss boot script get -n 1 --json",
  ]);
  return script.addCommand(get);
}

interface StatusOptions {
  all?: boolean;
  storage?: boolean;
  smd?: boolean;
  version?: boolean;
}

/** The status resource the flags name, in upstream's order of precedence. */
function statusPath(o: StatusOptions): string {
  if (o.all) return "/service/status/all";
  if (o.storage) return "/service/storage/status";
  if (o.smd) return "/service/hsm";
  if (o.version) return "/service/version";
  return "/service/status";
}
