import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { inList } from "../../db";
import { components } from "../../db/schema";
import type { RequestVariables } from "../../env";
import { canonicalKeys, isPlainObject } from "../../http/json-keys";
import { deletedCount, noContent } from "../../http/responses";
import { op, type Router, resource } from "../../http/route";
import { checked, checkedFirst, empty, goInt, goObject, json, jsonBody, objectOr, opt, problems } from "../../http/wire";
import { canonicalValue, VALID_START_STATES } from "../hms-values";
import { componentWriteChanges, notifyScn, type ScnChange } from "../scn/notify";
import { type ComponentFilter, ComponentFilterQuery, componentFilter, componentFilterFields } from "./filter";
import {
  applyNodeDefaults,
  Component,
  type ComponentInput,
  type ComponentRow,
  componentInput,
  parseComponentInput,
  projectComponent,
} from "./model";
import * as store from "./store";

const tags = ["SMD"];

/** Upstream's wording for a body that is no JSON object, on the routes that word it so. */
const NOT_OBJECT = "error decoding JSON: body: expected a JSON object";

const ComponentList = z.object({ Components: z.array(Component) }).meta({ id: "ComponentArray" });

function listBody(rows: ComponentRow[], f: Pick<ComponentFilter, "projection">) {
  return { Components: rows.map((r) => projectComponent(r, f.projection)) };
}

/**
 * Validates, fills Node defaults from NodeMaps, and stores; first duplicate ID wins. The state
 * change notifications it makes go out after the response.
 */
async function storeComponents(scope: Pick<RequestVariables, "db" | "waiter">, inputs: ComponentInput[], force: boolean) {
  const { db } = scope;
  const byId = new Map<string, ComponentInput>();
  for (const i of inputs) if (!byId.has(i.row.id)) byId.set(i.row.id, i);
  const unique = [...byId.values()];
  const needMaps = unique.filter((i) => (i.row.type === "Node" || i.row.type === "VirtualNode") && (i.missingNid || i.missingRole));
  const maps = await store.loadNodeMaps(
    db,
    needMaps.map((i) => i.row.id),
  );
  const rows = unique.map((i) => applyNodeDefaults(i, maps.get(i.row.id)));
  const before = await store.upsertComponentsReporting(db, rows, force ? "force" : "keep");
  notifyScn(scope, componentWriteChanges(rows, before, force));
}

function requireXname(raw: string, detail = "invalid xname ID"): string {
  const x = parseXname(raw);
  if (!x) throw new HttpProblem(400, detail);
  return x.id;
}

/** A path's xname, normalised; anything else is answered `status` with `detail`. */
const xnameParam = (detail: string, status = 400) =>
  z.object({
    xname: z
      .string()
      .meta({ description: "an xname (any case)", example: "x1000c0s0b0n0" })
      .transform(
        checked((raw: string) => {
          const x = parseXname(raw);
          if (!x) throw new HttpProblem(status, detail);
          return x.id;
        }),
      ),
  });

/** `ComponentIDs` of the Bulk patches: present, and every one a valid xname. */
const ComponentIDs = opt(z.array(z.string()))
  .meta({ description: "the components to patch", example: ["x1000c0s0b0n0"] })
  .transform(
    checked((ids: string[] | null | undefined) => {
      if (!ids?.length) throw new HttpProblem(400, "Missing IDs");
      return ids.map((id) => requireXname(id));
    }),
  );

// --- the per-field patches, shared by the single and Bulk forms -------------------------------

/**
 * What a patch writes: columns to set, and a condition narrowing which components take it. A patch
 * that notifies subscribers says what it announces and when a component counts as changed.
 */
interface Update {
  set: store.ComponentUpdate;
  where?: SQL;
  notify?: { change: Omit<ScnChange, "Components">; differs: SQL };
}

/** A single patch body may repeat the component's ID (any JSON type; only a string is compared). */
const BodyId = z
  .unknown()
  .transform((v) => (typeof v === "string" ? v : undefined))
  .optional()
  .meta({ type: "string", description: "when given, the path's xname" });

/**
 * One field patch: its body's fields and what they mean (`update`, upstream's checks and
 * messages). `bulk` is the body of /State/Components/Bulk<field>: ComponentIDs first, then the
 * fields. `single` is the body of /State/Components/{xname}/<field>, which may repeat the ID: the
 * route compares it with the path's before `update` checks the fields' values, as upstream does
 * (their JSON types are checked before, by the schema).
 */
