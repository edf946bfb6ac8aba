/** zod building blocks shared by the agent's config sections. */
import { z } from "zod";

const UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** A duration in seconds: a number, or a string such as "90s", "5m", "1h" (as coresmd's config). */
export const seconds = z.union([
  z.number().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, 'a duration such as "30s", "5m" or "1h"')
    .transform((s) => {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s)!;
      return Number(m[1]) * UNITS[m[2]];
    }),
]);

export const ipv4 = z.ipv4();
export const cidrv4 = z.cidrv4();
export const port = z.int().min(0).max(65535);
export const httpUrl = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ""));
