import { Hono } from "hono";
import type { AppEnv } from "./env";
import { onError, onNotFound } from "./http/errors";
import { registerHistoryRoutes } from "./history/routes";
import { smdApp } from "./smd/routes";

/**
 * All services on one origin, as OpenCHAMI's gateway presents them:
 *   /hsm/v2        SMD inventory
 * `strict: false` ignores a trailing slash everywhere (cloud-init really calls
 * `/hsm/v2/Inventory/EthernetInterfaces/`).
 */
export function createApp() {
  const app = new Hono<AppEnv>({ strict: false });
  app.onError(onError);
  app.notFound(onNotFound);
  app.route("/hsm/v2", smdApp());
  // Interim mount until BSS (issue 3) mounts the history routes inside its own app.
  for (const base of ["/boot/v1", "/apis/bss/boot/v1"]) {
    const history = new Hono<AppEnv>({ strict: false });
    registerHistoryRoutes(history);
    app.route(base, history);
  }
  return app;
}
