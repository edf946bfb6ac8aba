import { sql } from "drizzle-orm";
import type { Context, Hono } from "hono";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { type Db, database, inList, runBatch } from "../../db";
import { components } from "../../db/schema";
import { readJson } from "../../http/body";
import { objectBody, optArray, optBool, optInt, optString, optStringArray } from "../../http/decode";
import { getKey, hasKey, isPlainObject } from "../../http/json-keys";
import { Query } from "../../http/query";
import { deletedCount, noContent } from "../../http/responses";
import { param, resource } from "../../http/routes";
import { canonicalValue, VALID_START_STATES } from "../hms-values";
import { type ComponentFilter, jsonFilterSource, parseComponentFilter } from "./filter";
import { applyNodeDefaults, type ComponentInput, type ComponentRow, parseComponentInput, projectComponent } from "./model";
import * as store from "./store";

const dbOf = (c: Context) => database(c.env.DB);

function listBody(rows: ComponentRow[], f: Pick<ComponentFilter, "projection">) {
  return { Components: rows.map((r) => projectComponent(r, f.projection)) };
}

/** Validates, fills Node defaults from NodeMaps, and stores; first duplicate ID wins. */
async function storeComponents(db: Db, inputs: ComponentInput[], force: boolean) {
  const seen = new Set<string>();
  const unique = inputs.filter((i) => (seen.has(i.row.id) ? false : (seen.add(i.row.id), true)));
  const needMaps = unique.filter((i) => (i.row.type === "Node" || i.row.type === "VirtualNode") && (i.missingNid || i.missingRole));
  const maps = await store.loadNodeMaps(
    db,
    needMaps.map((i) => i.row.id),
  );
  const rows = unique.map((i) => applyNodeDefaults(i, maps.get(i.row.id)));
  await runBatch(db, store.upsertComponentStatements(rows, force ? "force" : "keep"));
}

function requireXname(raw: string, detail = "invalid xname ID"): string {
  const x = parseXname(raw);
  if (!x) throw new HttpProblem(400, detail);
  return x.id;
}

/** Bulk patch bodies: `ComponentIDs` must be present and every one valid. */
function bulkIds(body: Record<string, unknown>): string[] {
  const ids = optStringArray(getKey(body, "ComponentIDs"), "ComponentIDs") ?? [];
  if (ids.length === 0) throw new HttpProblem(400, "Missing IDs");
  return ids.map((id) => requireXname(id));
}

/** Single patch bodies may repeat the ID; it must match the URL. */
function checkBodyId(body: Record<string, unknown>, id: string) {
  const bodyId = getKey(body, "ID");
  if (typeof bodyId === "string" && bodyId !== "" && parseXname(bodyId)?.id !== id) {
    throw new HttpProblem(400, "ID in URL and PATCH body do not match");
  }
}

async function objectJson(c: Context): Promise<Record<string, unknown>> {
  const body = await readJson(c.req.raw);
  if (!isPlainObject(body)) throw new HttpProblem(400, "error decoding JSON: body: expected a JSON object");
  return body;
}

// --- the per-field patches, shared by the single and Bulk forms -------------------------------

type Patch = (db: Db, ids: string[], body: Record<string, unknown>) => Promise<void>;

const patchStateData: Patch = async (db, ids, body) => {
  const rawState = optString(getKey(body, "State"), "State");
  if (!rawState) throw new HttpProblem(400, "Missing State");
  const state = canonicalValue("State", rawState);
  if (!state) throw new HttpProblem(400, "Argument was not a valid HMS State");
  const rawFlag = optString(getKey(body, "Flag"), "Flag") ?? "";
  const flag = rawFlag === "" ? "OK" : canonicalValue("Flag", rawFlag);
  if (!flag) throw new HttpProblem(400, "Argument was not a valid HMS Flag");
  const force = optBool(getKey(body, "Force"), "Force") ?? false;
  const allowed = VALID_START_STATES[state];
  if (!force && !allowed) throw new HttpProblem(400, "operation not allowed and not forced.");
  let extra = force ? undefined : inList(components.state, allowed!);
  // Ready+Warning only marks components that are already Ready (upstream rule).
  if (state === "Ready" && flag === "Warning") extra = inList(components.state, ["Ready"]);
  await store.updateComponents(
    db,
    ids,
    { state, flag: sql`CASE WHEN ${components.flag} = 'Locked' THEN ${components.flag} ELSE ${flag} END` },
    extra,
  );
};

