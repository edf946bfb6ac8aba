/** zod building blocks shared by the agent's config sections. */
import { z } from "zod";
import { DURATION_HINT, parseDuration } from "../shared/duration";

/** A duration in seconds: a number, or text in the project's duration grammar ("30s", "5m", "1m30s"). */
export const seconds = z.union([
  z.number().nonnegative(),
  z.string().transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined) ctx.addIssue({ code: "custom", message: DURATION_HINT });
    return ms === undefined ? z.NEVER : ms / 1000;
  }),
]);

export const ipv4 = z.ipv4();
export const cidrv4 = z.cidrv4();
export const port = z.int().min(0).max(65535);
export const httpUrl = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, ""));
