import { router } from "../http/route";
import { registerClientRoutes } from "./clients-routes";
import { registerDiscoveryRoutes } from "./discovery-routes";
import { registerTokenRoutes } from "./token-routes";

/** The token issuer and client management, mounted at the root (paths as Hydra/opaal use them). */
export function authApp() {
  const app = router();
  registerTokenRoutes(app);
  registerDiscoveryRoutes(app);
  registerClientRoutes(app);
  return app;
}
