import { readFileSync } from "node:fs";
import path from "node:path";
import { parse } from "smol-toml";
import { z } from "zod";
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

/** The part of wrangler.toml the runner reads; wrangler itself checks the rest. */
const WranglerToml = z.object({
  main: z.string().min(1),
  compatibility_date: z.string().min(1),
  compatibility_flags: z.array(z.string()).default([]),
  d1_databases: z
    .array(z.object({ binding: z.string().min(1), database_id: z.string().min(1), migrations_dir: z.string().optional() }), {
      error: "[[d1_databases]] needs binding and database_id",
    })
    .min(1, "[[d1_databases]] needs binding and database_id"),
  vars: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
});

export function readWorkerSettings(file = path.join(repoRoot, "wrangler.toml")): WorkerSettings {
  const parsed = WranglerToml.safeParse(parse(readFileSync(file, "utf8")));
  if (!parsed.success)
    throw new Error(`${file}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`);
  const toml = parsed.data;
  const d1 = toml.d1_databases[0];
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(toml.vars)) vars[k] = String(v);
  return {
    main: path.resolve(path.dirname(file), toml.main),
    compatibilityDate: toml.compatibility_date,
    compatibilityFlags: toml.compatibility_flags,
    d1DatabaseId: d1.database_id,
    d1Binding: d1.binding,
    migrationsDir: path.resolve(path.dirname(file), d1.migrations_dir ?? "migrations"),
    vars,
  };
}
