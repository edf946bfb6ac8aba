/** Structured logs (pino, JSON lines on stdout). One logger per agent; modules take child loggers. */
import { pino, type Logger } from "pino";
import { z } from "zod";

export const logConfigSchema = z
  .strictObject({
    level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    /** Log every DHCP decision at info (default), or only drops/NAKs/errors (busy sites). */
    dhcpDecisions: z.enum(["all", "problems"]).default("all"),
  })
  .prefault({});

export type LogConfig = z.infer<typeof logConfigSchema>;
export type { Logger };

export function createLogger(cfg: LogConfig, destination?: pino.DestinationStream): Logger {
  return pino({ level: cfg.level, base: { svc: "ochami-agent" }, timestamp: pino.stdTimeFunctions.isoTime }, destination ?? pino.destination({ sync: false }));
}