const patchFlagOnly: Patch = async (db, ids, body) => {
  const raw = optString(getKey(body, "Flag"), "Flag");
  if (!raw) throw new HttpProblem(400, "Missing Flag");
  const flag = canonicalValue("Flag", raw);
  if (!flag) throw new HttpProblem(400, "a required argument did not match any valid input");
  await store.updateComponents(db, ids, { flag });
};

const patchEnabled: Patch = async (db, ids, body) => {
  const enabled = optBool(getKey(body, "Enabled"), "Enabled");
  if (enabled === undefined) throw new HttpProblem(400, "Missing Enabled field");
  await store.updateComponents(db, ids, { enabled });
};

const patchSoftwareStatus: Patch = async (db, ids, body) => {
  const softwareStatus = optString(getKey(body, "SoftwareStatus"), "SoftwareStatus");
  if (softwareStatus === undefined) throw new HttpProblem(400, "Missing SoftwareStatus");
  await store.updateComponents(db, ids, { softwareStatus });
};

const patchRole: Patch = async (db, ids, body) => {
  const rawRole = optString(getKey(body, "Role"), "Role");
  if (!rawRole) throw new HttpProblem(400, "Missing Role");
  const role = canonicalValue("Role", rawRole);
  const rawSub = optString(getKey(body, "SubRole"), "SubRole") ?? "";
  const subRole = rawSub === "" ? "" : canonicalValue("SubRole", rawSub);
  if (!role || subRole === undefined) throw new HttpProblem(400, "a required argument did not match any valid input");
  await store.updateComponents(db, ids, { role, subRole });
};

const patchNid: Patch = async (db, ids, body) => {
  const nid = optInt(getKey(body, "NID"), "NID");
  if (nid === undefined) throw new HttpProblem(400, "Missing NID");
  await store.updateComponents(db, ids, { nid: nid < 0 ? -1 : nid });
};

const FIELD_PATCHES: Record<string, Patch> = {
  StateData: patchStateData,
  FlagOnly: patchFlagOnly,
  Enabled: patchEnabled,
  SoftwareStatus: patchSoftwareStatus,
  Role: patchRole,
  NID: patchNid,
};

