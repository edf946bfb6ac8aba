import { Command } from "commander";
import { EXIT, UsageError } from "../errors";
import { listOption } from "../io/input";
import { asList, at, type JsonObject } from "../io/json";
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
  type NoOptions,
  needData,
  type OutputOptions,
  output,
  withConfirm,
  withData,
  withOutput,
} from "./define";
import { enc, field, itemsOf, requireField } from "./payload";
import { type ComponentFilterOptions, componentQuery, withComponentFilters } from "./smd";

/**
 * Groups and partitions share a shape in SMD (label/name, description, tags, members.ids);
 * one builder makes both command trees: `smd group ...` as upstream, and `smd partition ...`.
 */
interface Kind {
  noun: "group" | "partition";
  /** Collection path: /groups or /partitions. */
  path: string;
  /** Name field: label or name. */
  key: "label" | "name";
  /** GET filter for names: group or partition. */
  filter: string;
}

const GROUP: Kind = { noun: "group", path: "/groups", key: "label", filter: "group" };
const PARTITION: Kind = { noun: "partition", path: "/partitions", key: "name", filter: "partition" };

function tableOf(kind: Kind): TableSpec {
  return {
    rows: (d) => listOrOne(d, d, kind.key),
    columns: [
      { header: kind.key.toUpperCase(), value: (g) => g[kind.key] },
      { header: "DESCRIPTION", value: (g) => g.description },
      { header: "TAGS", value: (g) => g.tags },
      ...(kind === GROUP ? [{ header: "EXCLUSIVE", value: (g: JsonObject) => g.exclusiveGroup }] : []),
      { header: "MEMBERS", value: (g) => at(g.members, "ids") },
    ],
  };
}

export function groupCommand(): Command {
  const cmd = collectionCommand(GROUP);
  // Upstream's spelling of `smd membership get`.
  cmd.addCommand(membershipGet("membership"));
  return cmd;
}

export function partitionCommand(): Command {
  return collectionCommand(PARTITION);
}

