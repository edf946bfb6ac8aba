import { Hono } from "hono";
import type { AppEnv } from "../env";
import { registerComponentRoutes } from "./components/routes";
import { registerGroupRoutes } from "./groups/routes";
import { registerInterfaceRoutes } from "./interfaces/routes";
import { registerNodeMapRoutes } from "./nodemaps/routes";
import { registerRedfishRoutes } from "./redfish/routes";
import { registerServiceRoutes } from "./service/routes";

/** SMD, mounted at /hsm/v2. Paths are case-sensitive, as upstream's router. */
export function smdApp() {
  const app = new Hono<AppEnv>({ strict: false });
  registerServiceRoutes(app);
  registerComponentRoutes(app);
  registerInterfaceRoutes(app);
  registerGroupRoutes(app);
  registerRedfishRoutes(app);
  registerNodeMapRoutes(app);
  return app;
}
