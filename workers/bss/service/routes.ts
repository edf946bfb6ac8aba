import type { Context, Hono } from "hono";
import { snapshotStats } from "../../boot-snapshot/current";
import { configOf } from "../../config";
import { resource } from "../../http/routes";
import { VERSION } from "../../version";

type Check = "connected" | "error";

/**
 * SMD lives in the same D1 database and the same process: "connected" means its table answers.
 * One cheap indexed read; the error is logged, never sent (it may hold internals).
 */
async function check(c: Context, table: "components" | "boot_configs"): Promise<Check> {
  try {
    await c.env.DB.prepare(`SELECT 1 FROM ${table} LIMIT 1`).first();
    return "connected";
  } catch (err) {
    console.error(`bss: ${table} check failed:`, (err as Error).message);
    return "error";
  }
}

const storage = (status: Check) => ({ name: "d1", status });

/** /service/*: upstream's bodies; 500 when a check fails. `version` is the real release version. */
export function registerServiceRoutes(app: Hono<any>) {
  resource(app, "/service/status", { GET: (c) => c.json({ "bss-status": "running" }) });
  resource(app, "/service/version", { GET: (c) => c.json({ "bss-version": VERSION }) });
  // Ours: the boot snapshot of the isolate that answers (workers/boot-snapshot/current.ts).
  resource(app, "/service/snapshot", { GET: (c) => c.json({ mode: configOf(c.env).bootSnapshot, ...snapshotStats }) });
  resource(app, "/service/hsm", {
    GET: async (c) => {
      const hsm = await check(c, "components");
      return c.json({ "bss-status-hsm": hsm }, hsm === "connected" ? 200 : 500);
    },
  });
  resource(app, "/service/storage/status", {
    GET: async (c) => {
      const s = await check(c, "boot_configs");
      return c.json({ "bss-storage-backend": storage(s) }, s === "connected" ? 200 : 500);
    },
  });
  resource(app, "/service/status/all", {
    GET: async (c) => {
      const [hsm, s] = await Promise.all([check(c, "components"), check(c, "boot_configs")]);
      const body = { "bss-version": VERSION, "bss-status": "running", "bss-status-hsm": hsm, "bss-storage-backend": storage(s) };
      return c.json(body, hsm === "connected" && s === "connected" ? 200 : 500);
    },
  });
}