export function registerComponentRoutes(app: Hono<any>) {
  resource(app, "/State/Components", {
    GET: async (c) => {
      const f = parseComponentFilter(Query.of(c.req.raw));
      return c.json(listBody(await store.listComponents(dbOf(c), f), f));
    },
    POST: async (c) => {
      const body = objectBody(await readJson(c.req.raw), ["Components", "force", "ExtendedInfo"] as const);
      const list = optArray(body.Components, "Components") ?? [];
      if (list.length === 0 || !isPlainObject(list[0]) || !hasKey(list[0], "ID")) throw new HttpProblem(400, "Missing Components");
      const force = optBool(body.force, "force") ?? false;
      const inputs = list.map((raw, i) => parseComponentInput(raw, `Components[${i}]`, "couldn't validate components"));
      await storeComponents(dbOf(c), inputs, force);
      return noContent();
    },
    DELETE: async (c) => {
      const n = await store.deleteAllComponents(dbOf(c));
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      return deletedCount(n);
    },
  });

  // Static segments first: they must win over /State/Components/{xname}.
  for (const [name, patch] of Object.entries(FIELD_PATCHES)) {
    const bulkName = name === "NID" ? undefined : `Bulk${name}`;
    if (bulkName)
      resource(app, `/State/Components/${bulkName}`, {
        PATCH: async (c) => {
          const body = await objectJson(c);
          await patch(dbOf(c), bulkIds(body), body);
          return noContent();
        },
      });
  }
  resource(app, "/State/Components/BulkNID", {
    PATCH: async (c) => {
      const body = objectBody(await readJson(c.req.raw), ["Components"] as const);
      const list = optArray(body.Components, "Components") ?? [];
      if (list.length === 0 || !isPlainObject(list[0]) || !getKey(list[0], "ID")) throw new HttpProblem(400, "Missing Components");
      const pairs: Array<[string, number]> = [];
      list.forEach((raw, i) => {
        const item = objectBody(raw, ["ID", "NID"] as const, `Components[${i}]`);
        const id = requireXname(optString(item.ID, `Components[${i}].ID`) ?? "");
        const nid = optInt(item.NID, `Components[${i}].NID`);
        if (nid === undefined) throw new HttpProblem(400, "NID value missing.  Use NID < 0 to unset.");
        pairs.push([id, nid < 0 ? -1 : nid]);
      });
      await store.setNids(dbOf(c), pairs);
      return noContent();
    },
  });

  resource(app, "/State/Components/Query", {
    POST: async (c) => {
      const body = await objectJson(c);
      const ids = optStringArray(getKey(body, "ComponentIDs"), "ComponentIDs") ?? [];
      if (ids.length === 0) throw new HttpProblem(400, "Missing IDs");
      const parsed = ids.map((id) => requireXname(id, "bad query param: Argument was not a valid xname ID"));
      const f = parseComponentFilter(jsonFilterSource(body));
      const scope = f.type.include.length || f.type.exclude.length ? store.selfOrDescendant(parsed) : inList(components.id, parsed);
      return c.json(listBody(await store.listComponents(dbOf(c), f, scope), f));
    },
  });
  resource(app, "/State/Components/Query/:xname", {
    GET: async (c) => {
      const raw = param(c, "xname");
      const f = parseComponentFilter(Query.of(c.req.raw));
      const db = dbOf(c);
      if (raw === "all" || raw === "s0") return c.json(listBody(await store.listComponents(db, f), f));
      const id = requireXname(raw, "bad query param: Argument was not a valid xname ID");
      return c.json(listBody(await store.listComponents(db, f, store.selfOrDescendant([id])), f));
    },
  });

  resource(app, "/State/Components/ByNID/Query", {
    POST: async (c) => {
      const body = await objectJson(c);
      const ranges = optStringArray(getKey(body, "NIDRanges"), "NIDRanges") ?? [];
      if (ranges.length === 0) throw new HttpProblem(400, "Missing NID ranges");
      const nids: number[] = [];
      const nidRanges: Array<[number, number]> = [];
      for (const r of ranges) {
        const m = /^\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?$/.exec(r);
        if (!m) throw new HttpProblem(400, "bad query param: a required argument was not an integer");
        if (m[2] === undefined) nids.push(Number(m[1]));
        else nidRanges.push([Number(m[1]), Number(m[2])]);
      }
      const f = parseComponentFilter(jsonFilterSource({ ...body, NIDRanges: undefined }));
      f.nid.include = nids;
      f.nidRanges = nidRanges;
      return c.json(listBody(await store.listComponents(dbOf(c), f), f));
    },
  });
  resource(app, "/State/Components/ByNID/:nid", {
    GET: async (c) => {
      const raw = param(c, "nid");
      if (!/^-?[0-9]+$/.test(raw)) throw new HttpProblem(400, "a required argument was not an integer");
      const nid = Number(raw);
      if (nid < 0 || !Number.isSafeInteger(nid)) throw new HttpProblem(400, "An argument was out of range");
      const row = await store.getComponentByNid(dbOf(c), nid);
      if (!row) throw new HttpProblem(404, "no such NID.");
      return c.json(projectComponent(row, "full"));
    },
  });

  for (const [name, patch] of Object.entries(FIELD_PATCHES)) {
    resource(app, `/State/Components/:xname/${name}`, {
      PATCH: async (c) => {
        const id = requireXname(param(c, "xname"));
        const body = await objectJson(c);
        checkBodyId(body, id);
        await patch(dbOf(c), [id], body);
        return noContent();
      },
    });
  }

  resource(app, "/State/Components/:xname", {
    GET: async (c) => {
      const id = parseXname(param(c, "xname"))?.id;
      const row = id ? await store.getComponent(dbOf(c), id) : undefined;
      if (!row) throw new HttpProblem(404, "no such xname.");
      return c.json(projectComponent(row, "full"));
    },
    PUT: async (c) => {
      const urlId = requireXname(param(c, "xname"), "couldn't validate component: invalid xname ID");
      const body = objectBody(await readJson(c.req.raw), ["Component", "Force", "ExtendedInfo"] as const);
      const comp = body.Component === undefined ? {} : body.Component;
      if (!isPlainObject(comp)) throw new HttpProblem(400, "error decoding JSON: Component: expected a JSON object");
      const bodyId = getKey(comp, "ID");
      if (typeof bodyId === "string" && bodyId !== "" && parseXname(bodyId)?.id !== urlId) {
        throw new HttpProblem(400, "ID in URL and POST body do not match");
      }
      const input = parseComponentInput({ ...comp, ID: urlId }, "Component", "couldn't validate component");
      await storeComponents(dbOf(c), [input], optBool(body.Force, "Force") ?? false);
      return noContent();
    },
    DELETE: async (c) => {
      const id = requireXname(param(c, "xname"), "invalid xname");
      const n = await store.deleteComponent(dbOf(c), id);
      if (n === 0) throw new HttpProblem(404, "no such xname.");
      return deletedCount(1);
    },
  });
}
