import { authGate } from "./auth/middleware";
import { authApp } from "./auth/routes";
import { noteBootWrites } from "./boot/snapshot/current";
import { bssApp } from "./bss/routes";
import { cloudInitApp } from "./cloud-init/routes";
import { registerClusterCaRoutes } from "./cluster-ca";
import { docsApp } from "./docs/routes";
import { onError, onNotFound } from "./http/errors";
import { router } from "./http/route";
import { requestContext } from "./request-context";
import { smdApp } from "./smd/routes";
import { uiApp } from "./ui/routes";

/**
 * All services on one origin, as OpenCHAMI's gateway presents them:
 *   /hsm/v2                          SMD inventory
 *   /boot/v1, /apis/bss/boot/v1      BSS boot parameters and iPXE scripts (the second is the
 *                                    gateway alias; chain URLs keep whichever a node used)
 *   /cloud-init                      cloud-init server (NoCloud data for nodes, admin API)
 *   /token, /oauth2/token, /keys, /.well-known/*, /auth/clients   our token issuer (workers/auth)
 *   /openapi.json, /docs             this API described (workers/docs)
 *   /ca.pem                          the CA of the HTTPS certificate (workers/cluster-ca.ts)
 *   /ui                              the dashboard: a page and its files, and three reads for it (workers/ui)
 * Middleware, in order: the request's context (configuration, database), the boot snapshot's
 * write tracking, then the one auth gate (workers/auth/policy.ts says what each route needs),
 * before every route and before 404s.
 */
export function createApp() {
  const app = router();
  app.onError(onError);
  app.notFound(onNotFound);
  app.use("*", requestContext());
  // Before auth, so a write it lets through always counts (see workers/boot/snapshot/current.ts).
  app.use("*", noteBootWrites());
  app.use("*", authGate());
  app.route("/", authApp());
  registerClusterCaRoutes(app);
  app.route("/hsm/v2", smdApp());
  const bss = bssApp();
  app.route("/boot/v1", bss);
  app.route("/apis/bss/boot/v1", bss);
  app.route("/cloud-init", cloudInitApp());
  app.route("/", uiApp());
  app.route("/", docsApp(app));
  return app;
}
