import { asc, eq } from "drizzle-orm";
import type { Context, Hono } from "hono";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { changes, countAndDelete, database, isUniqueViolation, runBatch } from "../../db";
import { nodeMaps } from "../../db/schema";
import { readJson } from "../../http/body";
import { objectBody, optArray, optInt, optString } from "../../http/decode";
import { isPlainObject } from "../../http/json-keys";
import { deletedCount, noContent } from "../../http/responses";
import { param, resource } from "../../http/routes";
import { canonicalValue } from "../hms-values";

/**
 * /Defaults/NodeMaps: the NID, Role and SubRole a node gets when it is created without them.
 * Small enough that routes and queries share this file.
 */
type NodeMap = typeof nodeMaps.$inferSelect;
const dbOf = (c: Context) => database(c.env.DB);

function nodeMapJson(m: NodeMap) {
  const out: Record<string, unknown> = { ID: m.id, NID: m.nid };
  if (m.role) out.Role = m.role;
  if (m.subRole) out.SubRole = m.subRole;
  return out;
}

/** Upstream's wording; `prefix` is "couldn't validate map data[ at idx N]". */
function parseNodeMap(raw: unknown, path: string, prefix: string, urlId?: string): NodeMap {
  const bad = (msg: string) => new HttpProblem(400, `${prefix}: ${msg}`);
  const b = objectBody(raw, ["ID", "NID", "Role", "SubRole"] as const, path);
  const given = optString(b.ID, `${path}.ID`) ?? "";
  const rawId = urlId ?? given;
  const x = parseXname(rawId);
  if (!x || (x.type !== "Node" && x.type !== "VirtualNode")) throw bad(`xname ID '${rawId.toLowerCase()}' is invalid or not a node`);
  if (urlId && given && parseXname(given)?.id !== x.id) throw new HttpProblem(400, "xname in URL and PUT body do not match");
  const nid = optInt(b.NID, `${path}.NID`) ?? 0;
  if (nid <= 0) throw bad(`NID '${nid}' is out of range`);
  const role = optString(b.Role, `${path}.Role`) ?? "";
  const subRole = optString(b.SubRole, `${path}.SubRole`) ?? "";
  const r = role ? canonicalValue("Role", role) : "";
  const s = subRole ? canonicalValue("SubRole", subRole) : "";
  if (r === undefined) throw bad(`Role '${role}' is not valid.`);
  if (s === undefined) throw bad(`SubRole '${subRole}' is not valid.`);
  return { id: x.id, nid, role: r, subRole: s };
}

async function uniqueNid<T>(write: () => Promise<T>, detail: string): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new HttpProblem(409, detail);
    throw err;
  }
}

export function registerNodeMapRoutes(app: Hono<any>) {
  resource(app, "/Defaults/NodeMaps", {
    GET: async (c) => c.json({ NodeMaps: (await dbOf(c).select().from(nodeMaps).orderBy(asc(nodeMaps.id)).all()).map(nodeMapJson) }),
    POST: async (c) => {
      const body = await readJson(c.req.raw);
      if (!isPlainObject(body)) throw new HttpProblem(400, "error decoding JSON: body: expected a JSON object");
      const list = optArray(objectBody(body, ["NodeMaps"] as const).NodeMaps, "NodeMaps") ?? [];
      if (list.length === 0) throw new HttpProblem(400, "Missing NodeMaps");
      const maps = list.map((m, i) => parseNodeMap(m, `NodeMaps[${i}]`, `couldn't validate map data at idx ${i}`));
      const db = dbOf(c);
      await uniqueNid(
        () =>
          runBatch(
            db,
            maps.map((m) =>
              db
                .insert(nodeMaps)
                .values(m)
                .onConflictDoUpdate({ target: nodeMaps.id, set: { nid: m.nid, role: m.role, subRole: m.subRole } }),
            ),
          ),
        "operation would conflict with an existing xname ID that has the same NID.",
      );
      return noContent();
    },
    DELETE: async (c) => {
      const n = await countAndDelete(dbOf(c), nodeMaps);
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      return deletedCount(n);
    },
  });
  resource(app, "/Defaults/NodeMaps/:xname", {
    GET: async (c) => {
      const id = parseXname(param(c, "xname"))?.id;
      const m = id ? await dbOf(c).select().from(nodeMaps).where(eq(nodeMaps.id, id)).get() : undefined;
      if (!m) throw new HttpProblem(404, "no such xname.");
      return c.json(nodeMapJson(m));
    },
    PUT: async (c) => {
      const raw = param(c, "xname");
      const x = parseXname(raw) ?? { id: raw.toLowerCase() };
      const m = parseNodeMap(await readJson(c.req.raw), "body", "couldn't validate map data", x.id);
      const db = dbOf(c);
      await uniqueNid(
        () =>
          db
            .insert(nodeMaps)
            .values(m)
            .onConflictDoUpdate({ target: nodeMaps.id, set: { nid: m.nid, role: m.role, subRole: m.subRole } })
            .run(),
        "operation would conflict with an existing resource that has the same NID",
      );
      return c.json(nodeMapJson(m));
    },
    DELETE: async (c) => {
      const x = parseXname(param(c, "xname"));
      if (!x) throw new HttpProblem(400, "invalid xname");
      if (changes(await dbOf(c).delete(nodeMaps).where(eq(nodeMaps.id, x.id)).run()) === 0) throw new HttpProblem(404, "no such xname.");
      return deletedCount(1);
    },
  });
}
