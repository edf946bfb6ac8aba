import { Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { CliError, EXIT, UsageError } from "../errors";
import { formatFor, parseData, readDataText } from "../io/input";
import { at, isObject } from "../io/json";
import { deepMerge, instanceData, renderTemplate, withAliases } from "../render/jinja";
import {
  act,
  type ConfirmOptions,
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
import { enc, field, itemsOf, requireField } from "./payload";

/**
 * `ochami cloud-init`: cluster defaults, groups (incl. local Jinja rendering), per-node data and
 * impersonation, as upstream's tree; plus `defaults set --replace`, `node get info` and
 * `node delete` for our instance-info routes.
 */
export function cloudInitCommand(): Command {
  const ci = new Command("cloud-init")
    .description("cloud-init data for nodes: cluster defaults, groups, per-node data (/cloud-init)")
    .option("--uri <uri>", "cloud-init base URI, absolute or a path under the cluster URI (default /cloud-init)");
  examples(ci, [
    "ochami cloud-init defaults get",
    "ochami cloud-init group set -f yaml -d @groups.yaml",
    "ochami cloud-init group render compute x1000c1s7b1n0",
  ]);
  return ci.addCommand(defaultsCommand()).addCommand(groupCommand()).addCommand(nodeCommand()).addCommand(serviceCommand());
}

const ADMIN = "/admin";

// ----------------------------------------------------------------------------- defaults

function defaultsCommand(): Command {
  const defaults = new Command("defaults").description("cluster-wide defaults: cluster name, short name, NID width, base URL, SSH keys");
  examples(defaults, [
    "ochami cloud-init defaults get -F yaml",
    `ochami cloud-init defaults set -d '{"cluster-name":"demo","short-name":"nid","nid-length":3}'`,
  ]);
  const get = act<OutputOptions>(new Command("get").alias("list").description("print the cluster defaults"), async (run) =>
    output(run, await run.ctx.api().json("cloud-init", "GET", `${ADMIN}/cluster-defaults`)),
  );
  withOutput(get);
  examples(get, ["ochami cloud-init defaults get", "ochami cloud-init defaults get -F yaml"]);
  const set = act<DataOptions & { replace?: boolean }>(
    withData(
      new Command("set")
        .description("set cluster defaults: merged into what is stored (as upstream), or --replace the whole record")
        .option("--replace", "replace every field (clears those not given)"),
      "ClusterDefaults object",
    ),
    async (run) => {
      const value = needData(run, "cluster defaults").value;
      if (!value || typeof value !== "object" || Array.isArray(value)) throw new UsageError("cluster defaults must be one object");
      await run.ctx.api().call("cloud-init", run.opts.replace ? "PUT" : "POST", `${ADMIN}/cluster-defaults`, { body: value });
    },
  );
  examples(set, [
    `ochami cloud-init defaults set -d '{"cluster-name":"demo","short-name":"nid","nid-length":3,"base-url":"http://172.16.0.254:8081/cloud-init"}'`,
    "ochami cloud-init defaults set -f yaml -d @defaults.yaml",
    "ochami cloud-init defaults set --replace -d @defaults.json",
  ]);
  return defaults.addCommand(get).addCommand(set);
}

// ----------------------------------------------------------------------------- groups

type HeaderWhen = "always" | "multiple" | "never";

/** --header (headerOption): one of its choices, "multiple" by default; --headers is upstream's spelling. */
interface HeaderOptions {
  header: HeaderWhen;
  headers?: HeaderWhen;
}

/** Upstream's spelling of --header, `--headers <when>` (commander has no option aliases): read first. */
function headersSpelling(): Option {
  return new Option("--headers <when>", "upstream's spelling of --header").choices(["always", "multiple", "never"]).hideHelp();
}

function headerOption(): Option {
  return new Option("--header <when>", "print a header before each document: always, multiple (default) or never")
    .choices(["always", "multiple", "never"])
    .default("multiple");
}

function printDocuments(docs: Array<{ header: string; body: string }>, when: HeaderWhen) {
  const show = when === "always" || (when === "multiple" && docs.length > 1);
  docs.forEach((d, i) => {
    if (show) process.stdout.write(`--- (${i + 1}/${docs.length}) ${d.header}\n`);
    process.stdout.write(d.body.endsWith("\n") || d.body === "" ? d.body : `${d.body}\n`);
  });
}

/** The groups named, as the API answers them (objects, unless it says otherwise), or all of them. */
async function groupsByName(run: Run, names: string[]): Promise<unknown[]> {
  const api = run.ctx.api();
  if (!names.length) {
    const map = await api.json<unknown>("cloud-init", "GET", `${ADMIN}/groups`);
    return Object.entries(isObject(map) ? map : {}).map(([name, g]) => ({ name, ...(isObject(g) ? g : {}) }));
  }
  const list: unknown[] = [];
  for (const n of names) list.push(await api.json<unknown>("cloud-init", "GET", `${ADMIN}/groups/${enc(n)}`));
  return list;
}

/** A group's cloud-config text, base64-decoded when stored so. */
function groupContent(g: unknown): string {
  const content = at(g, "file", "content");
  const text = typeof content === "string" ? content : "";
  return at(g, "file", "encoding") === "base64" ? Buffer.from(text, "base64").toString("utf8") : text;
}

function groupCommand(): Command {
  const group = new Command("group").description("cloud-init groups: meta-data and cloud-config per SMD group");
  examples(group, [
    "ochami cloud-init group get raw",
    "ochami cloud-init group set -f yaml -d @groups.yaml",
    "ochami cloud-init group render compute x1000c1s7b1n0",
  ]);

  const get = new Command("get").alias("list").description("print groups: raw, their cloud-config, or their meta-data");
  examples(get, [
    "ochami cloud-init group get raw -F yaml",
    "ochami cloud-init group get config compute",
    "ochami cloud-init group get meta-data",
  ]);
  const raw = act<OutputOptions, [names: string[]]>(
    new Command("raw").description("the groups as stored (all, or those named)").argument("[name...]"),
    async (run) => output(run, await groupsByName(run, run.args[0])),
  );
  withOutput(raw);
  examples(raw, ["ochami cloud-init group get raw", "ochami cloud-init group get raw compute -F yaml"]);
  const config = act<HeaderOptions, [names: string[]]>(
    new Command("config")
      .description("the cloud-config file of each group (decoded)")
      .argument("[name...]")
      .addOption(headerOption())
      .addOption(headersSpelling()),
    async (run) => {
      const groups = await groupsByName(run, run.args[0]);
      printDocuments(
        groups.map((g) => ({ header: `group=${at(g, "name")}`, body: groupContent(g) })),
        run.opts.headers ?? run.opts.header,
      );
    },
  );
  examples(config, ["ochami cloud-init group get config compute", "ochami cloud-init group get config --header always"]);
  const meta = act<OutputOptions, [names: string[]]>(
    new Command("meta-data").description("the meta-data of each group").argument("[name...]"),
    async (run) => {
      const groups = await groupsByName(run, run.args[0]);
      output(
        run,
        groups.map((g) => ({ name: at(g, "name"), "meta-data": at(g, "meta-data") ?? {} })),
      );
    },
  );
  withOutput(meta);
  examples(meta, ["ochami cloud-init group get meta-data", "ochami cloud-init group get meta-data compute -F yaml"]);
  get.addCommand(raw).addCommand(config).addCommand(meta);

  const writer = (name: string, method: "POST" | "PUT", description: string, ex: string[]) => {
    const cmd = act<DataOptions>(withData(new Command(name).description(description), "a list of groups"), async (run) => {
      const groups = itemsOf(needData(run, "groups").value, undefined, "groups");
      for (const g of groups) requireField(g, "name", "groups");
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          groups,
          (g) => String(field(g, "name")),
          async (g) => {
            const path = method === "POST" ? `${ADMIN}/groups` : `${ADMIN}/groups/${enc(String(field(g, "name")))}`;
            await api.call("cloud-init", method, path, { body: g });
          },
        ),
      );
    });
    return examples(cmd, ex);
  };
  const add = writer("add", "POST", "create groups (409 for one that exists)", [
    "ochami cloud-init group add -f yaml -d @groups.yaml",
    `ochami cloud-init group add -d '[{"name":"compute","meta-data":{"syslog":"172.16.0.254"}}]'`,
  ]);
  const set = writer("set", "PUT", "create or replace groups (PUT per group)", [
    "ochami cloud-init group set -f yaml -d @groups.yaml",
    "ochami cloud-init group set -d @groups.json",
  ]);

  const del = act<DataOptions & ConfirmOptions, [names: string[]]>(
    withConfirm(withData(new Command("delete").description("delete groups").argument("[name...]"), '[{"name":...}]')),
    async (run) => {
      let names = run.args[0];
      if (!names.length)
        names = itemsOf(needData(run, "groups to delete").value, undefined, "groups").map((g) => requireField(g, "name", "groups"));
      if (!(await confirmed(run, `delete cloud-init group${names.length === 1 ? "" : "s"} ${names.join(", ")}?`))) return EXIT.REQUEST;
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          names,
          (n) => n,
          async (n) => void (await api.call("cloud-init", "DELETE", `${ADMIN}/groups/${enc(n)}`)),
        ),
      );
    },
  );
  examples(del, ["ochami cloud-init group delete compute", "ochami cloud-init group delete --no-confirm -d @groups.yaml -f yaml"]);

  const render = act<{ extraVars?: string; formatInput?: string }, [group: string, node: string]>(
    new Command("render")
      .description("render a group's cloud-config for a node (Jinja, locally), as cloud-init on that node would")
      .argument("<group>")
      .argument("<node>", "node xname")
      .option("-e, --extra-vars <vars>", "extra variables (merged over the node's): JSON/YAML, @file or @-")
      .option("-f, --format-input <format>", "format of -e: json or yaml"),
    async (run) => {
      const [groupName, node] = run.args;
      const api = run.ctx.api();
      const file = (await api.call("cloud-init", "GET", `${ADMIN}/impersonation/${enc(node)}/${enc(groupName)}.yaml`)).text();
      if (!file.trim()) {
        process.stderr.write(`warning: the cloud-config of group ${groupName} is empty for node ${node}\n`);
        return;
      }
      const metaText = (await api.call("cloud-init", "GET", `${ADMIN}/impersonation/${enc(node)}/meta-data`)).text();
      let vars = withAliases(instanceData(parseYaml(metaText) ?? {}));
      if (run.opts.extraVars !== undefined) {
        const src = readDataText(run.opts.extraVars, "extra variables")!;
        const extra = parseData(src.text, formatFor(run.opts.formatInput, src.path, run.ctx.inputFormat()), src.from);
        if (!isObject(extra)) throw new UsageError("--extra-vars must be an object");
        vars = deepMerge(vars, extra);
      }
      try {
        process.stdout.write(await renderTemplate(file, vars));
      } catch (err) {
        throw new CliError(`cannot render group ${groupName}: ${(err as Error).message.replace(/\s+/g, " ")}`);
      }
    },
  );
  examples(render, [
    "ochami cloud-init group render compute x1000c1s7b1n0",
    `ochami cloud-init group render -e '{"v1":{"variant":"rocky"}}' compute x1000c1s7b1n0`,
    "ochami cloud-init group render -e @vars.yaml -f yaml compute x1000c1s7b1n0",
  ]);
  return group.addCommand(get).addCommand(add).addCommand(set).addCommand(del).addCommand(render);
}

