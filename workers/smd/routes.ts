import { router } from "../http/route";
import { registerComponentRoutes } from "./components/routes";
import { registerDiscoveryRoutes } from "./discovery/routes";
import { registerGroupRoutes } from "./groups/routes";
import { registerHardwareRoutes } from "./hardware/routes";
import { registerInterfaceRoutes } from "./interfaces/routes";
import { registerLockRoutes } from "./locks/routes";
import { registerNodeMapRoutes } from "./nodemaps/routes";
import { registerPowerMapRoutes } from "./powermaps/routes";
import { registerRedfishRoutes } from "./redfish/routes";
import { registerScnRoutes } from "./scn/routes";
import { registerServiceRoutes } from "./service/routes";

/** SMD, mounted at /hsm/v2. Paths are case-sensitive, as upstream's router. */
export function smdApp() {
  const app = router();
  registerServiceRoutes(app);
  registerComponentRoutes(app);
  registerInterfaceRoutes(app);
  registerGroupRoutes(app);
  registerRedfishRoutes(app);
  registerNodeMapRoutes(app);
  registerLockRoutes(app);
  registerScnRoutes(app);
  registerDiscoveryRoutes(app);
  registerPowerMapRoutes(app);
  registerHardwareRoutes(app);
  return app;
}
