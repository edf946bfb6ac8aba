import { sql } from "drizzle-orm";
import { z } from "zod";
import { snapshotStats } from "../../boot/snapshot/current";
import type { Db } from "../../db";
import { bootConfigs, components } from "../../db/schema";
import { op, type Router, resource } from "../../http/route";
import { json } from "../../http/wire";
import { VERSION } from "../../version";

type Check = "connected" | "error";

/**
 * SMD lives in the same D1 database and the same process: "connected" means its table answers.
 * One cheap indexed read; the error is logged, never sent (it may hold internals).
 */
async function check(db: Db, table: typeof components | typeof bootConfigs): Promise<Check> {
  try {
    await db.get(sql`SELECT 1 FROM ${table} LIMIT 1`);
    return "connected";
  } catch (err) {
    console.error(`bss: ${table === components ? "SMD" : "storage"} check failed:`, (err as Error).message);
    return "error";
  }
}

const storage = (status: Check) => ({ name: "d1", status });
const Status = z.looseObject({}).meta({ description: "upstream BSS's status fields" });

/** /service/*: upstream's bodies; 500 when a check fails. `version` is the real release version. */
export function registerServiceRoutes(app: Router) {
  const tags = ["BSS"];
  const service = (summary: string) => ({ summary, tags, responses: { 200: json(Status, "up"), 500: json(Status, "a check failed") } });
  resource(app, "/service/status", { get: op(service("Is BSS running?"), (c) => c.json({ "bss-status": "running" })) });
  resource(app, "/service/version", { get: op(service("BSS's version"), (c) => c.json({ "bss-version": VERSION })) });
  // Ours: the boot snapshot of the isolate that answers (workers/boot/snapshot/current.ts).
  resource(app, "/service/snapshot", {
    get: op(service("The boot snapshot of the isolate that answers (ours)"), (c) =>
      c.json({ mode: c.var.config.bootSnapshot, process: Number(c.env.API_PROCESS ?? 1), ...snapshotStats }),
    ),
  });
  resource(app, "/service/hsm", {
    get: op(service("Does BSS reach SMD?"), async (c) => {
      const hsm = await check(c.var.db, components);
      return c.json({ "bss-status-hsm": hsm }, hsm === "connected" ? 200 : 500);
    }),
  });
  resource(app, "/service/storage/status", {
    get: op(service("Does BSS reach its storage?"), async (c) => {
      const s = await check(c.var.db, bootConfigs);
      return c.json({ "bss-storage-backend": storage(s) }, s === "connected" ? 200 : 500);
    }),
  });
  resource(app, "/service/status/all", {
    get: op(service("All of BSS's checks"), async (c) => {
      const [hsm, s] = await Promise.all([check(c.var.db, components), check(c.var.db, bootConfigs)]);
      const body = { "bss-version": VERSION, "bss-status": "running", "bss-status-hsm": hsm, "bss-storage-backend": storage(s) };
      return c.json(body, hsm === "connected" && s === "connected" ? 200 : 500);
    }),
  });
}
