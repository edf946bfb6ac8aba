import { Command } from "commander";
import { UsageError } from "../errors";
import { listOption } from "../io/input";
import { at, type JsonObject, objectsIn } from "../io/json";
import type { TableSpec } from "../io/output";
import {
  act,
  collect,
  type DataOptions,
  examples,
  needData,
  type OutputOptions,
  output,
  withConfirm,
  withData,
  withOutput,
} from "./define";
import { enc, itemsOf, parseBool } from "./payload";
import { type DeleteOptions, deleteItems } from "./smd";

/**
 * `ochami smd hardware`: SMD's hardware inventory (/Inventory/Hardware, /HardwareByFRU and their
 * History), which upstream's ochami has no command for: get (a location, a list by filters, or
 * what is under an xname), fru, history, add (imports split into requests SMD accepts), delete.
 */

/** SMD takes at most this many locations per import request. */
const LOCATIONS_PER_REQUEST = 5_000;

const fruOf = (l: JsonObject) => (at(l, "PopulatedFRU") ?? {}) as JsonObject;
const infoOf = (o: JsonObject, suffix: string) => (Object.entries(o).find(([k]) => k.endsWith(suffix))?.[1] ?? {}) as JsonObject;

const HARDWARE_TABLE: TableSpec = {
  rows: (d) =>
    Array.isArray(d) ? objectsIn(d) : COLLECTIONS.flatMap((c) => objectsIn(at(d, c))).concat(at(d, "ID") ? [d as JsonObject] : []),
  columns: [
    { header: "ID", value: (l) => l.ID },
    { header: "TYPE", value: (l) => l.Type },
    { header: "FRUID", value: (l) => fruOf(l).FRUID },
    { header: "MANUFACTURER", value: (l) => infoOf(fruOf(l), "FRUInfo").Manufacturer },
    { header: "MODEL", value: (l) => infoOf(fruOf(l), "FRUInfo").Model },
    { header: "SERIAL", value: (l) => infoOf(fruOf(l), "FRUInfo").SerialNumber },
  ],
};

/** The lists of a Query answer (`Nodes`, `Processors`, …): the table shows them flat. */
const COLLECTIONS = [
  "Nodes",
  "NodeEnclosures",
  "NodeBMCs",
  "Processors",
  "NodeAccels",
  "Memory",
  "Drives",
  "NodeHsnNics",
  "Chassis",
  "ComputeModules",
];

const HISTORY_TABLE: TableSpec = {
  rows: (d) =>
    at(d, "Components") !== undefined ? objectsIn(at(d, "Components")).flatMap((c) => objectsIn(c.History)) : objectsIn(at(d, "History")),
  columns: [
    { header: "TIME", value: (e) => e.Timestamp },
    { header: "EVENT", value: (e) => e.EventType },
    { header: "ID", value: (e) => e.ID },
    { header: "FRUID", value: (e) => e.FRUID },
  ],
};

interface GetOptions extends OutputOptions {
  type?: string[];
  manufacturer?: string[];
  serial?: string[];
  partNumber?: string[];
  fruid?: string[];
  partition?: string[];
  query?: boolean;
  children?: string;
  parents?: boolean;
  flat?: boolean;
}

