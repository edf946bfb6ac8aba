import { eq, getTableName } from "drizzle-orm";
import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { canonicalHmsType, parseXname } from "../../../shared/xname";
import { isUniqueViolation } from "../../db";
import { componentEndpoints, ethernetInterfaces, redfishEndpoints } from "../../db/schema";
import { createdList, deletedCount } from "../../http/responses";
import { op, type Router, resource } from "../../http/route";
import { each, empty, json, jsonBody, problems, refuse } from "../../http/wire";
import { storedTimestamp } from "../interfaces/model";
import { notifyScn } from "../scn/notify";
import { parseTerms } from "../terms";
import {
  ComponentEndpoint,
  componentEndpointJson,
  type EndpointFields,
  RedfishEndpoint,
  RedfishEndpointPatch,
  RedfishEndpointPut,
  type RedfishEndpointRow,
  RedfishEndpointsPost,
  redfishEndpointJson,
  validateRedfishEndpoint,
} from "./model";
import { type DiscoveredInventory, hasDiscoveryPayload, parseDiscoveredInventory } from "./parser";
import * as store from "./store";

const RFE_URI = "/hsm/v2/Inventory/RedfishEndpoints";
const CONFLICT = "operation would conflict with an existing resource that has the same FQDN or xname ID.";
const FQDN_CONFLICT = "operation would conflict with an existing resource that has the same FQDN";
const tags = ["SMD"];

const INVALID_XNAME = "bad query param: Argument was not a valid xname ID";
const INVALID_TYPE = "bad query param: Argument was not a valid HMS Type";
const xnameOf = (v: string) => parseXname(v)?.id;
const defined = (values: Array<string | undefined>): values is string[] => !values.includes(undefined);

/**
 * SMD's filter values: repeated, OR-ed, and a `!value` excludes. `parse` returns undefined for a
 * value upstream refuses with `message`.
 */
const terms = (parse: (v: string) => string | undefined = (v) => v, message = "") =>
  z
    .array(z.string())
    .transform((values, ctx) => {
      const { include, exclude } = parseTerms(values, parse);
      return defined(include) && defined(exclude) ? { include, exclude } : refuse(ctx, message, values);
    })
    .optional();

const RedfishFilter = z
  .object({
    id: terms(xnameOf, INVALID_XNAME).meta({ description: "xnames; `!x` excludes" }),
    fqdn: terms(),
    type: terms(canonicalHmsType, INVALID_TYPE).meta({ description: "HMS types (NodeBMC, RouterBMC, …)" }),
    uuid: terms(),
    macaddr: terms(),
    ipaddress: terms(),
    laststatus: terms().meta({ description: "DiscoveryInfo.LastDiscoveryStatus (NotYetQueried until Redfish discovery runs)" }),
  })
  .transform(
    (q): store.RedfishFilter => ({
      id: q.id,
      fqdn: q.fqdn,
      type: q.type,
      uuid: q.uuid,
      macAddr: q.macaddr,
      ipAddress: q.ipaddress,
      lastStatus: q.laststatus,
    }),
  );

const ComponentEndpointFilter = z.object({
  id: each(xnameOf, INVALID_XNAME).optional().meta({ description: "xnames" }),
  redfish_ep: each(xnameOf, INVALID_XNAME).optional().meta({ description: "the RedfishEndpoints' xnames" }),
  type: each(canonicalHmsType, INVALID_TYPE).optional().meta({ description: "HMS types" }),
  redfish_type: z.array(z.string()).optional().meta({ description: "Redfish types (ComputerSystem, Manager, …)" }),
});

/** An endpoint in a path; one that is no xname is answered `status` with `detail`. */
const XnamePath = (detail: string, status = 400) =>
  z.object({
    xname: z
      .string()
      .transform((raw, ctx) => xnameOf(raw) ?? refuse(ctx, detail, raw, status))
      .meta({ description: "the endpoint's xname", example: "x1000c1s0b0" }),
  });
/** An xname in a path that may be no xname at all (it is then not found). */
const AnyXnamePath = z.object({ xname: z.string().transform(xnameOf).meta({ description: "an xname", example: "x1000c1s0b0" }) });

const RedfishEndpointArray = z.object({ RedfishEndpoints: z.array(RedfishEndpoint) }).meta({ id: "RedfishEndpointArray" });
const deleted = json(z.object({ code: z.int(), message: z.string() }), "deleted (`deleted N entries`)");