// ----------------------------------------------------------------------------- nodes

function nodeCommand(): Command {
  const node = new Command("node").description("per-node data: what a node receives (impersonation), instance-info");
  examples(node, [
    "ochami cloud-init node get meta-data x1000c1s7b1n0",
    "ochami cloud-init node get vendor-data x1000c1s7b1n0",
    `ochami cloud-init node set -d '[{"id":"x1000c1s7b1n0","local-hostname":"login1"}]'`,
  ]);

  const get = new Command("get")
    .alias("list")
    .description("what nodes receive: meta-data, user-data, vendor-data, a group's file; or their instance-info");
  examples(get, ["ochami cloud-init node get meta-data x1000c1s7b1n0", "ochami cloud-init node get group x1000c1s7b1n0 compute"]);

  const metaData = act<OutputOptions, [nodes: string[]]>(
    new Command("meta-data").description("the meta-data of nodes (parsed; printed in -F format)").argument("<node...>"),
    async (run) => {
      const api = run.ctx.api();
      const docs: unknown[] = [];
      for (const id of run.args[0])
        docs.push(parseYaml((await api.call("cloud-init", "GET", `${ADMIN}/impersonation/${enc(id)}/meta-data`)).text()));
      output(run, docs);
    },
  );
  withOutput(metaData);
  examples(metaData, [
    "ochami cloud-init node get meta-data x1000c1s7b1n0 -F yaml",
    "ochami cloud-init node get meta-data x1000c1s7b1n0 x1000c1s7b2n0",
  ]);

  const rawDoc = (kind: "user-data" | "vendor-data") => {
    const cmd = act<HeaderOptions, [nodes: string[]]>(
      new Command(kind)
        .description(`the ${kind} of nodes, as served`)
        .argument("<node...>")
        .addOption(headerOption())
        .addOption(headersSpelling()),
      async (run) => {
        const api = run.ctx.api();
        const docs = [];
        for (const id of run.args[0])
          docs.push({
            header: `node=${id}`,
            body: (await api.call("cloud-init", "GET", `${ADMIN}/impersonation/${enc(id)}/${kind}`)).text(),
          });
        printDocuments(docs, run.opts.headers ?? run.opts.header);
      },
    );
    return examples(cmd, [
      `ochami cloud-init node get ${kind} x1000c1s7b1n0`,
      `ochami cloud-init node get ${kind} --header never x1000c1s7b1n0 x1000c1s7b2n0`,
    ]);
  };

  const groupFile = act<HeaderOptions, [node: string, groups: string[]]>(
    new Command("group")
      .description("a group's cloud-config as a node gets it (unrendered)")
      .argument("<node>")
      .argument("<group...>")
      .addOption(headerOption())
      .addOption(headersSpelling()),
    async (run) => {
      const [id, groups] = run.args;
      const api = run.ctx.api();
      const docs = [];
      for (const g of groups)
        docs.push({
          header: `node=${id} group=${g}`,
          body: (await api.call("cloud-init", "GET", `${ADMIN}/impersonation/${enc(id)}/${enc(g)}.yaml`)).text(),
        });
      printDocuments(docs, run.opts.headers ?? run.opts.header);
    },
  );
  examples(groupFile, [
    "ochami cloud-init node get group x1000c1s7b1n0 compute",
    "ochami cloud-init node get group x1000c1s7b1n0 compute slurm",
  ]);

  const info = act<OutputOptions, [nodes: string[]]>(
    new Command("info").description("stored instance-info (per-node overrides): all, or of the given nodes").argument("[node...]"),
    async (run) => {
      const api = run.ctx.api();
      const ids = run.args[0];
      if (!ids.length) return output(run, await api.json<unknown>("cloud-init", "GET", `${ADMIN}/instance-info`));
      const list: unknown[] = [];
      for (const id of ids) list.push(await api.json<unknown>("cloud-init", "GET", `${ADMIN}/instance-info/${enc(id)}`));
      output(run, list);
    },
  );
  withOutput(info);
  examples(info, ["ochami cloud-init node get info", "ochami cloud-init node get info x1000c1s7b1n0 -F yaml"]);
  get.addCommand(metaData).addCommand(rawDoc("user-data")).addCommand(rawDoc("vendor-data")).addCommand(groupFile).addCommand(info);

  const set = act<DataOptions>(
    withData(
      new Command("set").description("set instance-info of nodes (a list of objects with id; PUT per node)"),
      "a list of instance-info",
    ),
    async (run) => {
      const items = itemsOf(needData(run, "instance-info").value, undefined, "instance-info");
      for (const i of items) requireField(i, "id", "instance-info");
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          items,
          (i) => String(field(i, "id")),
          async (i) => void (await api.call("cloud-init", "PUT", `${ADMIN}/instance-info/${enc(String(field(i, "id")))}`, { body: i })),
        ),
      );
    },
  );
  examples(set, [
    `ochami cloud-init node set -d '[{"id":"x1000c1s7b1n0","local-hostname":"login1"}]'`,
    "ochami cloud-init node set -f yaml -d @nodes-info.yaml",
  ]);

  const del = act<ConfirmOptions, [nodes: string[]]>(
    withConfirm(new Command("delete").description("delete the instance-info of nodes").argument("<node...>")),
    async (run) => {
      const ids = run.args[0];
      if (!(await confirmed(run, `delete instance-info of ${ids.join(", ")}?`))) return EXIT.REQUEST;
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          ids,
          (i) => i,
          async (i) => void (await api.call("cloud-init", "DELETE", `${ADMIN}/instance-info/${enc(i)}`)),
        ),
      );
    },
  );
  examples(del, ["ochami cloud-init node delete x1000c1s7b1n0"]);
  return node.addCommand(get).addCommand(set).addCommand(del);
}

