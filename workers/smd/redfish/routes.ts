import { eq } from "drizzle-orm";
import type { Context, Hono } from "hono";
import { HttpProblem } from "../../../shared/problem";
import { canonicalHmsType, parseXname } from "../../../shared/xname";
import { database, isUniqueViolation } from "../../db";
import { componentEndpoints, redfishEndpoints } from "../../db/schema";
import { readJson } from "../../http/body";
import { objectBody, optArray } from "../../http/decode";
import { isPlainObject } from "../../http/json-keys";
import { Query } from "../../http/query";
import { createdList, deletedCount } from "../../http/responses";
import { param, resource } from "../../http/routes";
import { storedTimestamp } from "../interfaces/model";
import { parseTerms } from "../terms";
import { componentEndpointJson, type RedfishEndpointRow, RFE_KEYS, redfishEndpointJson, validateRedfishEndpoint } from "./model";
import { hasDiscoveryPayload, parseDiscoveredInventory } from "./parser";
import * as store from "./store";

const dbOf = (c: Context) => database(c.env.DB);
const RFE_URI = "/hsm/v2/Inventory/RedfishEndpoints";
const CONFLICT = "operation would conflict with an existing resource that has the same FQDN or xname ID.";

const terms = (values: string[], parse: (v: string) => string = (v) => v) => parseTerms(values, parse);

function parseRfeFilter(q: Query): store.RedfishFilter {
  return {
    id: terms(q.all("id"), (v) => {
      const x = parseXname(v);
      if (!x) throw new HttpProblem(400, "bad query param: Argument was not a valid xname ID");
      return x.id;
    }),
    fqdn: terms(q.all("fqdn")),
    type: terms(q.all("type"), (v) => {
      const t = canonicalHmsType(v);
      if (!t) throw new HttpProblem(400, "bad query param: Argument was not a valid HMS Type");
      return t;
    }),
    uuid: terms(q.all("uuid")),
    macAddr: terms(q.all("macaddr")),
    ipAddress: terms(q.all("ipaddress")),
    lastStatus: terms(q.all("laststatus")),
  };
}

/** A D1 uniqueness failure on create/update means a taken ID, FQDN or interface MAC. */
function conflictOr(err: unknown, detail: string): never {
  if (isUniqueViolation(err)) {
    const mac = /ethernet_interfaces/.test(String((err as Error)?.message ?? ""));
    throw new HttpProblem(
      409,
      mac ? "operation would conflict with an existing component ethernet interface that has the same MAC address." : detail,
    );
  }
  throw err;
}

