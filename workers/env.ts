import type { Principal } from "./auth/verify";
import type { BootReader } from "./boot/reader";
import type { AuthConfig, Config, ConfigError, WorkerVariable } from "./config";
import type { Db } from "./db";

/**
 * What the worker receives from its runtime: the D1 binding and its string variables
 * (wrangler.toml [vars], `wrangler secret`, or OCHAMI_* under `npm start`). workers/config.ts
 * parses the variables; nothing else reads them.
 */
export type Bindings = { DB: D1Database } & { [V in WorkerVariable]?: string } & {
  /** Under `npm start` with several API processes: this one's number (1, 2, …) and the others' own sockets (boot/snapshot/peers.ts). */
  API_PROCESS?: string;
  [peer: `BOOT_PEER_${number}`]: Fetcher;
};

/** Keeps work alive after the response (the request's ExecutionContext). */
export interface Waiter {
  waitUntil(p: Promise<unknown>): void;
}

/**
 * Per-request values, set once by middleware (workers/request-context.ts) before any route:
 * handlers read `c.var.db`, `c.var.config`, … and never parse the environment themselves.
 */
export interface RequestVariables {
  /** The service settings (a bad one answers 500 before any route runs). */
  config: Config;
  /** How tokens are minted and checked, or why they cannot be (closes only what needs auth). */
  authConfig: AuthConfig | ConfigError;
  /** drizzle over the D1 binding, one per binding. */
  db: Db;
  /** The request's ExecutionContext; undefined where the runtime has none. */
  waiter: Waiter | undefined;
  /** Who the request's token speaks for: set by the auth gate on protected routes. */
  principal?: Principal;
}

/** The app's Hono environment: every router is `Hono<AppEnv>` (or OpenAPIHono<AppEnv>). */
export type AppEnv = { Bindings: Bindings; Variables: RequestVariables };

/** Routes of the boot path also get the boot reader, chosen once per request (workers/boot/reader.ts). */
export type BootEnv = { Bindings: Bindings; Variables: RequestVariables & { boot: BootReader } };
