import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { canonicalHmsType, parseXname, xnameParent } from "../../../shared/xname";
import { message } from "../../http/responses";
import { op, type Router, resource } from "../../http/route";
import { goObject, json, jsonBody, problems } from "../../http/wire";
import { PARTITION_RE } from "../groups/model";
import { eventJson, eventType, fruJson, historyByKey, locationJson, locationOf, type QueryFormat, systemInventory } from "./model";
import * as store from "./store";

/**
 * /Inventory/Hardware, /Inventory/HardwareByFRU and their History: upstream SMD's hardware
 * inventory, with its statuses and wording (a bad time in a history query is a 400; upstream
 * answers 500).
 */

const tags = ["SMD hardware"];
const loose = z.looseObject({});
const done = json(z.object({ code: z.int(), message: z.string() }), "done");

const list = (description: string) => z.array(z.string()).optional().meta({ description });

/** Upstream's rule for repeated values of a flag: the first one, as Go's strconv.ParseBool reads it. */
function goBool(values: string[] | undefined, detail: string): boolean | undefined {
  const v = values?.[0];
  if (v === undefined) return undefined;
  if (["1", "t", "T", "TRUE", "true", "True"].includes(v)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(v)) return false;
  throw new HttpProblem(400, detail);
}

function xnames(values: string[] | undefined): string[] | undefined {
  return values?.map((v) => {
    const x = parseXname(v);
    if (!x) throw new HttpProblem(400, "Invalid xname");
    return x.id;
  });
}

function types(values: string[] | undefined): string[] | undefined {
  return values?.map((v) => canonicalHmsType(v) ?? fail400("Invalid HMS type"));
}

function partitions(values: string[] | undefined): string[] | undefined {
  return values?.map((v) => {
    const p = v.trim().toLowerCase();
    if (!PARTITION_RE.test(p)) throw new HttpProblem(400, "Invalid partition");
    return p;
  });
}

const FruQuery = {
  type: list("HMS types"),
  manufacturer: list("part of the manufacturer's name, any case"),
  partnumber: list("part numbers"),
  serialnumber: list("serial numbers"),
  fruid: list("FRU IDs"),
};

function fruFilter(q: {
  type?: string[];
  manufacturer?: string[];
  partnumber?: string[];
  serialnumber?: string[];
  fruid?: string[];
}): store.FruFilter {
  return { types: types(q.type), manufacturers: q.manufacturer, partNumbers: q.partnumber, serialNumbers: q.serialnumber, fruIds: q.fruid };
}

const HistoryQuery = {
  eventtype: list("Added, Removed, Scanned or Detected"),
  starttime: list("RFC 3339: events after it"),
  endtime: list("RFC 3339: events before it"),
};

function historyFilter(q: { eventtype?: string[]; starttime?: string[]; endtime?: string[] }): store.HistoryFilter {
  const time = (v: string | undefined) => {
    if (v === undefined) return undefined;
    // Go's time.RFC3339: a date, a time, and a zone (Z or ±hh:mm).
    const ms = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i.test(v) ? Date.parse(v) : Number.NaN;
    if (Number.isNaN(ms)) throw new HttpProblem(400, "Argument was not in a valid RFC3339 time format");
    return ms;
  };
  return {
    eventTypes: q.eventtype?.map((e) => eventType(e) ?? fail400("Invalid HWInvHist event type")),
    afterMs: time(q.starttime?.[0]),
    beforeMs: time(q.endtime?.[0]),
  };
}

function fail400(detail: string): never {
  throw new HttpProblem(400, detail);
}

const HardwareBody = goObject(
  { Hardware: z.array(z.unknown()).optional().meta({ description: "locations, each with its PopulatedFRU" }) },
  { id: "HWInventoryByLocationList" },
  { notObject: "error decoding JSON: body: expected a JSON object" },
);