function fieldPatch<S extends z.ZodRawShape>(summary: string, shape: S, update: (b: z.output<z.ZodObject<S>>) => Update) {
  const bulk = goObject({ ComponentIDs, ...shape }, undefined, { notObject: NOT_OBJECT }).transform(
    checked((b) => ({ ids: (b as { ComponentIDs: string[] }).ComponentIDs, ...update(b as z.output<z.ZodObject<S>>) })),
  );
  const single = goObject({ ID: BodyId, ...shape }, undefined, { notObject: NOT_OBJECT });
  return { summary, bulk, single, update: update as (b: unknown) => Update };
}

/** Writes a patch; the components it changed are announced to SCN subscribers after the response. */
async function applyPatch(scope: Pick<RequestVariables, "db" | "waiter">, ids: string[], { set, where, notify }: Update): Promise<void> {
  if (!notify) {
    await store.updateComponents(scope.db, ids, set, where);
    return;
  }
  const changed = await store.updateChangedComponents(scope.db, ids, set, notify.differs, where);
  notifyScn(scope, [{ Components: changed, ...notify.change }]);
}

/** A required field's value: absent (or null) is upstream's `Missing …`; `empty` also counts "". */
function required<T>(v: T | null | undefined, missing: string, empty = false): T {
  if (v === undefined || v === null || (empty && v === "")) throw new HttpProblem(400, missing);
  return v;
}

/** An HMS value, or `detail`. */
function hmsValue(kind: "State" | "Flag", raw: string, detail: string): string {
  const v = canonicalValue(kind, raw);
  if (!v) throw new HttpProblem(400, detail);
  return v;
}

const NOT_VALID = "a required argument did not match any valid input";

const FIELD_PATCHES = {
  StateData: fieldPatch(
    "Set State and Flag, if the transition is allowed",
    {
      State: opt(z.string()).meta({ description: "HMS state" }),
      Flag: opt(z.string()).meta({ description: "HMS flag; default OK (a Locked flag stays)" }),
      Force: opt(z.boolean()).meta({ description: "change State from any state" }),
    },
    (b) => {
      const state = hmsValue("State", required(b.State, "Missing State", true), "Argument was not a valid HMS State");
      const flag = b.Flag ? hmsValue("Flag", b.Flag, "Argument was not a valid HMS Flag") : "OK";
      // Without Force, only from the start states upstream allows for the target.
      let where: SQL | undefined;
      if (!b.Force) {
        const allowed = VALID_START_STATES[state];
        if (!allowed) throw new HttpProblem(400, "operation not allowed and not forced.");
        where = inList(components.state, allowed);
      }
      // Ready+Warning only marks components that are already Ready (upstream rule).
      if (state === "Ready" && flag === "Warning") where = inList(components.state, ["Ready"]);
      // A Locked flag stays.
      const newFlag = sql`CASE WHEN ${components.flag} = 'Locked' THEN ${components.flag} ELSE ${flag} END`;
      const differs = sql`(${components.state} <> ${state} OR ${components.flag} <> ${newFlag})`;
      return { set: { state, flag: newFlag }, where, notify: { change: { State: state, Flag: flag }, differs } };
    },
  ),
  FlagOnly: fieldPatch("Set Flag", { Flag: opt(z.string()).meta({ description: "HMS flag" }) }, (b) => ({
    set: { flag: hmsValue("Flag", required(b.Flag, "Missing Flag", true), NOT_VALID) },
  })),
  Enabled: fieldPatch("Set Enabled", { Enabled: opt(z.boolean()) }, (b) => {
    const enabled = required(b.Enabled, "Missing Enabled field");
    return { set: { enabled }, notify: { change: { Enabled: enabled }, differs: sql`${components.enabled} <> ${Number(enabled)}` } };
  }),
  SoftwareStatus: fieldPatch("Set SoftwareStatus", { SoftwareStatus: opt(z.string()) }, (b) => {
    const softwareStatus = required(b.SoftwareStatus, "Missing SoftwareStatus");
    return {
      set: { softwareStatus },
      notify: { change: { SoftwareStatus: softwareStatus }, differs: sql`${components.softwareStatus} <> ${softwareStatus}` },
    };
  }),
  Role: fieldPatch(
    "Set Role and SubRole",
    {
      Role: opt(z.string()).meta({ description: "HMS role" }),
      SubRole: opt(z.string()).meta({ description: "HMS subrole; default none" }),
    },
    (b) => {
      const role = canonicalValue("Role", required(b.Role, "Missing Role", true));
      const subRole = b.SubRole ? canonicalValue("SubRole", b.SubRole) : "";
      if (!role || subRole === undefined) throw new HttpProblem(400, NOT_VALID);
      const differs = sql`(${components.role} <> ${role} OR ${components.subRole} <> ${subRole})`;
      return { set: { role, subRole }, notify: { change: { Role: role, SubRole: subRole }, differs } };
    },
  ),
  NID: fieldPatch("Set NID (negative: none)", { NID: opt(goInt) }, (b) => {
    const nid = required(b.NID, "Missing NID");
    return { set: { nid: nid < 0 ? -1 : nid } };
  }),
};

