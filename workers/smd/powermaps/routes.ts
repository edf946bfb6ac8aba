import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { changes, countAndDelete, runBatch } from "../../db";
import { powerMaps } from "../../db/schema";
import { deletedCount, message } from "../../http/responses";
import { op, type Router, resource } from "../../http/route";
import { goObject, json, jsonBody, opt, problems, refuse } from "../../http/wire";

/**
 * /sysinfo/powermaps: which power supplies power a component (upstream's PowerMap, lower-case
 * keys `id` and `poweredBy`). Small enough that routes and queries share this file.
 */

const tags = ["SMD"];

const PowerMapBody = goObject(
  {
    id: opt(z.string()).meta({ description: "the component's xname", example: "x1000c0s0b0n0" }),
    poweredBy: opt(z.array(z.string())).meta({ description: "its power supplies' xnames", example: ["x1000m0p0v1"] }),
  },
  { id: "PowerMap" },
  { notObject: "error decoding JSON: body: expected a JSON object" },
);

type PowerMap = { id: string; poweredBy: string[] };
type PowerMapRow = typeof powerMaps.$inferSelect;

const powerMapJson = (r: PowerMapRow): PowerMap => ({ id: r.id, poweredBy: JSON.parse(r.poweredBy) });

/** Upstream's NewPowerMap: both the ID and every supply must be xnames. Throws Error(reason). */
function powerMapOf(id: string, poweredBy: string[]): PowerMap {
  const x = parseXname(id);
  if (!x) throw new Error(`xname ID '${id}' is invalid`);
  return {
    id: x.id,
    poweredBy: poweredBy.map((p) => {
      const s = parseXname(p);
      if (!s) throw new Error(`Power supply xname ID '${p}' is invalid`);
      return s.id;
    }),
  };
}

const upsert = (m: PowerMap) => {
  const poweredBy = JSON.stringify(m.poweredBy);
  return { row: { id: m.id, poweredBy }, set: { poweredBy } };
};

/** The path's xname: normalised; routes that need a valid one say so. */
const XnamePath = z.object({ xname: z.string().meta({ example: "x1000c0s0b0n0" }) });
const validXname = z.object({
  xname: z
    .string()
    .meta({ example: "x1000c0s0b0n0" })
    .transform((raw, ctx) => parseXname(raw)?.id ?? refuse(ctx, "invalid xname", raw)),
});

const deleted = json(z.object({ code: z.int(), message: z.string() }), "deleted (`deleted N entries`)");

export function registerPowerMapRoutes(app: Router) {
  resource(app, "/sysinfo/powermaps", {
    get: op({ summary: "Every power map", tags, responses: { 200: json(z.array(PowerMapBody), "the power maps, by ID") } }, async (c) =>
      c.json((await c.var.db.select().from(powerMaps).orderBy(asc(powerMaps.id)).all()).map(powerMapJson)),
    ),
    post: op(
      {
        summary: "Create or replace power maps",
        tags,
        request: { body: jsonBody(z.array(PowerMapBody)) },
        responses: { 200: json(z.object({ code: z.int(), message: z.string() }), "`Created or modified N entries`"), ...problems(400) },
      },
      async (c) => {
        const maps = c.req.valid("json").map((m, i) => {
          if (!m.poweredBy?.length) throw new HttpProblem(400, "poweredby is required for PowerMaps");
          try {
            return powerMapOf(m.id ?? "", m.poweredBy);
          } catch (err) {
            throw new HttpProblem(400, `couldn't validate map data at idx ${i}: ${(err as Error).message}`);
          }
        });
        const { db } = c.var;
        await runBatch(
          db,
          maps.map(upsert).map(({ row, set }) => db.insert(powerMaps).values(row).onConflictDoUpdate({ target: powerMaps.id, set })),
        );
        return message(`Created or modified ${maps.length} entries`);
      },
    ),
    delete: op({ summary: "Delete every power map", tags, responses: { 200: deleted, ...problems(404) } }, async (c) => {
      const n = await countAndDelete(c.var.db, powerMaps);
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      // Upstream's wording, whatever the count.
      return message(`deleted ${n} entries`);
    }),
  });

  resource(app, "/sysinfo/powermaps/{xname}", {
    get: op(
      {
        summary: "A power map",
        tags,
        request: { params: validXname },
        responses: { 200: json(PowerMapBody, "the power map"), ...problems(400, 404) },
      },
      async (c) => {
        const row = await c.var.db
          .select()
          .from(powerMaps)
          .where(eq(powerMaps.id, c.req.valid("param").xname))
          .get();
        if (!row) throw new HttpProblem(404, "no such xname.");
        return c.json(powerMapJson(row));
      },
    ),
    put: op(
      {
        summary: "Create or replace a power map",
        tags,
        request: { params: XnamePath, body: jsonBody(PowerMapBody) },
        responses: { 200: json(PowerMapBody, "the power map stored"), ...problems(400) },
      },
      async (c) => {
        const urlId = parseXname(c.req.valid("param").xname)?.id ?? c.req.valid("param").xname.toLowerCase();
        const b = c.req.valid("json");
        if (b.id && (parseXname(b.id)?.id ?? b.id.toLowerCase()) !== urlId)
          throw new HttpProblem(400, "xname in URL and PUT body do not match");
        if (!b.poweredBy?.length) throw new HttpProblem(400, "poweredby is required in PUT body");
        let m: PowerMap;
        try {
          m = powerMapOf(b.id || urlId, b.poweredBy);
        } catch (err) {
          throw new HttpProblem(400, `couldn't validate PowerMap data: ${(err as Error).message}`);
        }
        const { row, set } = upsert(m);
        await c.var.db.insert(powerMaps).values(row).onConflictDoUpdate({ target: powerMaps.id, set }).run();
        return c.json(m);
      },
    ),
    delete: op(
      {
        summary: "Delete a power map",
        tags,
        request: { params: validXname },
        responses: { 200: deleted, ...problems(400, 404) },
      },
      async (c) => {
        if (
          changes(
            await c.var.db
              .delete(powerMaps)
              .where(eq(powerMaps.id, c.req.valid("param").xname))
              .run(),
          ) === 0
        )
          throw new HttpProblem(404, "no such xname.");
        return deletedCount(1);
      },
    ),
  });
}