const XnamePath = z.object({ xname: z.string().meta({ example: "x1000c0s0b0n0" }) });
const FruPath = z.object({ fruid: z.string().meta({ example: "Node.HPE.101920703D.XJJ7679069386" }) });
const HistoryAnswer = json(z.object({ ID: z.string(), History: z.array(loose) }), "the events, oldest first");
const HistoryList = json(z.object({ Components: z.array(z.object({ ID: z.string(), History: z.array(loose) })) }), "events by component");

/** A JSON array of documents already serialised. */
const jsonArray = (docs: string[]) => new Response(`[${docs.join(",")}]`, { headers: { "content-type": "application/json" } });

/** A collection delete's answer, upstream's wording (`deleted N entries`, whatever N). */
const deletedN = (n: number) => (n === 0 ? fail404("no entries to delete") : message(`deleted ${n} entries`));

function fail404(detail: string): never {
  throw new HttpProblem(404, detail);
}

/**
 * An import's bounds: a request of 5,000 locations (about 125 nodes' inventory, 2–3 MB) takes a
 * fraction of a second; much larger ones outgrow the worker's memory while they are parsed and
 * written in one transaction. Larger inventories are imported in several requests.
 */
export const MAX_LOCATIONS_PER_REQUEST = 5_000;
const MAX_IMPORT_BYTES = 8 * 1024 * 1024;

