/**
 * Bindings the worker receives. Variables come from wrangler.toml [vars] and, under `npm start`,
 * from OCHAMI_* environment variables (onprem-agent/api-runner). All are strings; parse them in
 * workers/config.ts, the one place that knows their meaning and defaults.
 */
export interface Env {
  DB: D1Database;
  OCHAMI_AUTH?: string;
  [variable: string]: unknown;
}

export type AppEnv = { Bindings: Env };
