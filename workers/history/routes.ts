import type { Context, Hono } from "hono";
import { BOOT_STEPS, isBootStep } from "../../shared/boot-events";
import { isIP } from "../../shared/ip";
import { normalizeMac } from "../../shared/mac";
import { HttpProblem } from "../../shared/problem";
import { parseXname } from "../../shared/xname";
import { configOf } from "../config";
import { database } from "../db";
import { readJson } from "../http/body";
import { objectBody, optArray, optInt, optString } from "../http/decode";
import { isPlainObject } from "../http/json-keys";
import { Query } from "../http/query";
import { resource } from "../http/routes";
import { type BootEvent, eventJson, latestJson } from "./model";
import { recordBootEvents, settleBootEvents, waiterOf } from "./recorder";
import * as store from "./store";

const MAX_EVENTS_PER_POST = 10_000;

function parseQuery(q: Query): store.HistoryQuery {
  const limitRaw = q.first("limit");
  const limit = limitRaw === undefined ? 10_000 : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100_000) throw new HttpProblem(400, "limit must be an integer from 1 to 100000");
  const num = (name: string) => {
    const raw = q.first(name);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new HttpProblem(400, `${name} must be a number`);
    return n;
  };
  return {
    names: q
      .all("name")
      .flatMap((v) => v.split(","))
      .map((v) => parseXname(v)?.id ?? v.trim()),
    endpoints: q
      .all("endpoint")
      .flatMap((v) => v.split(","))
      .map((v) => v.trim()),
    sinceMs: num("since_ms") ?? (num("since") !== undefined ? num("since")! * 1000 : undefined),
    afterId: num("after_id"),
    limit,
  };
}

function parseEvent(raw: unknown, i: number): BootEvent {
  const path = `events[${i}]`;
  const b = objectBody(raw, ["name", "mac", "ip", "endpoint", "epoch_ms", "detail"] as const, path);
  const endpoint = optString(b.endpoint, `${path}.endpoint`) ?? "";
  if (!isBootStep(endpoint)) throw new HttpProblem(400, `${path}.endpoint must be one of ${BOOT_STEPS.join(", ")}`);
  const rawMac = optString(b.mac, `${path}.mac`);
  const mac = rawMac === undefined || rawMac === "" ? "" : normalizeMac(rawMac);
  if (mac === undefined) throw new HttpProblem(400, `${path}.mac is not a MAC address: '${rawMac}'`);
  const ip = optString(b.ip, `${path}.ip`)?.trim() ?? "";
  if (ip !== "" && !isIP(ip)) throw new HttpProblem(400, `${path}.ip is not an IP address: '${ip}'`);
  const rawName = optString(b.name, `${path}.name`) ?? "";
  const name = rawName === "" ? "" : parseXname(rawName)?.id;
  if (name === undefined) throw new HttpProblem(400, `${path}.name is not a valid xname: '${rawName}'`);
  if (!name && !mac && !ip) throw new HttpProblem(400, `${path} needs a name, mac or ip`);
  const timeMs = optInt(b.epoch_ms, `${path}.epoch_ms`) ?? Date.now();
  const detail = (optString(b.detail, `${path}.detail`) ?? "").slice(0, 512);
  return { name, mac, ip, endpoint, timeMs, detail };
}

/**
 * /endpoint-history under BSS:
 *  GET  — upstream's `[{name, endpoint, last_epoch}]`, the latest per node and step
 *         (filters `name`, `endpoint`, `since`); `?history=true` gives the event log instead,
 *         oldest first (`after_id` to follow it).
 *  POST — the on-prem agent reports steps it served: `{"events":[{mac, ip, name?, endpoint, epoch_ms, detail}]}`.
 */
export function registerHistoryRoutes(app: Hono<any>) {
  resource(app, "/endpoint-history", {
    GET: async (c: Context) => {
      const db = database(c.env.DB);
      const { historyMax } = configOf(c.env);
      await settleBootEvents(db, historyMax);
      const q = Query.of(c.req.raw);
      const query = parseQuery(q);
      if (q.flag("history")) return c.json((await store.events(db, query)).map(eventJson));
      return c.json((await store.latest(db, query)).map(latestJson));
    },
    POST: async (c: Context) => {
      const body = await readJson(c.req.raw);
      if (!isPlainObject(body)) throw new HttpProblem(400, 'expected {"events":[...]}');
      const list = optArray(objectBody(body, ["events"] as const).events, "events") ?? [];
      if (list.length > MAX_EVENTS_PER_POST) throw new HttpProblem(413, `at most ${MAX_EVENTS_PER_POST} events per request`);
      const events = list.map(parseEvent);
      recordBootEvents(waiterOf(c), database(c.env.DB), configOf(c.env).historyMax, events);
      return c.json({ accepted: events.length }, 202);
    },
  });
}
