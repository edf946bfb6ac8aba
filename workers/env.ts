import type { Principal } from "./auth/verify";

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

/** `principal`: who the request's token speaks for (set by the auth middleware on protected routes). */
export type AppEnv = { Bindings: Env; Variables: { principal?: Principal } };