export function registerHardwareRoutes(app: Router) {
  // Before the body is read: a declared size over the bound is refused unread.
  app.use("/Inventory/Hardware", async (c, next) => {
    if (c.req.method === "POST" && Number(c.req.header("content-length") ?? 0) > MAX_IMPORT_BYTES)
      throw new HttpProblem(
        413,
        `a hardware import may be at most ${MAX_IMPORT_BYTES} bytes (${MAX_LOCATIONS_PER_REQUEST} locations); split it`,
      );
    await next();
  });
  // --- history (static paths first) --------------------------------------------------------------
  resource(app, "/Inventory/Hardware/History", {
    get: op(
      {
        summary: "Hardware history by location",
        tags,
        request: { query: z.object({ id: list("xnames"), fruid: list("FRU IDs"), ...HistoryQuery }) },
        responses: { 200: HistoryList, ...problems(400) },
      },
      async (c) => {
        const q = c.req.valid("query");
        const events = await store.listHistory(c.var.db, { ...historyFilter(q), ids: xnames(q.id), fruIds: q.fruid });
        return c.json(historyByKey(events, "id"));
      },
    ),
    delete: op({ summary: "Delete all hardware history", tags, responses: { 200: done, ...problems(404) } }, async (c) =>
      deletedN(await store.deleteHistory(c.var.db)),
    ),
  });
  resource(app, "/Inventory/Hardware/History/{xname}", {
    get: op(
      {
        summary: "The hardware history of a location",
        tags,
        request: { params: XnamePath, query: z.object(HistoryQuery) },
        responses: { 200: HistoryAnswer, ...problems(400) },
      },
      async (c) => {
        const { xname } = c.req.valid("param");
        const id = parseXname(xname)?.id ?? fail400("Invalid xname");
        const events = await store.listHistory(c.var.db, { ...historyFilter(c.req.valid("query")), ids: [id] });
        return c.json({ ID: xname, History: events.map(eventJson) });
      },
    ),
    delete: op(
      {
        summary: "Delete the hardware history of a location",
        tags,
        request: { params: XnamePath },
        responses: { 200: done, ...problems(400, 404) },
      },
      async (c) => {
        const id = parseXname(c.req.valid("param").xname)?.id ?? fail400("Invalid xname");
        return deletedN(await store.deleteHistory(c.var.db, store.historyOfLocation(id)));
      },
    ),
  });
  resource(app, "/Inventory/HardwareByFRU/History", {
    get: op(
      {
        summary: "Hardware history by FRU",
        tags,
        request: { query: z.object({ id: list("xnames"), fruid: list("FRU IDs"), ...HistoryQuery }) },
        responses: { 200: HistoryList, ...problems(400) },
      },
      async (c) => {
        const q = c.req.valid("query");
        const events = await store.listHistory(c.var.db, { ...historyFilter(q), ids: xnames(q.id), fruIds: q.fruid });
        return c.json(historyByKey(events, "fruId"));
      },
    ),
  });
  resource(app, "/Inventory/HardwareByFRU/History/{fruid}", {
    get: op(
      {
        summary: "The hardware history of a FRU",
        tags,
        request: { params: FruPath, query: z.object(HistoryQuery) },
        responses: { 200: HistoryAnswer, ...problems(400) },
      },
      async (c) => {
        const { fruid } = c.req.valid("param");
        const events = await store.listHistory(c.var.db, { ...historyFilter(c.req.valid("query")), fruIds: [fruid] });
        return c.json({ ID: fruid, History: events.map(eventJson) });
      },
    ),
    delete: op(
      { summary: "Delete the hardware history of a FRU", tags, request: { params: FruPath }, responses: { 200: done, ...problems(404) } },
      async (c) => deletedN(await store.deleteHistory(c.var.db, store.historyOfFru(c.req.valid("param").fruid))),
    ),
  });

  // --- locations ---------------------------------------------------------------------------------
  resource(app, "/Inventory/Hardware/Query/{xname}", {
    get: op(
      {
        summary: "Hardware under (or above) an xname, by type",
        description:
          "`all` or `s0` for the whole system, a partition name for its members. With `children` (the default unless " +
          "`parents`), the xname and everything under it; with types too, the locations of those types and everything " +
          "under each. `format=NestNodesOnly` (default) lists a node's processors, memory, … inside the node.",
        tags,
        request: {
          params: XnamePath,
          query: z.object({
            type: list("HMS types"),
            children: list("true (default) or false"),
            parents: list("true: add the xname's ancestors"),
            partition: list("partition names"),
            format: list("NestNodesOnly (default) or FullyFlat"),
          }),
        },
        responses: { 200: json(loose, "a SystemHWInventory: XName, Format and one list per type present"), ...problems(400) },
      },
      async (c) => {
        const { xname } = c.req.valid("param");
        const q = c.req.valid("query");
        const x = parseXname(xname);
        if (!x) throw new HttpProblem(400, "Invalid xname");
        const parts = q.partition ?? [];
        if (x.type === "Partition") parts.push(xname);
        const whole = x.type === "System" || x.type === "All" || x.type === "Partition";
        const t = types(q.type) ?? [];
        const parents = goBool(q.parents, "Invalid boolean for parents") ?? false;
        const children = goBool(q.children, "Invalid boolean for children") ?? !parents;
        let format: QueryFormat = "NestNodesOnly";
        if (q.format?.length) {
          const f = q.format[0].toLowerCase();
          if (f === "fullyflat") format = "FullyFlat";
          else if (f !== "nestnodesonly") throw new HttpProblem(400, "Invalid format");
        }
        const ancestors: string[] = [];
        if (!whole) for (let p = xnameParent(x.id); p && p !== "s0"; p = xnameParent(p)) ancestors.push(p);
        const locations = await store.queryLocations(c.var.db, {
          id: whole ? undefined : x.id,
          ancestors,
          types: t,
          children,
          parents,
          partitions: partitions(parts) ?? [],
        });
        return c.json(systemInventory(xname, format, locations));
      },
    ),
  });

  resource(app, "/Inventory/Hardware", {
    get: op(
      {
        summary: "Hardware locations, filtered",
        tags,
        request: { query: z.object({ id: list("xnames"), ...FruQuery, partition: list("partition names") }) },
        responses: { 200: json(z.array(loose), "the locations, by xname, each with its PopulatedFRU"), ...problems(400) },
      },
      async (c) => {
        const q = c.req.valid("query");
        return jsonArray(
          await store.listLocationDocs(c.var.db, { ...fruFilter(q), ids: xnames(q.id), partitions: partitions(q.partition) }),
        );
      },
    ),
    post: op(
      {
        summary: "Create or update hardware locations and their FRUs",
        description:
          "Each location's type and ordinal come from its xname and its FRU ID from its FRU info " +
          "(`<Type>.<Manufacturer>.<PartNumber>.<SerialNumber>`, else `FRUIDfor<xname>`), as upstream. " +
          "A location whose last history event is not its FRU detected there gets a `Detected` event.",
        tags,
        request: { body: jsonBody(HardwareBody) },
        responses: { 200: done, ...problems(400, 413) },
      },
      async (c) => {
        const hardware = c.req.valid("json").Hardware ?? [];
        if (hardware.length > MAX_LOCATIONS_PER_REQUEST)
          throw new HttpProblem(
            413,
            `a hardware import may hold at most ${MAX_LOCATIONS_PER_REQUEST} locations, got ${hardware.length}; split it`,
          );
        const locations = hardware.map(locationOf);
        await store.storeLocations(c.var.db, locations, Date.now());
        return message(`Created ${locations.length} entries`);
      },
    ),
    delete: op({ summary: "Delete every hardware location", tags, responses: { 200: done, ...problems(404) } }, async (c) =>
      deletedN(await store.deleteAllLocations(c.var.db)),
    ),
  });
  resource(app, "/Inventory/Hardware/{xname}", {
    get: op(
      {
        summary: "A hardware location",
        tags,
        request: { params: XnamePath },
        responses: { 200: json(loose, "the location"), ...problems(404) },
      },
      async (c) => {
        const id = parseXname(c.req.valid("param").xname)?.id;
        const row = id ? await store.getLocation(c.var.db, id) : undefined;
        if (!row) throw new HttpProblem(404, "no such xname.");
        return c.json(locationJson(row));
      },
    ),
    delete: op(
      { summary: "Delete a hardware location", tags, request: { params: XnamePath }, responses: { 200: done, ...problems(404) } },
      async (c) => {
        const id = parseXname(c.req.valid("param").xname)?.id;
        if (!id || !(await store.deleteLocation(c.var.db, id))) throw new HttpProblem(404, "no such xname.");
        return message("deleted 1 entry");
      },
    ),
  });

  // --- FRUs --------------------------------------------------------------------------------------
  resource(app, "/Inventory/HardwareByFRU", {
    get: op(
      {
        summary: "FRUs, filtered",
        tags,
        request: { query: z.object(FruQuery) },
        responses: { 200: json(z.array(loose), "the FRUs, by FRU ID"), ...problems(400) },
      },
      async (c) => jsonArray(await store.listFruDocs(c.var.db, fruFilter(c.req.valid("query")))),
    ),
    delete: op({ summary: "Delete every FRU", tags, responses: { 200: done, ...problems(404) } }, async (c) =>
      deletedN(await store.deleteAllFrus(c.var.db)),
    ),
  });
  resource(app, "/Inventory/HardwareByFRU/{fruid}", {
    get: op(
      { summary: "A FRU", tags, request: { params: FruPath }, responses: { 200: json(loose, "the FRU"), ...problems(404) } },
      async (c) => {
        const fru = await store.getFru(c.var.db, c.req.valid("param").fruid);
        if (!fru) throw new HttpProblem(404, "no such FRU ID.");
        return c.json(fruJson(fru));
      },
    ),
    delete: op(
      {
        summary: "Delete a FRU",
        description: "A location holding it is left without a PopulatedFRU (upstream refuses with a database error).",
        tags,
        request: { params: FruPath },
        responses: { 200: done, ...problems(404) },
      },
      async (c) => {
        if (!(await store.deleteFru(c.var.db, c.req.valid("param").fruid))) throw new HttpProblem(404, "no such FRU ID.");
        return message("deleted 1 entry");
      },
    ),
  });
}