/** A D1 uniqueness failure on create/update means a taken ID, FQDN or interface MAC. */
function conflictOr(err: unknown, detail: string): never {
  if (isUniqueViolation(err)) {
    const mac = String((err as Error)?.message ?? "").includes(getTableName(ethernetInterfaces));
    throw new HttpProblem(
      409,
      mac ? "operation would conflict with an existing component ethernet interface that has the same MAC address." : detail,
    );
  }
  throw err;
}

type Described = { row: RedfishEndpointRow; inventory?: DiscoveredInventory };

/** An endpoint body as stored: the endpoint, and what it says was discovered behind it. */
function described(
  b: EndpointFields & Parameters<typeof hasDiscoveryPayload>[0] & Parameters<typeof parseDiscoveredInventory>[1],
  prefix: string,
  now: string,
): Described {
  const row = validateRedfishEndpoint(b, prefix);
  return { row, inventory: hasDiscoveryPayload(b) ? parseDiscoveredInventory(row.id, b, now) : undefined };
}

export function registerRedfishRoutes(app: Router) {
  resource(app, "/Inventory/RedfishEndpoints", {
    get: op(
      {
        summary: "List Redfish endpoints",
        tags,
        request: { query: RedfishFilter },
        responses: { 200: json(RedfishEndpointArray, "the endpoints"), ...problems(400) },
      },
      async (c) =>
        c.json({ RedfishEndpoints: (await store.listRedfishEndpoints(c.var.db, c.req.valid("query"))).map(redfishEndpointJson) }),
    ),
    post: op(
      {
        summary: "Add Redfish endpoints",
        description:
          "One endpoint, or `RedfishEndpoints`: a list (all or nothing). With SchemaVersion ≥ 1, its Managers and Systems " +
          "become the BMC and node components, their ethernet interfaces and component endpoints. Our difference: upstream " +
          "reads those only for a single endpoint; we read them for each element of the list too. A taken ID, FQDN or MAC " +
          "address is a 409.",
        tags,
        request: { body: jsonBody(RedfishEndpointsPost) },
        responses: {
          201: json(z.array(z.object({ URI: z.string() })), "created: their URIs"),
          204: empty("an empty list: nothing created"),
          ...problems(400, 409),
        },
      },
      async (c) => {
        const b = c.req.valid("json");
        const now = storedTimestamp();
        // Upstream runs its discovery parsers only on a single-object body, so the array form
        // silently drops what an element says about its BMC and nodes. We parse each element as
        // if posted alone, which lets clients import thousands of BMCs in a few requests.
        const items =
          b.RedfishEndpoints !== undefined
            ? (b.RedfishEndpoints ?? []).map((e, i) => {
                if (!e) throw new HttpProblem(400, `couldn't validate endpoint data at idx ${i}: not an object`);
                return described(e, `couldn't validate endpoint data at idx ${i}`, now);
              })
            : [described(b, "couldn't validate endpoint data", now)];
        try {
          await store.insertRedfishEndpoints(c.var.db, items);
        } catch (err) {
          conflictOr(err, CONFLICT);
        }
        return createdList(
          items.map((i) => `${RFE_URI}/${i.row.id}`),
          RFE_URI,
        );
      },
    ),
    delete: op({ summary: "Delete every Redfish endpoint", tags, responses: { 200: deleted, ...problems(404) } }, async (c) => {
      const { count: n, emptied } = await store.deleteRedfishEndpoints(c.var.db);
      notifyScn(c.var, [{ Components: emptied, State: "Empty", Flag: "OK" }]);
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      return deletedCount(n);
    }),
  });

  resource(app, "/Inventory/RedfishEndpoints/Query/{xname}", {
    get: op(
      {
        summary: "Redfish endpoints under an xname",
        description: "As upstream, only `all` and `s0` (the whole system) are implemented.",
        tags,
        request: { params: z.object({ xname: z.string().meta({ example: "all" }) }) },
        responses: { 200: json(RedfishEndpointArray, "the endpoints"), ...problems(400) },
      },
      async (c) => {
        const { xname } = c.req.valid("param");
        if (xname !== "all" && xname !== "s0") throw new HttpProblem(400, "not yet implemented");
        return c.json({ RedfishEndpoints: (await store.listRedfishEndpoints(c.var.db)).map(redfishEndpointJson) });
      },
    ),
  });

  resource(app, "/Inventory/RedfishEndpoints/{xname}", {
    get: op(
      {
        summary: "A Redfish endpoint",
        tags,
        request: { params: AnyXnamePath },
        responses: { 200: json(RedfishEndpoint, "the endpoint"), ...problems(404) },
      },
      async (c) => {
        const { xname: id } = c.req.valid("param");
        const row = id ? await store.getRedfishEndpoint(c.var.db, id) : undefined;
        if (!row) throw new HttpProblem(404, "no such xname.");
        return c.json(redfishEndpointJson(row));
      },
    ),
    put: op(
      {
        summary: "Create or replace a Redfish endpoint",
        description:
          "ochami's --overwrite path: the endpoint and what its body says was discovered behind it (interfaces " +
          "re-pointed to it). The body's ID, if any, must be the URL's.",
        tags,
        request: { params: XnamePath("xname in URL is not valid"), body: jsonBody(RedfishEndpointPut) },
        responses: {
          200: json(RedfishEndpoint, "replaced"),
          201: json(RedfishEndpoint, "created"),
          ...problems(400, 409),
        },
      },
      async (c) => {
        const { xname: id } = c.req.valid("param");
        const b = c.req.valid("json");
        const given = b.ID;
        if (typeof given === "string" && given.trim() !== "" && xnameOf(given) !== id)
          throw new HttpProblem(400, "xname in URL and PUT body do not match");
        const { row, inventory } = described({ ...b, ID: id }, "couldn't validate endpoint data", storedTimestamp());
        const { db } = c.var;
        const existed = (await store.getRedfishEndpoint(db, id)) !== undefined;
        try {
          await store.putRedfishEndpoint(db, row, inventory);
        } catch (err) {
          conflictOr(err, FQDN_CONFLICT);
        }
        return c.json(redfishEndpointJson((await store.getRedfishEndpoint(db, id))!), existed ? 200 : 201);
      },
    ),
    patch: op(
      {
        summary: "Update a Redfish endpoint",
        tags,
        request: { params: XnamePath("xname in URL is not valid"), body: jsonBody(RedfishEndpointPatch) },
        responses: { 200: json(RedfishEndpoint, "the endpoint now"), ...problems(400, 404, 409) },
      },
      async (c) => {
        const { xname: id } = c.req.valid("param");
        const patch = c.req.valid("json");
        const { db } = c.var;
        const current = await store.getRedfishEndpoint(db, id);
        if (!current) throw new HttpProblem(404, `No such entry: ${id}`);
        const fields = redfishEndpointJson(current);
        // A new Hostname/Domain without a new FQDN re-derives the FQDN.
        if ((patch.Hostname !== undefined || patch.Domain !== undefined) && patch.FQDN === undefined) delete fields.FQDN;
        const row = validateRedfishEndpoint({ ...fields, ...patch, ID: id }, "couldn't validate endpoint data");
        row.discoveryInfo = current.discoveryInfo;
        try {
          await store.updateRedfishEndpoint(db, row);
        } catch (err) {
          conflictOr(err, FQDN_CONFLICT);
        }
        return c.json(redfishEndpointJson((await store.getRedfishEndpoint(db, id))!));
      },
    ),
    delete: op(
      {
        summary: "Delete a Redfish endpoint",
        description: "The components it described are set Empty (not deleted); its component endpoints go with it.",
        tags,
        request: { params: XnamePath("Argument was not a valid xname ID") },
        responses: { 200: deleted, ...problems(400, 404) },
      },
      async (c) => {
        const { count: n, emptied } = await store.deleteRedfishEndpoints(c.var.db, eq(redfishEndpoints.id, c.req.valid("param").xname));
        notifyScn(c.var, [{ Components: emptied, State: "Empty", Flag: "OK" }]);
        if (n === 0) throw new HttpProblem(404, "no such xname.");
        return deletedCount(1);
      },
    ),
  });

  // --- component endpoints (created by the endpoint parser; read and delete only) ---
  resource(app, "/Inventory/ComponentEndpoints", {
    get: op(
      {
        summary: "List component endpoints",
        tags,
        request: { query: ComponentEndpointFilter },
        responses: { 200: json(z.object({ ComponentEndpoints: z.array(ComponentEndpoint) }), "the component endpoints"), ...problems(400) },
      },
      async (c) => {
        const q = c.req.valid("query");
        const rows = await store.listComponentEndpoints(c.var.db, {
          id: q.id ?? [],
          redfishEp: q.redfish_ep ?? [],
          type: q.type ?? [],
          redfishType: q.redfish_type ?? [],
        });
        return c.json({ ComponentEndpoints: rows.map((r) => componentEndpointJson(r.ce, r.parentFqdn)) });
      },
    ),
    delete: op(
      {
        summary: "Delete every component endpoint",
        description: "The components they described are set Empty.",
        tags,
        responses: { 200: deleted, ...problems(404) },
      },
      async (c) => {
        const { count: n, emptied } = await store.deleteComponentEndpoints(c.var.db);
        notifyScn(c.var, [{ Components: emptied, State: "Empty", Flag: "OK" }]);
        if (n === 0) throw new HttpProblem(404, "no entries to delete");
        return deletedCount(n);
      },
    ),
  });
  resource(app, "/Inventory/ComponentEndpoints/{xname}", {
    get: op(
      {
        summary: "A component endpoint",
        tags,
        request: {
          params: z.object({
            // Upstream's router refuses an alphanumeric non-xname (400); anything else is not found.
            xname: z
              .string()
              .transform(
                (raw, ctx) =>
                  xnameOf(raw) ??
                  (/^[A-Za-z0-9]+$/.test(raw)
                    ? refuse(ctx, "Argument was not a valid xname ID", raw)
                    : refuse(ctx, "no such xname.", raw, 404)),
              )
              .meta({ description: "the component's xname", example: "x1000c1s0b0n0" }),
          }),
        },
        responses: { 200: json(ComponentEndpoint, "the component endpoint"), ...problems(400, 404) },
      },
      async (c) => {
        const [row] = await store.listComponentEndpoints(c.var.db, { id: [c.req.valid("param").xname] });
        if (!row) throw new HttpProblem(404, "no such xname.");
        return c.json(componentEndpointJson(row.ce, row.parentFqdn));
      },
    ),
    delete: op(
      {
        summary: "Delete a component endpoint",
        description: "The component it described is set Empty.",
        tags,
        request: { params: XnamePath("Argument was not a valid xname ID") },
        responses: { 200: deleted, ...problems(400, 404) },
      },
      async (c) => {
        const { count: n, emptied } = await store.deleteComponentEndpoints(c.var.db, eq(componentEndpoints.id, c.req.valid("param").xname));
        notifyScn(c.var, [{ Components: emptied, State: "Empty", Flag: "OK" }]);
        if (n === 0) throw new HttpProblem(404, "no such xname.");
        return deletedCount(1);
      },
    ),
  });

  // --- service endpoints: only real Redfish discovery fills them; we have none to report ---
  const ServiceEndpoints = json(z.object({ ServiceEndpoints: z.array(z.looseObject({})) }), "none: only Redfish discovery finds them");
  const ServicePath = z.object({ service: z.string().meta({ example: "UpdateService" }) });
  const NO_SERVICE = "no such service under redfish endpoint.";
  resource(app, "/Inventory/ServiceEndpoints", {
    get: op({ summary: "List service endpoints", tags, responses: { 200: ServiceEndpoints } }, (c) => c.json({ ServiceEndpoints: [] })),
    delete: op({ summary: "Delete every service endpoint", tags, responses: problems(404) }, () => {
      throw new HttpProblem(404, "no entries to delete");
    }),
  });
  resource(app, "/Inventory/ServiceEndpoints/{service}", {
    get: op({ summary: "A service's endpoints", tags, request: { params: ServicePath }, responses: { 200: ServiceEndpoints } }, (c) =>
      c.json({ ServiceEndpoints: [] }),
    ),
  });
  const ServiceOfEndpoint = ServicePath.extend({ xname: z.string().meta({ example: "x1000c1s0b0" }) });
  resource(app, "/Inventory/ServiceEndpoints/{service}/RedfishEndpoints/{xname}", {
    get: op({ summary: "A service of a Redfish endpoint", tags, request: { params: ServiceOfEndpoint }, responses: problems(404) }, () => {
      throw new HttpProblem(404, NO_SERVICE);
    }),
    delete: op(
      { summary: "Delete a service of a Redfish endpoint", tags, request: { params: ServiceOfEndpoint }, responses: problems(404) },
      () => {
        throw new HttpProblem(404, NO_SERVICE);
      },
    ),
  });
}