function collectionCommand(kind: Kind): Command {
  const { noun, path, key } = kind;
  const root = new Command(noun).description(
    noun === "group" ? "groups of components (/groups)" : "partitions: disjoint sets of components (/partitions)",
  );
  examples(root, [
    `ochami smd ${noun} get -F table`,
    `ochami smd ${noun} add -m x1000c1s7b0n0,x1000c1s7b1n0 compute`,
    `ochami smd ${noun} member get compute`,
  ]);

  const get = act<OutputOptions & { name?: string[]; tag?: string[] }, [names: string[]]>(
    new Command("get")
      .alias("list")
      .description(`all ${noun}s, or those named`)
      .argument(`[${key}...]`)
      .option("--name <name...>", `${noun} names (same as the arguments)`)
      .option("--tag <tag>", "only those with one of these tags (repeatable, or comma-separated)", collect),
    async (run) => {
      const names = [...run.args[0], ...listOption(run.opts.name)].flatMap((n) => listOption(n));
      output(
        run,
        await run.ctx.api().json("smd", "GET", path, { query: { [kind.filter]: names, tag: listOption(run.opts.tag) } }),
        tableOf(kind),
      );
    },
  );
  withOutput(get);
  examples(get, [`ochami smd ${noun} get`, `ochami smd ${noun} get compute -F yaml`, `ochami smd ${noun} get --tag gpu -F table`]);

  const add = act<
    DataOptions & { description?: string; tag?: string[]; member?: string[]; exclusiveGroup?: string },
    [name: string | undefined]
  >(
    withData(
      new Command("add")
        .description(`create ${noun}s`)
        .argument(`[${key}]`)
        .option("-D, --description <text>", "description")
        .option("--tag <tag>", "tags (repeatable, or comma-separated)", collect)
        .option("-m, --member <xname>", "member xnames (repeatable, or comma-separated)", collect),
      `[${noun}s]`,
    ),
    async (run) => {
      const name = run.args[0];
      let items: JsonObject[];
      if (run.opts.data !== undefined || !name) {
        if (name) throw new UsageError("pass either a name or -d, not both");
        items = itemsOf(needData(run, `${noun}s`).value, undefined, `${noun}s`);
        for (const i of items) requireField(i, key, `${noun}s`);
      } else {
        const o = run.opts;
        const g: JsonObject = { [key]: name, description: o.description ?? "", members: { ids: listOption(o.member) } };
        if (o.tag) g.tags = listOption(o.tag);
        if (typeof o.exclusiveGroup === "string") g.exclusiveGroup = o.exclusiveGroup;
        items = [g];
      }
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          items,
          (g) => String(field(g, key)),
          async (g) => void (await api.call("smd", "POST", path, { body: g })),
        ),
      );
    },
  );
  if (noun === "group") add.option("-e, --exclusive-group <name>", "exclusive group: members may be in only one group of it");
  examples(add, [
    `ochami smd ${noun} add -D "compute nodes" -m x1000c1s7b0n0,x1000c1s7b1n0 compute`,
    `ochami smd ${noun} add -d '[{"${key}":"io","members":{"ids":["x1000c1s7b2n0"]}}]'`,
    `ochami smd ${noun} add -f yaml -d @${noun}s.yaml`,
  ]);

  const update = act<DataOptions & { description?: string; tag?: string[] }, [name: string | undefined]>(
    withData(
      new Command("update")
        .description(`change a ${noun}'s description or tags (PATCH; members: \`${noun} member ...\`)`)
        .argument(`[${key}]`)
        .option("-D, --description <text>")
        .option("--tag <tag>", "replace its tags (repeatable, or comma-separated)", collect),
      `[${noun}s]`,
    ),
    async (run) => {
      const name = run.args[0];
      let items: JsonObject[];
      if (run.opts.data !== undefined || !name) {
        if (name) throw new UsageError("pass either a name or -d, not both");
        items = itemsOf(needData(run, `${noun}s`).value, undefined, `${noun}s`);
      } else {
        const body: JsonObject = { [key]: name };
        if (run.opts.description !== undefined) body.description = run.opts.description;
        if (run.opts.tag) body.tags = listOption(run.opts.tag);
        if (Object.keys(body).length === 1) throw new UsageError("nothing to change: pass --description or --tag");
        items = [body];
      }
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          items,
          (g) => String(field(g, key)),
          async (g) => {
            const { members: _ignored, ...patch } = g;
            await api.call("smd", "PATCH", `${path}/${enc(requireField(g, key, `${noun}s`))}`, { body: patch });
          },
        ),
      );
    },
  );
  examples(update, [`ochami smd ${noun} update -D "all compute nodes" compute`, `ochami smd ${noun} update --tag gpu,a100 compute`]);

  const del = act<DataOptions & ConfirmOptions, [names: string[]]>(
    withConfirm(
      withData(new Command("delete").description(`delete ${noun}s (not their members)`).argument(`[${key}...]`), `[{"${key}":...}]`),
    ),
    async (run) => {
      let names = run.args[0].flatMap((n) => listOption(n));
      if (!names.length)
        names = itemsOf(needData(run, `${noun}s to delete`).value, undefined, `${noun}s`).map((g) => requireField(g, key, `${noun}s`));
      if (!(await confirmed(run, `delete ${noun}${names.length === 1 ? "" : "s"} ${names.join(", ")}?`))) return EXIT.REQUEST;
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          names,
          (n) => n,
          async (n) => void (await api.call("smd", "DELETE", `${path}/${enc(n)}`)),
        ),
      );
    },
  );
  examples(del, [`ochami smd ${noun} delete compute`, `ochami smd ${noun} delete --no-confirm old1 old2`]);

  return root.addCommand(get).addCommand(add).addCommand(update).addCommand(del).addCommand(memberCommand(kind));
}