export function registerRedfishRoutes(app: Hono<any>) {
  resource(app, "/Inventory/RedfishEndpoints", {
    GET: async (c) => {
      const rows = await store.listRedfishEndpoints(dbOf(c), parseRfeFilter(Query.of(c.req.raw)));
      return c.json({ RedfishEndpoints: rows.map(redfishEndpointJson) });
    },
    POST: async (c) => {
      const body = await readJson(c.req.raw);
      if (!isPlainObject(body)) throw new HttpProblem(400, "error decoding JSON: body: expected a JSON object");
      const wrapped = objectBody(body, ["RedfishEndpoints"] as const).RedfishEndpoints;
      const now = storedTimestamp();
      let items: Array<{ row: RedfishEndpointRow; inventory?: ReturnType<typeof parseDiscoveredInventory> }>;
      if (wrapped !== undefined) {
        items = (optArray(wrapped, "RedfishEndpoints") ?? []).map((raw, i) => {
          if (!isPlainObject(raw)) throw new HttpProblem(400, `couldn't validate endpoint data at idx ${i}: not an object`);
          const row = validateRedfishEndpoint(raw, `RedfishEndpoints[${i}]`, `couldn't validate endpoint data at idx ${i}`);
          // Upstream runs its discovery parsers only on a single-object body, so the array form
          // silently drops what an element says about its BMC and nodes. We parse each element as
          // if posted alone, which lets clients import thousands of BMCs in a few requests.
          return { row, inventory: hasDiscoveryPayload(raw) ? parseDiscoveredInventory(row.id, raw, now) : undefined };
        });
      } else {
        const row = validateRedfishEndpoint(body, "body", "couldn't validate endpoint data");
        items = [{ row, inventory: hasDiscoveryPayload(body) ? parseDiscoveredInventory(row.id, body, now) : undefined }];
      }
      try {
        await store.insertRedfishEndpoints(dbOf(c), items);
      } catch (err) {
        conflictOr(err, CONFLICT);
      }
      return createdList(
        items.map((i) => `${RFE_URI}/${i.row.id}`),
        RFE_URI,
      );
    },
    DELETE: async (c) => {
      const n = await store.deleteRedfishEndpoints(dbOf(c));
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      return deletedCount(n);
    },
  });

  resource(app, "/Inventory/RedfishEndpoints/Query/:xname", {
    GET: async (c) => {
      const id = param(c, "xname");
      if (id !== "all" && id !== "s0") throw new HttpProblem(400, "not yet implemented");
      return c.json({ RedfishEndpoints: (await store.listRedfishEndpoints(dbOf(c))).map(redfishEndpointJson) });
    },
  });

  resource(app, "/Inventory/RedfishEndpoints/:xname", {
    GET: async (c) => {
      const id = parseXname(param(c, "xname"))?.id;
      const row = id ? await store.getRedfishEndpoint(dbOf(c), id) : undefined;
      if (!row) throw new HttpProblem(404, "no such xname.");
      return c.json(redfishEndpointJson(row));
    },
    /** Create or replace (ochami's --overwrite path). 200 with the endpoint; 201 when it was created. */
    PUT: async (c) => {
      const x = parseXname(param(c, "xname"));
      if (!x) throw new HttpProblem(400, "xname in URL is not valid");
      const body = await readJson(c.req.raw);
      if (!isPlainObject(body)) throw new HttpProblem(400, "error decoding JSON: body: expected a JSON object");
      const given = objectBody(body, ["ID"] as const).ID;
      if (typeof given === "string" && given.trim() !== "" && parseXname(given)?.id !== x.id)
        throw new HttpProblem(400, "xname in URL and PUT body do not match");
      const row = validateRedfishEndpoint({ ...body, ID: x.id }, "body", "couldn't validate endpoint data");
      const db = dbOf(c);
      const existed = (await store.getRedfishEndpoint(db, x.id)) !== undefined;
      const inventory = hasDiscoveryPayload(body) ? parseDiscoveredInventory(x.id, body, storedTimestamp()) : undefined;
      try {
        await store.putRedfishEndpoint(db, row, inventory);
      } catch (err) {
        conflictOr(err, "operation would conflict with an existing resource that has the same FQDN");
      }
      return c.json(redfishEndpointJson((await store.getRedfishEndpoint(db, x.id))!), existed ? 200 : 201);
    },
    PATCH: async (c) => {
      const x = parseXname(param(c, "xname"));
      if (!x) throw new HttpProblem(400, "xname in URL is not valid");
      const body = await readJson(c.req.raw);
      if (!isPlainObject(body)) throw new HttpProblem(400, "error decoding JSON: body: expected a JSON object");
      const db = dbOf(c);
      const current = await store.getRedfishEndpoint(db, x.id);
      if (!current) throw new HttpProblem(404, `No such entry: ${x.id}`);
      const currentJson = redfishEndpointJson(current) as Record<string, unknown>;
      const patch = objectBody(body, RFE_KEYS);
      // A new Hostname/Domain without a new FQDN re-derives the FQDN.
      if ((patch.Hostname !== undefined || patch.Domain !== undefined) && patch.FQDN === undefined) delete currentJson.FQDN;
      const merged = { ...currentJson, ...patch, ID: x.id };
      const row = validateRedfishEndpoint(merged, "body", "couldn't validate endpoint data");
      row.discoveryInfo = current.discoveryInfo;
      try {
        await store.updateRedfishEndpoint(db, row);
      } catch (err) {
        conflictOr(err, "operation would conflict with an existing resource that has the same FQDN");
      }
      return c.json(redfishEndpointJson((await store.getRedfishEndpoint(db, x.id))!));
    },
    DELETE: async (c) => {
      const x = parseXname(param(c, "xname"));
      if (!x) throw new HttpProblem(400, "Argument was not a valid xname ID");
      const n = await store.deleteRedfishEndpoints(dbOf(c), eq(redfishEndpoints.id, x.id));
      if (n === 0) throw new HttpProblem(404, "no such xname.");
      return deletedCount(1);
    },
  });

  // --- component endpoints (created by the endpoint parser; read and delete only) ---
  resource(app, "/Inventory/ComponentEndpoints", {
    GET: async (c) => {
      const q = Query.of(c.req.raw);
      const xnames = (name: string) =>
        q.all(name).map((v) => {
          const x = parseXname(v);
          if (!x) throw new HttpProblem(400, "bad query param: Argument was not a valid xname ID");
          return x.id;
        });
      const rows = await store.listComponentEndpoints(dbOf(c), {
        id: xnames("id"),
        redfishEp: xnames("redfish_ep"),
        type: q.all("type").map((v) => {
          const t = canonicalHmsType(v);
          if (!t) throw new HttpProblem(400, "bad query param: Argument was not a valid HMS Type");
          return t;
        }),
        redfishType: q.all("redfish_type"),
      });
      return c.json({ ComponentEndpoints: rows.map((r) => componentEndpointJson(r.ce, r.parentFqdn)) });
    },
    DELETE: async (c) => {
      const n = await store.deleteComponentEndpoints(dbOf(c));
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      return deletedCount(n);
    },
  });
  resource(app, "/Inventory/ComponentEndpoints/:xname", {
    GET: async (c) => {
      const raw = param(c, "xname");
      const x = parseXname(raw);
      if (!x) {
        if (/^[A-Za-z0-9]+$/.test(raw)) throw new HttpProblem(400, "Argument was not a valid xname ID");
        throw new HttpProblem(404, "no such xname.");
      }
      const [row] = await store.listComponentEndpoints(dbOf(c), { id: [x.id] });
      if (!row) throw new HttpProblem(404, "no such xname.");
      return c.json(componentEndpointJson(row.ce, row.parentFqdn));
    },
    DELETE: async (c) => {
      const x = parseXname(param(c, "xname"));
      if (!x) throw new HttpProblem(400, "Argument was not a valid xname ID");
      const n = await store.deleteComponentEndpoints(dbOf(c), eq(componentEndpoints.id, x.id));
      if (n === 0) throw new HttpProblem(404, "no such xname.");
      return deletedCount(1);
    },
  });

  // --- service endpoints: only real Redfish discovery fills them; we have none to report ---
  resource(app, "/Inventory/ServiceEndpoints", {
    GET: (c) => c.json({ ServiceEndpoints: [] }),
    DELETE: () => {
      throw new HttpProblem(404, "no entries to delete");
    },
  });
  resource(app, "/Inventory/ServiceEndpoints/:service", { GET: (c) => c.json({ ServiceEndpoints: [] }) });
  resource(app, "/Inventory/ServiceEndpoints/:service/RedfishEndpoints/:xname", {
    GET: () => {
      throw new HttpProblem(404, "no such service under redfish endpoint.");
    },
    DELETE: () => {
      throw new HttpProblem(404, "no such service under redfish endpoint.");
    },
  });
}
