import { sql } from "drizzle-orm";
import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { HMS_TYPES } from "../../../shared/xname";
import { message, noContent } from "../../http/responses";
import { op, type Router, resource } from "../../http/route";
import { empty, json, problems } from "../../http/wire";
import { HMS_VALUES } from "../hms-values";

const VALUES: Record<string, readonly string[]> = { ...HMS_VALUES, Type: HMS_TYPES };

const Values = z.record(z.string(), z.array(z.string())).meta({ id: "HmsValues", description: "valid values of each HMS field" });

export function registerServiceRoutes(app: Router) {
  const tags = ["SMD"];
  resource(app, "/service/ready", {
    get: op(
      {
        summary: "Readiness: the database answers",
        tags,
        responses: { 200: json(z.object({ code: z.int(), message: z.string() }), "HSM is healthy"), ...problems(503) },
      },
      async (c) => {
        try {
          await c.var.db.run(sql`SELECT 1`);
        } catch (err) {
          // drizzle wraps D1's error; the reason is its cause.
          const reason = (err as Error).cause instanceof Error ? ((err as Error).cause as Error) : (err as Error);
          throw new HttpProblem(503, `HSM's database is unhealthy: ${reason.message}`);
        }
        return message("HSM is healthy");
      },
    ),
  });
  resource(app, "/service/liveness", {
    get: op({ summary: "Liveness", tags, responses: { 204: empty("alive") } }, () => noContent()),
  });
  resource(app, "/service/values", {
    get: op({ summary: "Valid values of every HMS field", tags, responses: { 200: json(Values, "values by field") } }, (c) =>
      c.json(VALUES),
    ),
  });
  for (const key of Object.keys(VALUES)) {
    resource(app, `/service/values/${key.toLowerCase()}`, {
      get: op({ summary: `Valid values of ${key}`, tags, responses: { 200: json(Values, `{"${key}": [...]}`) } }, (c) =>
        c.json({ [key]: VALUES[key] }),
      ),
    });
  }
}
