import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { changes, countAndDelete, isUniqueViolation, runBatch } from "../../db";
import { nodeMaps } from "../../db/schema";
import { deletedCount, noContent } from "../../http/responses";
import { op, type Router, resource } from "../../http/route";
import { checked, checkedFirst, empty, goInt, goObject, json, jsonBody, opt, problems } from "../../http/wire";

import { canonicalValue } from "../hms-values";

/**
 * /Defaults/NodeMaps: the NID, Role and SubRole a node gets when it is created without them.
 * Small enough that routes and queries share this file.
 */
type NodeMap = typeof nodeMaps.$inferSelect;

const tags = ["SMD"];

/** A NodeMap as clients send and read it; keys case-insensitive. */
const NodeMapBody = goObject(
  {
    ID: opt(z.string()).meta({ description: "a Node's xname", example: "x1000c0s0b0n0" }),
    NID: opt(goInt).meta({ description: "positive", example: 1 }),
    Role: opt(z.string()).meta({ example: "Compute" }),
    SubRole: opt(z.string()),
  },
  { id: "NodeMap", description: "Defaults for a node created without NID or Role" },
);

type NodeMapWire = z.output<typeof NodeMapBody>;

function nodeMapJson(m: NodeMap) {
  const out: Record<string, unknown> = { ID: m.id, NID: m.nid };
  if (m.role) out.Role = m.role;
  if (m.subRole) out.SubRole = m.subRole;
  return out;
}

/**
 * What a NodeMap body means, with upstream's wording; `prefix` is "couldn't validate map data[ at
 * idx N]". On PUT the path's xname is the ID, and a body's must match it.
 */
function parseNodeMap(b: NodeMapWire, prefix: string, urlId?: string): NodeMap {
  const bad = (msg: string) => new HttpProblem(400, `${prefix}: ${msg}`);
  const given = b.ID ?? "";
  const rawId = urlId ?? given;
  const x = parseXname(rawId);
  if (!x || (x.type !== "Node" && x.type !== "VirtualNode")) throw bad(`xname ID '${rawId.toLowerCase()}' is invalid or not a node`);
  if (urlId && given && parseXname(given)?.id !== x.id) throw new HttpProblem(400, "xname in URL and PUT body do not match");
  const nid = b.NID ?? 0;
  if (nid <= 0) throw bad(`NID '${nid}' is out of range`);
  const role = b.Role ?? "";
  const subRole = b.SubRole ?? "";
  const r = role ? canonicalValue("Role", role) : "";
  const s = subRole ? canonicalValue("SubRole", subRole) : "";
  if (r === undefined) throw bad(`Role '${role}' is not valid.`);
  if (s === undefined) throw bad(`SubRole '${subRole}' is not valid.`);
  return { id: x.id, nid, role: r, subRole: s };
}

const NodeMapList = goObject(
  {
    NodeMaps: checkedFirst(
      (raw) =>
        raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)
          ? new HttpProblem(400, "Missing NodeMaps")
          : undefined,
      z.array(NodeMapBody),
    ),
  },
  { id: "NodeMapArray" },
  { notObject: "error decoding JSON: body: expected a JSON object" },
);

/** The path's xname: normalised when valid (parseNodeMap words an invalid one). */
const NodeMapXname = z.object({
  xname: z
    .string()
    .meta({ description: "a Node's xname" })
    .transform((raw) => parseXname(raw)?.id ?? raw.toLowerCase()),
});

async function uniqueNid<T>(write: () => Promise<T>, detail: string): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err)) throw new HttpProblem(409, detail);
    throw err;
  }
}

const deleted = json(z.object({ code: z.int(), message: z.string() }), "deleted (`deleted N entries`)");

export function registerNodeMapRoutes(app: Router) {
  resource(app, "/Defaults/NodeMaps", {
    get: op(
      { summary: "Every NodeMap", tags, responses: { 200: json(z.object({ NodeMaps: z.array(NodeMapBody) }), "the NodeMaps, by ID") } },
      async (c) => c.json({ NodeMaps: (await c.var.db.select().from(nodeMaps).orderBy(asc(nodeMaps.id)).all()).map(nodeMapJson) }),
    ),
    post: op(
      {
        summary: "Create or replace NodeMaps",
        tags,
        request: { body: jsonBody(NodeMapList) },
        responses: { 204: empty("stored"), ...problems(400, 409) },
      },
      async (c) => {
        const maps = c.req.valid("json").NodeMaps.map((m, i) => parseNodeMap(m, `couldn't validate map data at idx ${i}`));
        const { db } = c.var;
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
    ),
    delete: op({ summary: "Delete every NodeMap", tags, responses: { 200: deleted, ...problems(404) } }, async (c) => {
      const n = await countAndDelete(c.var.db, nodeMaps);
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      return deletedCount(n);
    }),
  });
  resource(app, "/Defaults/NodeMaps/{xname}", {
    get: op(
      {
        summary: "A NodeMap",
        tags,
        request: { params: z.object({ xname: z.string().meta({ description: "a Node's xname" }) }) },
        responses: { 200: json(NodeMapBody, "the NodeMap"), ...problems(404) },
      },
      async (c) => {
        const id = parseXname(c.req.valid("param").xname)?.id;
        const m = id ? await c.var.db.select().from(nodeMaps).where(eq(nodeMaps.id, id)).get() : undefined;
        if (!m) throw new HttpProblem(404, "no such xname.");
        return c.json(nodeMapJson(m));
      },
    ),
    put: op(
      {
        summary: "Create or replace a NodeMap",
        tags,
        request: { params: NodeMapXname, body: jsonBody(NodeMapBody) },
        responses: { 200: json(NodeMapBody, "the NodeMap stored"), ...problems(400, 409) },
      },
      async (c) => {
        const m = parseNodeMap(c.req.valid("json"), "couldn't validate map data", c.req.valid("param").xname);
        await uniqueNid(
          () =>
            c.var.db
              .insert(nodeMaps)
              .values(m)
              .onConflictDoUpdate({ target: nodeMaps.id, set: { nid: m.nid, role: m.role, subRole: m.subRole } })
              .run(),
          "operation would conflict with an existing resource that has the same NID",
        );
        return c.json(nodeMapJson(m));
      },
    ),
    delete: op(
      {
        summary: "Delete a NodeMap",
        tags,
        request: {
          params: z.object({
            xname: z
              .string()
              .meta({ description: "a Node's xname" })
              .transform(
                checked((raw: string) => {
                  const x = parseXname(raw);
                  if (!x) throw new HttpProblem(400, "invalid xname");
                  return x.id;
                }),
              ),
          }),
        },
        responses: { 200: deleted, ...problems(400, 404) },
      },
      async (c) => {
        const id = c.req.valid("param").xname;
        if (changes(await c.var.db.delete(nodeMaps).where(eq(nodeMaps.id, id)).run()) === 0) throw new HttpProblem(404, "no such xname.");
        return deletedCount(1);
      },
    ),
  });
}