export function hardwareCommand(): Command {
  const hardware = new Command("hardware")
    .alias("hw")
    .description("hardware inventory: locations, FRUs and their history (/Inventory/Hardware)");
  examples(hardware, [
    "ochami smd hardware get --type Processor -F table",
    "ochami smd hardware get --query x1000c0s0b0n0",
    "ochami smd hardware history x1000c0s0b0n0",
  ]);

  const get = act<GetOptions, [xname: string | undefined]>(
    new Command("get")
      .alias("list")
      .description("a location, every location matching the options, or (--query) what is under an xname")
      .argument("[xname]", "a location; with --query, an xname, `all` or a partition")
      .option("--type <type>", "HMS types, e.g. Node, Processor, Memory (repeatable, or comma-separated)", collect)
      .option("--manufacturer <name>", "part of the manufacturer's name, any case (repeatable)", collect)
      .option("--serial <serial>", "serial numbers (repeatable, or comma-separated)", collect)
      .option("--part-number <pn>", "part numbers (repeatable, or comma-separated)", collect)
      .option("--fruid <fruid>", "FRU IDs (repeatable, or comma-separated)", collect)
      .option("--partition <name>", "locations of these partitions' nodes (repeatable)", collect)
      .option("--query", "the xname's hardware: it and everything under it (GET /Inventory/Hardware/Query/<xname>)")
      .option("--children <bool>", "with --query: include what is under the xname (default true)")
      .option("--parents", "with --query: include the xname's ancestors")
      .option("--flat", "with --query: list node parts beside their nodes, not inside them"),
    async (run) => {
      const o = run.opts;
      const api = run.ctx.api();
      const xname = run.args[0];
      if (o.query) {
        const query: Record<string, string | string[] | undefined> = {
          type: listOption(o.type),
          partition: listOption(o.partition),
          children: o.children === undefined ? undefined : String(parseBool(o.children, "--children")),
          parents: o.parents ? "true" : undefined,
          format: o.flat ? "FullyFlat" : undefined,
        };
        return output(run, await api.json("smd", "GET", `/Inventory/Hardware/Query/${enc(xname ?? "all")}`, { query }), HARDWARE_TABLE);
      }
      const filtered = [o.type, o.manufacturer, o.serial, o.partNumber, o.fruid, o.partition].some((v) => v?.length);
      if (xname && !filtered) return output(run, await api.json("smd", "GET", `/Inventory/Hardware/${enc(xname)}`), HARDWARE_TABLE);
      const query = {
        id: xname ? [xname] : [],
        type: listOption(o.type),
        manufacturer: o.manufacturer ?? [],
        serialnumber: listOption(o.serial),
        partnumber: listOption(o.partNumber),
        fruid: listOption(o.fruid),
        partition: listOption(o.partition),
      };
      output(run, await api.json("smd", "GET", "/Inventory/Hardware", { query }), HARDWARE_TABLE);
    },
  );
  withOutput(get);
  examples(get, [
    "ochami smd hardware get x1000c0s0b0n0",
    "ochami smd hardware get --type Memory --manufacturer samsung -F table",
    "ochami smd hardware get --query x1000c0s0 --type Node",
    "ochami smd hardware get --query x1000c0s0b0n0p0 --parents --flat -F table",
  ]);

  const fru = act<OutputOptions & { type?: string[]; manufacturer?: string[] }, [fruid: string | undefined]>(
    new Command("fru")
      .description("a FRU by its ID, or every FRU matching the options (/Inventory/HardwareByFRU)")
      .argument("[fruid]")
      .option("--type <type>", "HMS types (repeatable, or comma-separated)", collect)
      .option("--manufacturer <name>", "part of the manufacturer's name (repeatable)", collect),
    async (run) => {
      const api = run.ctx.api();
      const [fruid] = run.args;
      if (fruid) return output(run, await api.json("smd", "GET", `/Inventory/HardwareByFRU/${enc(fruid)}`));
      output(
        run,
        await api.json("smd", "GET", "/Inventory/HardwareByFRU", {
          query: { type: listOption(run.opts.type), manufacturer: run.opts.manufacturer ?? [] },
        }),
      );
    },
  );
  withOutput(fru);
  examples(fru, ["ochami smd hardware fru --type Processor", "ochami smd hardware fru Memory.Samsung.M321R4GA3BB6CQK.S12345"]);

  const history = act<OutputOptions & { fru?: boolean; event?: string[]; since?: string; until?: string }, [id: string | undefined]>(
    new Command("history")
      .description("which FRU was detected, added or removed where, oldest first")
      .argument("[id]", "a location's xname (or, with --fru, a FRU ID); all when left out")
      .option("--fru", "by FRU rather than by location")
      .option("--event <type>", "Added, Removed, Scanned or Detected (repeatable)", collect)
      .option("--since <time>", "RFC 3339: events after it")
      .option("--until <time>", "RFC 3339: events before it"),
    async (run) => {
      const o = run.opts;
      const [id] = run.args;
      const base = o.fru ? "/Inventory/HardwareByFRU/History" : "/Inventory/Hardware/History";
      const query = { eventtype: listOption(o.event), starttime: o.since, endtime: o.until };
      output(run, await run.ctx.api().json("smd", "GET", id ? `${base}/${enc(id)}` : base, { query }), HISTORY_TABLE);
    },
  );
  withOutput(history);
  examples(history, [
    "ochami smd hardware history x1000c0s0b0n0d3 -F table",
    "ochami smd hardware history --event Removed --since 2026-01-01T00:00:00Z",
  ]);

  const add = act<DataOptions>(
    withData(
      new Command("add").description(`create or update locations and their FRUs, ${LOCATIONS_PER_REQUEST} per request`),
      '{"Hardware":[...]}',
    ),
    async (run) => {
      const locations = itemsOf(needData(run, "hardware inventory").value, "Hardware", "locations");
      if (!locations.length) throw new UsageError("no locations given");
      const api = run.ctx.api();
      for (let i = 0; i < locations.length; i += LOCATIONS_PER_REQUEST)
        await api.call("smd", "POST", "/Inventory/Hardware", { body: { Hardware: locations.slice(i, i + LOCATIONS_PER_REQUEST) } });
      process.stderr.write(`stored ${locations.length} location${locations.length === 1 ? "" : "s"}\n`);
    },
  );
  examples(add, ["ochami smd hardware add -d @inventory.json", "ochami smd hardware add -f yaml -d @inventory.yaml"]);

  const del = act<DeleteOptions, [xnames: string[]]>(
    withConfirm(
      withData(
        new Command("delete")
          .description("delete locations (their FRUs stay)")
          .argument("[xname...]")
          .option("-a, --all", "delete EVERY location"),
        '{"Hardware":[{"ID":...}]}',
      ),
    ),
    async (run) =>
      deleteItems(run, {
        service: "smd",
        all: "/Inventory/Hardware",
        one: (id) => `/Inventory/Hardware/${enc(id)}`,
        wrapper: "Hardware",
        key: "ID",
        noun: "location",
      }),
  );
  examples(del, ["ochami smd hardware delete x1000c0s0b0n0d3", "ochami smd hardware delete --no-confirm --all"]);

  return hardware.addCommand(get).addCommand(fru).addCommand(history).addCommand(add).addCommand(del);
}