// --- bodies -----------------------------------------------------------------------------------

/** POST's check before any component is read: the first must be an object with an ID. */
const missingComponents = (raw: unknown) => {
  const list = raw ?? [];
  if (!Array.isArray(list)) return undefined;
  if (list.length === 0 || !isPlainObject(list[0]) || !("ID" in canonicalKeys(list[0], ["ID"])))
    return new HttpProblem(400, "Missing Components");
};

const NewComponents = goObject(
  {
    Components: checkedFirst(missingComponents, z.array(componentInput("couldn't validate components"))),
    force: opt(z.boolean()).meta({ description: "existing components get State, Flag, Subtype, NetType, Arch and Class from the body" }),
  },
  { id: "ComponentArrayPost" },
);

/** PUT's Component: the URL names it, so a body's ID of another JSON type is ignored. */
const PutComponent = z.preprocess((raw) => {
  if (!isPlainObject(raw)) return raw;
  const id = canonicalKeys(raw, ["ID"]).ID;
  if (id === undefined || id === null || typeof id === "string") return raw;
  return Object.fromEntries(Object.entries(raw).filter(([k]) => k.toLowerCase() !== "id"));
}, Component);

const PutBody = goObject({
  Component: objectOr("error decoding JSON: Component: expected a JSON object", PutComponent).optional(),
  Force: opt(z.boolean()).meta({ description: "an existing component gets State, Flag, Subtype, NetType, Arch and Class" }),
});

/** BulkNID's check before any entry is read: the first must be an object with a non-empty ID. */
const missingNidEntries = (raw: unknown) => {
  const list = raw ?? [];
  if (!Array.isArray(list)) return undefined;
  if (list.length === 0 || !isPlainObject(list[0]) || !canonicalKeys(list[0], ["ID"]).ID) return new HttpProblem(400, "Missing Components");
};

const NidEntry = goObject({
  ID: opt(z.string()).transform(checked((id: string | null | undefined) => requireXname(id ?? ""))),
  NID: opt(goInt).meta({ description: "negative: none" }),
}).transform(
  checked(({ ID, NID }): [string, number] => {
    if (NID === undefined || NID === null) throw new HttpProblem(400, "NID value missing.  Use NID < 0 to unset.");
    return [ID, NID < 0 ? -1 : NID];
  }),
);

const BulkNidBody = goObject({ Components: checkedFirst(missingNidEntries, z.array(NidEntry)) });

const QueryBody = goObject(
  {
    ComponentIDs: opt(z.array(z.string()))
      .meta({ description: "xnames: each, and its descendants", example: ["x1000c0s0"] })
      .transform(
        checked((ids: string[] | null | undefined) => {
          if (!ids?.length) throw new HttpProblem(400, "Missing IDs");
          return ids.map((id) => requireXname(id, "bad query param: Argument was not a valid xname ID"));
        }),
      ),
    ...componentFilterFields,
  },
  { description: "ComponentIDs, and filter keys as in GET /State/Components's query" },
  { notObject: NOT_OBJECT },
).transform(checked((b) => ({ ids: b.ComponentIDs, filter: componentFilter(b) })));

