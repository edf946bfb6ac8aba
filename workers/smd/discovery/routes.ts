import { asc, eq } from "drizzle-orm";
import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { inList } from "../../db";
import { discoveryStatus, redfishEndpoints } from "../../db/schema";
import { op, type Router, resource } from "../../http/route";
import { goObject, json, jsonBody, opt, problems, refuse } from "../../http/wire";
import { storedTimestamp } from "../interfaces/model";

/**
 * /Inventory/DiscoveryStatus and /Inventory/Discover. Upstream SMD polls the BMCs itself when
 * asked to discover; this SMD has no Redfish poller (a worker does not hold BMC sessions or
 * credentials across requests): BMCs are discovered by `ochami discover` or magellan, which POST
 * what they found to /Inventory/RedfishEndpoints. So Discover checks the request as upstream does
 * and records, in upstream's one DiscoveryStatus record (ID 0), that it was asked and that no
 * poll ran, with the reason in its Details.
 */

const tags = ["SMD discovery"];

export const NOT_POLLED =
  "This SMD does not poll Redfish: discover BMCs with `ochami discover` (static or redfish) or magellan, " +
  "which post what they find to /hsm/v2/Inventory/RedfishEndpoints.";

const Status = z
  .object({
    ID: z.int(),
    Status: z.string().meta({ example: "Complete" }),
    LastUpdateTime: z.string(),
    Details: z.looseObject({ description: z.string().optional() }).optional(),
  })
  .meta({ id: "DiscoveryStatus" });

type StatusRow = typeof discoveryStatus.$inferSelect;

function statusJson(r: StatusRow) {
  const out: Record<string, unknown> = { ID: r.id, Status: r.status, LastUpdateTime: r.lastUpdate };
  if (r.details !== null) out.Details = JSON.parse(r.details);
  return out;
}

const DiscoverBody = goObject(
  {
    xnames: opt(z.array(z.string())).meta({ description: "Redfish endpoints (all when left out)", example: ["x1000c0s0b0"] }),
    force: opt(z.boolean()),
  },
  { id: "DiscoverIn" },
  { notObject: "POST body was not understood" },
);

export function registerDiscoveryRoutes(app: Router) {
  resource(app, "/Inventory/DiscoveryStatus", {
    get: op({ summary: "Discovery status records", tags, responses: { 200: json(z.array(Status), "the records, by ID") } }, async (c) =>
      c.json((await c.var.db.select().from(discoveryStatus).orderBy(asc(discoveryStatus.id)).all()).map(statusJson)),
    ),
  });
  resource(app, "/Inventory/DiscoveryStatus/{id}", {
    get: op(
      {
        summary: "A discovery status record",
        tags,
        request: {
          params: z.object({
            id: z
              .string()
              .meta({ example: "0" })
              .transform((raw, ctx) =>
                /^[0-9]+$/.test(raw) && Number(raw) <= 0xffffffff
                  ? Number(raw)
                  : refuse(ctx, "DiscoveryStatus ID not an unsigned integer", raw),
              ),
          }),
        },
        responses: { 200: json(Status, "the record"), ...problems(400, 404) },
      },
      async (c) => {
        const row = await c.var.db
          .select()
          .from(discoveryStatus)
          .where(eq(discoveryStatus.id, c.req.valid("param").id))
          .get();
        if (!row) throw new HttpProblem(404, "no such DiscoveryStatus ID.");
        return c.json(statusJson(row));
      },
    ),
  });

  resource(app, "/Inventory/Discover", {
    post: op(
      {
        summary: "Ask for Redfish discovery (recorded, not run: see the description)",
        description:
          "Checks the endpoints as upstream does (404 for one that does not exist, or when there are none) and answers " +
          `upstream's link to DiscoveryStatus 0, which then says Complete with Details.description: "${NOT_POLLED}"`,
        tags,
        request: { body: jsonBody(DiscoverBody) },
        responses: { 200: json(z.array(z.object({ URI: z.string() })), "the DiscoveryStatus record"), ...problems(400, 404) },
      },
      async (c) => {
        const { db } = c.var;
        const xnames = [...new Set(c.req.valid("json").xnames ?? [])];
        if (xnames.length) {
          const ids = xnames.map((x) => parseXname(x)?.id ?? x);
          const found = new Set(
            (await db.select({ id: redfishEndpoints.id }).from(redfishEndpoints).where(inList(redfishEndpoints.id, ids)).all()).map(
              (r) => r.id,
            ),
          );
          const missing = xnames.find((_, i) => !found.has(ids[i]));
          if (missing !== undefined) throw new HttpProblem(404, `No such RedfishEndpoint: ${missing}`);
        } else if (!(await db.select({ id: redfishEndpoints.id }).from(redfishEndpoints).limit(1).get())) {
          throw new HttpProblem(404, "RedfishEndpoints collection is empty");
        }
        const row = { id: 0, status: "Complete", lastUpdate: storedTimestamp(), details: JSON.stringify({ description: NOT_POLLED }) };
        await db.insert(discoveryStatus).values(row).onConflictDoUpdate({ target: discoveryStatus.id, set: row }).run();
        return c.json([{ URI: "/hsm/v2/Inventory/DiscoveryStatus/0" }]);
      },
    ),
  });
}
