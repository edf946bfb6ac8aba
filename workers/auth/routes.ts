import { Hono } from "hono";
import type { AppEnv } from "../env";
import { registerClientRoutes } from "./clients-routes";
import { registerDiscoveryRoutes } from "./discovery-routes";
import { registerTokenRoutes } from "./token-routes";

/** The token issuer and client management, mounted at the root (paths as Hydra/opaal use them). */
export function authApp() {
  const app = new Hono<AppEnv>({ strict: false });
  registerTokenRoutes(app);
  registerDiscoveryRoutes(app);
  registerClientRoutes(app);
  return app;
}