const NidQueryBody = goObject(
  {
    NIDRanges: opt(z.array(z.string()))
      .meta({ description: "NIDs (`5`) and ranges (`1-10`)", example: ["1", "40-50"] })
      .transform(
        checked((ranges: string[] | null | undefined) => {
          if (!ranges?.length) throw new HttpProblem(400, "Missing NID ranges");
          const nids: number[] = [];
          const nidRanges: Array<[number, number]> = [];
          for (const r of ranges) {
            const m = /^\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?$/.exec(r);
            if (!m) throw new HttpProblem(400, "bad query param: a required argument was not an integer");
            if (m[2] === undefined) nids.push(Number(m[1]));
            else nidRanges.push([Number(m[1]), Number(m[2])]);
          }
          return { nids, nidRanges };
        }),
      ),
    ...componentFilterFields,
  },
  { description: "NIDRanges, and filter keys as in GET /State/Components's query (nid, nid_start and nid_end give way to NIDRanges)" },
  { notObject: NOT_OBJECT },
).transform(
  checked((b): ComponentFilter => {
    const f = componentFilter(b);
    f.nid.include = b.NIDRanges.nids;
    f.nidRanges = b.NIDRanges.nidRanges;
    return f;
  }),
);

const NidParam = z.object({
  nid: z
    .string()
    .meta({ description: "a NID" })
    .transform(
      checked((raw: string) => {
        if (!/^-?[0-9]+$/.test(raw)) throw new HttpProblem(400, "a required argument was not an integer");
        const nid = Number(raw);
        if (nid < 0 || !Number.isSafeInteger(nid)) throw new HttpProblem(400, "An argument was out of range");
        return nid;
      }),
    ),
});

const deleted = json(z.object({ code: z.int(), message: z.string() }), "deleted (`deleted N entries`)");
const listed = json(ComponentList, "the components, by ID");

