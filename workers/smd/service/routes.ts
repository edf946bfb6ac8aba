import type { Hono } from "hono";
import { HttpProblem } from "../../../shared/problem";
import { HMS_TYPES } from "../../../shared/xname";
import { message, noContent } from "../../http/responses";
import { resource } from "../../http/routes";
import { HMS_VALUES } from "../hms-values";

const VALUES: Record<string, readonly string[]> = { ...HMS_VALUES, Type: HMS_TYPES };

export function registerServiceRoutes(app: Hono<any>) {
  resource(app, "/service/ready", {
    GET: async (c) => {
      try {
        await c.env.DB.prepare("SELECT 1").first();
      } catch (err) {
        throw new HttpProblem(503, `HSM's database is unhealthy: ${(err as Error).message}`);
      }
      return message("HSM is healthy");
    },
  });
  resource(app, "/service/liveness", { GET: () => noContent() });
  resource(app, "/service/values", { GET: (c) => c.json(VALUES) });
  for (const key of Object.keys(VALUES)) {
    resource(app, `/service/values/${key.toLowerCase()}`, { GET: (c) => c.json({ [key]: VALUES[key] }) });
  }
}
