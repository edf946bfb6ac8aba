import { registerHistoryRoutes } from "../history/routes";
import { router } from "../http/route";
import { registerBootscriptRoutes } from "./bootscript/routes";
import { registerHostRoutes } from "./hosts/routes";
import { registerBootParameterRoutes } from "./params/routes";
import { registerServiceRoutes } from "./service/routes";

/**
 * BSS, mounted at /boot/v1 and again at /apis/bss/boot/v1 (the gateway alias OpenCHAMI's
 * deployments use). Boot parameters, iPXE scripts, the hosts view of SMD, boot history, status.
 */
export function bssApp() {
  const app = router();
  registerBootParameterRoutes(app);
  registerBootscriptRoutes(app);
  registerHostRoutes(app);
  registerHistoryRoutes(app);
  registerServiceRoutes(app);
  return app;
}
