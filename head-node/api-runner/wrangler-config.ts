import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "smol-toml";
import { repoRoot } from "../../shared/head-node-state";

/** What the runner needs from wrangler.toml, the one place the worker's deployment settings live. */
export interface WorkerSettings {
  main: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  d1DatabaseId: string;
  d1Binding: string;
  migrationsDir: string;
  vars: Record<string, string>;
}

export function readWorkerSettings(file = path.join(repoRoot, "wrangler.toml")): WorkerSettings {
  const toml = parse(readFileSync(file, "utf8")) as Record<string, any>;
  const d1 = toml.d1_databases?.[0];
  if (!d1?.database_id || !d1?.binding) throw new Error(`${file}: [[d1_databases]] needs binding and database_id`);
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(toml.vars ?? {})) vars[k] = String(v);
  return {
    main: path.resolve(path.dirname(file), toml.main),
    compatibilityDate: toml.compatibility_date,
    compatibilityFlags: toml.compatibility_flags ?? [],
    d1DatabaseId: d1.database_id,
    d1Binding: d1.binding,
    migrationsDir: path.resolve(path.dirname(file), d1.migrations_dir ?? "migrations"),
    vars,
  };
}