function memberCommand(kind: Kind): Command {
  const { noun, path } = kind;
  const member = new Command("member").description(`members of a ${noun}`);
  examples(member, [`ochami smd ${noun} member get compute`, `ochami smd ${noun} member add compute x1000c1s7b2n0`]);

  const get = act<OutputOptions, [name: string]>(
    new Command("get").alias("list").description(`the members of a ${noun}`).argument("<name>"),
    async (run) => {
      output(run, await run.ctx.api().json("smd", "GET", `${path}/${enc(run.args[0])}/members`), {
        rows: (d) => asList(at(d, "ids")).map((id) => ({ id })),
        columns: [{ header: "ID", value: (r: { id: unknown }) => r.id }],
      });
    },
  );
  withOutput(get);
  examples(get, [`ochami smd ${noun} member get compute`]);

  const add = act<NoOptions, [name: string, xnames: string[]]>(
    new Command("add").description(`add components to a ${noun}`).argument("<name>").argument("<xname...>"),
    async (run) => {
      const [name, ids] = run.args;
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          ids.flatMap((i) => listOption(i)),
          (id) => id,
          async (id) => void (await api.call("smd", "POST", `${path}/${enc(name)}/members`, { body: { id } })),
        ),
      );
    },
  );
  examples(add, [`ochami smd ${noun} member add compute x1000c1s7b2n0 x1000c1s7b3n0`]);

  // Asks first, as upstream's does (--no-confirm skips), as every delete.
  const del = act<ConfirmOptions, [name: string, xnames: string[]]>(
    withConfirm(new Command("delete").description(`remove components from a ${noun}`).argument("<name>").argument("<xname...>")),
    async (run) => {
      const [name, ids] = run.args;
      if (!(await confirmed(run, `remove ${ids.join(", ")} from ${noun} ${name}?`))) return EXIT.REQUEST;
      const api = run.ctx.api();
      return exitFor(
        await forEach(
          ids.flatMap((i) => listOption(i)),
          (id) => id,
          async (id) => void (await api.call("smd", "DELETE", `${path}/${enc(name)}/members/${enc(id)}`)),
        ),
      );
    },
  );
  examples(del, [`ochami smd ${noun} member delete --no-confirm compute x1000c1s7b2n0`]);
  member.addCommand(get).addCommand(add).addCommand(del);

  if (noun === "group") {
    const set = act<NoOptions, [name: string, xnames: string[]]>(
      new Command("set").description("make these exactly the group's members (PUT)").argument("<name>").argument("[xname...]"),
      async (run) => {
        const [name, ids] = run.args;
        await run.ctx
          .api()
          .call("smd", "PUT", `${path}/${enc(name)}/members`, { body: { group: name, ids: ids.flatMap((i) => listOption(i)) } });
      },
    );
    examples(set, [
      "ochami smd group member set compute x1000c1s7b0n0 x1000c1s7b1n0",
      "ochami smd group member set empty-me   # no members",
    ]);
    member.addCommand(set);
  }
  return member;
}

const MEMBERSHIP_TABLE: TableSpec = {
  rows: (d) => listOrOne(d, d, "id"),
  columns: [
    { header: "ID", value: (m) => m.id },
    { header: "GROUPS", value: (m) => m.groupLabels },
    { header: "PARTITION", value: (m) => m.partitionName },
  ],
};

function membershipGet(name: string): Command {
  const get = act<OutputOptions & ComponentFilterOptions & { nid?: string[]; id?: string[] }, [xnames: string[]]>(
    withComponentFilters(
      new Command(name)
        .description("groups and partition of each component (/memberships), or of the given xnames")
        .argument("[xname...]")
        .option("--id <xname>", "xnames, as the arguments (upstream's flag; repeatable, or comma-separated)", collect)
        .option("-n, --nid <nid>", "NIDs (repeatable, or comma-separated)", collect),
    ),
    async (run) => {
      const api = run.ctx.api();
      const ids = [...run.args[0], ...(run.opts.id ?? [])].flatMap((i) => listOption(i));
      if (ids.length === 1) return output(run, await api.json("smd", "GET", `/memberships/${enc(ids[0])}`), MEMBERSHIP_TABLE);
      output(
        run,
        await api.json("smd", "GET", "/memberships", { query: { ...componentQuery(run.opts), id: ids, nid: listOption(run.opts.nid) } }),
        MEMBERSHIP_TABLE,
      );
    },
  );
  withOutput(get);
  examples(get, [
    `ochami smd ${name === "get" ? "membership get" : "group membership"}`,
    `ochami smd ${name === "get" ? "membership get" : "group membership"} x1000c1s7b0n0`,
    "ochami smd membership get --type Node --group compute -F table",
  ]);
  if (name === "get") get.alias("list");
  return get;
}

export function membershipCommand(): Command {
  const membership = new Command("membership").description("which groups and partition each component is in (/memberships)");
  examples(membership, ["ochami smd membership get -F table", "ochami smd membership get x1000c1s7b0n0"]);
  return membership.addCommand(membershipGet("get"));
}
