import { Hono } from "hono";
import { authGate } from "./auth/middleware";
import { authApp } from "./auth/routes";
import { noteBootWrites } from "./boot-snapshot/current";
import { bssApp } from "./bss/routes";
import { cloudInitApp } from "./cloud-init/routes";
import type { AppEnv } from "./env";
import { onError, onNotFound } from "./http/errors";
import { smdApp } from "./smd/routes";

/**
 * All services on one origin, as OpenCHAMI's gateway presents them:
 *   /hsm/v2                          SMD inventory
 *   /boot/v1, /apis/bss/boot/v1      BSS boot parameters and iPXE scripts (the second is the
 *                                    gateway alias; chain URLs keep whichever a node used)
 *   /cloud-init                      cloud-init server (NoCloud data for nodes, admin API)
 *   /token, /oauth2/token, /keys, /.well-known/*, /auth/clients   our token issuer (workers/auth)
 * `strict: false` ignores a trailing slash everywhere (cloud-init really calls
 * `/hsm/v2/Inventory/EthernetInterfaces/`).
 * The auth gate runs before every route (and before 404s): workers/auth/policy.ts says what each
 * route needs.
 */
export function createApp() {
  const app = new Hono<AppEnv>({ strict: false });
  app.onError(onError);
  app.notFound(onNotFound);
  // Before auth, so a write it lets through always counts (see workers/boot-snapshot/current.ts).
  app.use("*", noteBootWrites());
  app.use("*", authGate());
  app.route("/", authApp());
  app.route("/hsm/v2", smdApp());
  const bss = bssApp();
  app.route("/boot/v1", bss);
  app.route("/apis/bss/boot/v1", bss);
  app.route("/cloud-init", cloudInitApp());
  return app;
}
