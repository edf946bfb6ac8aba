/**
 * Structured logs (pino, JSON lines on stdout). One logger per agent; its parts take child
 * loggers. `Logger` is the one logger type the agent's modules accept: the part of pino's
 * interface they call, so a test can pass anything that records `(fields, message)`.
 */
import { pino } from "pino";
import { z } from "zod";

export const logConfigSchema = z
  .strictObject({
    level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** Log every DHCP decision at info (default), or only drops/NAKs/errors (busy sites). */
    dhcpDecisions: z.enum(["all", "problems"]).default("all"),
  })
  .prefault({});

export type LogConfig = z.infer<typeof logConfigSchema>;

/** `log.info({ ip, file }, "message")`: what every module of the agent logs through. */
export interface Logger {
  debug(fields: object, msg: string): void;
  info(fields: object, msg: string): void;
  warn(fields: object, msg: string): void;
  error(fields: object, msg: string): void;
}

/** The agent's root logger (pino): a Logger that can also make children and flush. */
export type AgentLogger = pino.Logger;

export function createLogger(cfg: LogConfig, destination?: pino.DestinationStream): AgentLogger {
  return pino(
    { level: cfg.level, base: { svc: "ochami-agent" }, timestamp: pino.stdTimeFunctions.isoTime },
    destination ?? pino.destination({ sync: false }),
  );
}
