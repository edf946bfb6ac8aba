import type { MiddlewareHandler } from "hono";
import { problemResponse } from "../shared/problem";
import { ConfigError, parseConfig } from "./config";
import { database } from "./db";
import type { AppEnv, Waiter } from "./env";

/**
 * The first middleware: parses the configuration (once per env object) and sets the request's
 * variables. A bad service setting is a 500 naming the variable: the worker cannot answer
 * correctly, and every route says so. A bad auth setting is left for the routes that need auth
 * (503 there), so the boot path keeps serving.
 */
export function requestContext(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { config, auth } = parseConfig(c.env);
    if (config instanceof ConfigError) {
      console.error(config.message);
      return problemResponse(500, config.message);
    }
    c.set("config", config);
    c.set("authConfig", auth);
    c.set("db", database(c.env.DB));
    c.set("waiter", waiterOf(c));
    return next();
  };
}

/** The request's ExecutionContext when there is one (Hono throws on access when there is not). */
function waiterOf(c: { executionCtx: Waiter }): Waiter | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}
