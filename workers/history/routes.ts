import { z } from "zod";
import { BOOT_STEPS, isBootStep } from "../../shared/boot-events";
import { isIP } from "../../shared/ip";
import { normalizeMac } from "../../shared/mac";
import { HttpProblem } from "../../shared/problem";
import { parseXname } from "../../shared/xname";
import { op, type Router, resource } from "../http/route";
import { goInt, goObject, json, jsonBody, opt, problems, queryFlag, refuse } from "../http/wire";
import { type BootEvent, eventJson, latestJson } from "./model";
import { recordBootEvents, settleBootEvents } from "./recorder";
import * as store from "./store";

const MAX_EVENTS_PER_POST = 10_000;

/** Repeated or comma-separated; an empty value stays (it selects events of no known node). */
const list = z.array(z.string()).transform((vs) => vs.flatMap((v) => v.split(",")).map((v) => v.trim()));

const number = (name: string) =>
  z.string().transform((raw, ctx) => {
    const n = Number(raw);
    return Number.isFinite(n) ? n : refuse(ctx, `${name} must be a number`, raw);
  });

const HistoryQuery = z
  .object({
    name: list.optional().meta({ description: "xnames; an empty value selects events of no known node" }),
    endpoint: list.optional().meta({ description: `steps: ${BOOT_STEPS.join(", ")}` }),
    since: number("since").optional().meta({ description: "Unix seconds" }),
    since_ms: number("since_ms").optional().meta({ description: "Unix milliseconds" }),
    after_id: number("after_id").optional().meta({ description: "with `history=true`: events after this id (to follow the log)" }),
    limit: z
      .string()
      .optional()
      .meta({ description: "at most this many rows (1 to 100000, default 10000)" })
      .transform((raw, ctx) => {
        const limit = raw === undefined ? 10_000 : Number(raw);
        if (Number.isInteger(limit) && limit >= 1 && limit <= 100_000) return limit;
        return refuse(ctx, "limit must be an integer from 1 to 100000", raw);
      }),
    history: queryFlag.optional().meta({ description: "the event log, oldest first, instead of the latest per node and step" }),
  })
  .transform((q): store.HistoryQuery & { history: boolean } => ({
    names: (q.name ?? []).map((v) => parseXname(v)?.id ?? v),
    endpoints: q.endpoint ?? [],
    sinceMs: q.since_ms ?? (q.since !== undefined ? q.since * 1000 : undefined),
    afterId: q.after_id,
    limit: q.limit,
    history: q.history ?? false,
  }));

/** One reported event as it arrives; reportedEvent() checks what it means. */
const ReportedEvent = goObject(
  {
    name: opt(z.string()).meta({ description: "the node's xname, when the reporter knows it" }),
    mac: opt(z.string()),
    ip: opt(z.string()),
    endpoint: opt(z.string()).meta({ description: `the step: ${BOOT_STEPS.join(", ")}` }),
    epoch_ms: opt(goInt),
    detail: opt(z.string()),
  },
  { id: "ReportedBootEvent" },
);

const ReportedEvents = goObject(
  {
    events: opt(
      z
        .array(z.unknown())
        .check((ctx) => {
          if (ctx.value.length > MAX_EVENTS_PER_POST)
            ctx.issues.push({
              code: "custom",
              message: `at most ${MAX_EVENTS_PER_POST} events per request`,
              input: ctx.value,
              params: { status: 413 },
            });
        })
        .pipe(z.array(ReportedEvent)),
    ),
  },
  { description: "steps the on-prem agent served (DHCP, TFTP, images)" },
  { notObject: 'expected {"events":[...]}' },
);

function reportedEvent(b: z.output<typeof ReportedEvent>, i: number): BootEvent {
  const path = `events[${i}]`;
  const endpoint = b.endpoint ?? "";
  if (!isBootStep(endpoint)) throw new HttpProblem(400, `${path}.endpoint must be one of ${BOOT_STEPS.join(", ")}`);
  const rawMac = b.mac ?? "";
  const mac = rawMac === "" ? "" : normalizeMac(rawMac);
  if (mac === undefined) throw new HttpProblem(400, `${path}.mac is not a MAC address: '${rawMac}'`);
  const ip = b.ip?.trim() ?? "";
  if (ip !== "" && !isIP(ip)) throw new HttpProblem(400, `${path}.ip is not an IP address: '${ip}'`);
  const rawName = b.name ?? "";
  const name = rawName === "" ? "" : parseXname(rawName)?.id;
  if (name === undefined) throw new HttpProblem(400, `${path}.name is not a valid xname: '${rawName}'`);
  if (!name && !mac && !ip) throw new HttpProblem(400, `${path} needs a name, mac or ip`);
  return { name, mac, ip, endpoint, timeMs: b.epoch_ms ?? Date.now(), detail: (b.detail ?? "").slice(0, 512) };
}

const Latest = z.looseObject({ name: z.string(), endpoint: z.string(), last_epoch: z.int() }).meta({ id: "LatestBootStep" });
const Recorded = z
  .looseObject({ id: z.int(), name: z.string(), endpoint: z.string(), epoch_ms: z.int() })
  .meta({ id: "RecordedBootEvent" });

/**
 * /endpoint-history under BSS:
 *  GET  — upstream's `[{name, endpoint, last_epoch}]`, the latest per node and step
 *         (filters `name`, `endpoint`, `since`); `?history=true` gives the event log instead,
 *         oldest first (`after_id` to follow it).
 *  POST — the on-prem agent reports steps it served: `{"events":[{mac, ip, name?, endpoint, epoch_ms, detail}]}`.
 */
export function registerHistoryRoutes(app: Router) {
  const tags = ["Boot history"];
  resource(app, "/endpoint-history", {
    get: op(
      {
        summary: "Boot history: the latest fetch per node and step, or the event log",
        tags,
        request: { query: HistoryQuery },
        responses: {
          200: json(z.union([z.array(Latest), z.array(Recorded)]), "latest steps (or events with history=true)"),
          ...problems(400),
        },
      },
      async (c) => {
        await settleBootEvents(c.var);
        const query = c.req.valid("query");
        if (query.history) return c.json((await store.events(c.var.db, query)).map(eventJson));
        return c.json((await store.latest(c.var.db, query)).map(latestJson));
      },
    ),
    post: op(
      {
        summary: "Report boot steps (the on-prem agent)",
        tags,
        request: { body: jsonBody(ReportedEvents) },
        responses: { 202: json(z.object({ accepted: z.int() }), "queued for the history"), ...problems(400, 413) },
      },
      async (c) => {
        const events = (c.req.valid("json").events ?? []).map(reportedEvent);
        recordBootEvents(c.var, events);
        return c.json({ accepted: events.length }, 202);
      },
    ),
  });
}