// ----------------------------------------------------------------------------- service

function serviceCommand(): Command {
  const service = new Command("service").description("cloud-init server status");
  examples(service, ["ochami cloud-init service status", "ochami cloud-init service version"]);
  const status = act<OutputOptions & { quiet?: boolean; api?: boolean }>(
    new Command("status")
      .description("is the cloud-init server up? (GET /version)")
      .addOption(new Option("-q, --quiet", "print nothing; exit 0 when up, 1 when not").conflicts("api"))
      // Upstream's --api prints the server's OpenAPI document; this API serves one for all its services.
      .option("--api", "print the API's OpenAPI document (GET /openapi.json)"),
    async (run) => {
      if (run.opts.api) return output(run, await run.ctx.api().json("root", "GET", "/openapi.json", { auth: false }));
      const res = await run.ctx.api().send("cloud-init", "GET", "/version", { auth: false });
      const up = res.status < 400;
      if (!run.opts.quiet)
        process.stdout.write(up ? "cloud-init is running\n" : `cloud-init is not running: ${res.status} ${res.statusText}\n`);
      return up ? EXIT.OK : EXIT.REQUEST;
    },
  );
  withOutput(status);
  examples(status, ["ochami cloud-init service status", "ochami cloud-init service status -q && echo up"]);
  const version = act<OutputOptions>(new Command("version").description("the server's version (GET /version)"), async (run) =>
    output(run, await run.ctx.api().json("cloud-init", "GET", "/version", { auth: false })),
  );
  withOutput(version);
  examples(version, ["ochami cloud-init service version -F yaml"]);
  return service.addCommand(status).addCommand(version);
}
