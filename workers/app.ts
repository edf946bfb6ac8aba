import { Hono } from "hono";
import type { AppEnv } from "./env";
import { onError, onNotFound } from "./http/errors";
import { bssApp } from "./bss/routes";
import { smdApp } from "./smd/routes";

/**
 * All services on one origin, as OpenCHAMI's gateway presents them:
 *   /hsm/v2                          SMD inventory
 *   /boot/v1, /apis/bss/boot/v1      BSS boot parameters and iPXE scripts (the second is the
 *                                    gateway alias; chain URLs keep whichever a node used)
 * `strict: false` ignores a trailing slash everywhere (cloud-init really calls
 * `/hsm/v2/Inventory/EthernetInterfaces/`).
 */
export function createApp() {
  const app = new Hono<AppEnv>({ strict: false });
  app.onError(onError);
  app.notFound(onNotFound);
  app.route("/hsm/v2", smdApp());
  const bss = bssApp();
  app.route("/boot/v1", bss);
  app.route("/apis/bss/boot/v1", bss);
  return app;
}