export function registerComponentRoutes(app: Router) {
  resource(app, "/State/Components", {
    get: op(
      {
        summary: "Components matching a filter",
        tags,
        request: { query: ComponentFilterQuery },
        responses: { 200: listed, ...problems(400) },
      },
      async (c) => {
        const f = c.req.valid("query");
        return c.json(listBody(await store.listComponents(c.var.db, f), f));
      },
    ),
    post: op(
      {
        summary: "Create components",
        description:
          "Existing components are left as they are, unless `force`. A Node without NID or Role gets its NodeMap's, else a NID from its position and Role Compute.",
        tags,
        request: { body: jsonBody(NewComponents) },
        responses: { 204: empty("stored"), ...problems(400) },
      },
      async (c) => {
        const { Components: inputs, force } = c.req.valid("json");
        await storeComponents(c.var, inputs, force ?? false);
        return noContent();
      },
    ),
    delete: op({ summary: "Delete every component", tags, responses: { 200: deleted, ...problems(404) } }, async (c) => {
      const n = await store.deleteAllComponents(c.var.db);
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      return deletedCount(n);
    }),
  });

  // Static segments first: they must win over /State/Components/{xname}.
  for (const [name, patch] of Object.entries(FIELD_PATCHES)) {
    if (name === "NID") continue;
    resource(app, `/State/Components/Bulk${name}`, {
      patch: op(
        {
          summary: `${patch.summary} of many components`,
          tags,
          request: { body: jsonBody(patch.bulk) },
          responses: { 204: empty("patched (IDs that name no component are skipped)"), ...problems(400) },
        },
        async (c) => {
          const { ids, ...update } = c.req.valid("json");
          await applyPatch(c.var, ids, update);
          return noContent();
        },
      ),
    });
  }
  resource(app, "/State/Components/BulkNID", {
    patch: op(
      {
        summary: "Set the NIDs of many components",
        tags,
        request: { body: jsonBody(BulkNidBody) },
        responses: { 204: empty("patched (IDs that name no component are skipped)"), ...problems(400) },
      },
      async (c) => {
        await store.setNids(c.var.db, c.req.valid("json").Components);
        return noContent();
      },
    ),
  });

  resource(app, "/State/Components/Query", {
    post: op(
      {
        summary: "Components under the given xnames, filtered",
        tags,
        request: { body: jsonBody(QueryBody) },
        responses: { 200: listed, ...problems(400) },
      },
      async (c) => {
        const { ids, filter: f } = c.req.valid("json");
        // With a type filter, descendants of the IDs count too; otherwise only the IDs themselves.
        const scope = f.type.include.length || f.type.exclude.length ? store.selfOrDescendantOfAny(ids) : inList(components.id, ids);
        return c.json(listBody(await store.listComponents(c.var.db, f, scope), f));
      },
    ),
  });
  resource(app, "/State/Components/Query/{xname}", {
    get: op(
      {
        summary: "A component and its descendants, filtered",
        tags,
        request: {
          params: z.object({ xname: z.string().meta({ description: "an xname, or all (or s0) for every component" }) }),
          query: ComponentFilterQuery,
        },
        responses: { 200: listed, ...problems(400) },
      },
      async (c) => {
        const f = c.req.valid("query");
        const { xname: raw } = c.req.valid("param");
        const { db } = c.var;
        if (raw === "all" || raw === "s0") return c.json(listBody(await store.listComponents(db, f), f));
        // Checked after the filter, as upstream does.
        const id = requireXname(raw, "bad query param: Argument was not a valid xname ID");
        return c.json(listBody(await store.listComponents(db, f, store.selfOrDescendantOfAny([id])), f));
      },
    ),
  });

  resource(app, "/State/Components/ByNID/Query", {
    post: op(
      {
        summary: "Components by NIDs and NID ranges, filtered",
        tags,
        request: { body: jsonBody(NidQueryBody) },
        responses: { 200: listed, ...problems(400) },
      },
      async (c) => {
        const f = c.req.valid("json");
        return c.json(listBody(await store.listComponents(c.var.db, f), f));
      },
    ),
  });
  resource(app, "/State/Components/ByNID/{nid}", {
    get: op(
      {
        summary: "The component with a NID (the first by ID if several share it)",
        tags,
        request: { params: NidParam },
        responses: { 200: json(Component, "the component"), ...problems(400, 404) },
      },
      async (c) => {
        const row = await store.getComponentByNid(c.var.db, c.req.valid("param").nid);
        if (!row) throw new HttpProblem(404, "no such NID.");
        return c.json(projectComponent(row, "full"));
      },
    ),
  });

  for (const [name, patch] of Object.entries(FIELD_PATCHES)) {
    resource(app, `/State/Components/{xname}/${name}`, {
      patch: op(
        {
          summary: `${patch.summary} of a component`,
          tags,
          request: { params: xnameParam("invalid xname ID"), body: jsonBody(patch.single) },
          responses: { 204: empty("patched (nothing when no such component)"), ...problems(400) },
        },
        async (c) => {
          const { xname: id } = c.req.valid("param");
          const body = c.req.valid("json");
          if (body.ID && parseXname(body.ID)?.id !== id) throw new HttpProblem(400, "ID in URL and PATCH body do not match");
          await applyPatch(c.var, [id], patch.update(body));
          return noContent();
        },
      ),
    });
  }

  resource(app, "/State/Components/{xname}", {
    get: op(
      {
        summary: "A component",
        tags,
        request: { params: xnameParam("no such xname.", 404) },
        responses: { 200: json(Component, "the component"), ...problems(404) },
      },
      async (c) => {
        const row = await store.getComponent(c.var.db, c.req.valid("param").xname);
        if (!row) throw new HttpProblem(404, "no such xname.");
        return c.json(projectComponent(row, "full"));
      },
    ),
    put: op(
      {
        summary: "Create or update a component",
        description: "An existing component is left as it is, unless `Force`.",
        tags,
        request: { params: xnameParam("couldn't validate component: invalid xname ID"), body: jsonBody(PutBody) },
        responses: { 204: empty("stored"), ...problems(400) },
      },
      async (c) => {
        const { xname: urlId } = c.req.valid("param");
        const { Component: comp = {}, Force } = c.req.valid("json");
        if (comp.ID && parseXname(comp.ID)?.id !== urlId) throw new HttpProblem(400, "ID in URL and POST body do not match");
        const input = parseComponentInput({ ...comp, ID: urlId }, "couldn't validate component");
        await storeComponents(c.var, [input], Force ?? false);
        return noContent();
      },
    ),
    delete: op(
      {
        summary: "Delete a component",
        tags,
        request: { params: xnameParam("invalid xname") },
        responses: { 200: deleted, ...problems(400, 404) },
      },
      async (c) => {
        const n = await store.deleteComponent(c.var.db, c.req.valid("param").xname);
        if (n === 0) throw new HttpProblem(404, "no such xname.");
        return deletedCount(1);
      },
    ),
  });
}
