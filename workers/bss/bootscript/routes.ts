import type { Context, Hono } from "hono";
import { parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { currentSnapshot } from "../../boot-snapshot/current";
import { configOf, nodeBaseUrl } from "../../config";
import { type Db, database } from "../../db";
import { recordBootEvent, waiterOf } from "../../history/recorder";
import { clientAddress } from "../../http/client-ip";
import { parseGoInt, Query } from "../../http/query";
import { resource } from "../../http/routes";
import { type BootKey, resolveBoot } from "./lookup";
import { type BootRequest, decideBootscript, type ScriptSettings } from "./script";

/** One value of a parameter; upstream concatenates repeats, which only ever makes garbage. */
function single(q: Query, name: string): string {
  const values = q.all(name).filter((v) => v !== "");
  if (values.length > 1) throw new HttpProblem(400, `Bad Request: give one ${name}= value, not ${values.length}`);
  return values[0] ?? "";
}

/** `mac` wins over `name` over `nid`, as upstream; empty values count as absent. */
export function parseBootRequest(q: Query, nowSeconds: number): BootRequest {
  const mac = single(q, "mac");
  const name = single(q, "name");
  const nid = parseGoInt(single(q, "nid")) ?? -1;
  let key: BootKey;
  if (mac) {
    const r = parseMac(mac);
    if (!r.ok) throw new HttpProblem(400, `Bad Request: invalid MAC address format: ${mac}`);
    key = { mac: r.mac };
  } else if (name) {
    const x = parseXname(name);
    if (!x) throw new HttpProblem(400, `Bad Request: invalid xname: ${name}`);
    key = { name: x.id };
  } else if (nid >= 0) {
    key = { nid };
  } else {
    throw new HttpProblem(400, "Need a mac=, name=, or nid= parameter");
  }
  const json = q.first("json") ?? "";
  return {
    key,
    retry: Math.max(0, parseGoInt(q.first("retry") ?? "") ?? 0),
    // Only ever echoed into a 404 message; kept short and printable.
    arch: (q.first("arch") ?? "")
      .trim()
      .replace(/[^\w.-]/g, "")
      .slice(0, 32),
    ts: parseGoInt(q.first("ts") ?? "") ?? nowSeconds,
    json: /^(true|yes)$/i.test(json) || (parseGoInt(json) ?? 0) !== 0,
  };
}

/** Where this request came in (`/boot/v1` or `/apis/bss/boot/v1`): the chain URL keeps the prefix. */
function settingsFor(c: Context): ScriptSettings {
  const config = configOf(c.env);
  const base = nodeBaseUrl(c.env, c.req.url);
  const path = new URL(c.req.url).pathname.replace(/\/+$/, "");
  return {
    chainUrl: `${base}${path}`,
    cloudInitUrl: `${base}/cloud-init/`,
    retryDelay: config.retryDelay,
    unknownDelay: config.unknownDelay,
  };
}

/** What a known node's fetch produces, kept with the snapshot it came from (keyed by the URL). */
interface Answer {
  name: string;
  mac: string;
  note: string;
  body: string;
  contentType: string;
}

/**
 * GET /bootscript?mac=|name=|nid= [&retry=&arch=&ts=&json=1]: the iPXE script for a node, from the
 * boot snapshot (workers/boot-snapshot), else one D1 round trip (lookup.ts); every fetch is
 * recorded in the boot history off the response path. A known node's answer depends only on the
 * snapshot and the URL (its query, and the origin the chain URL keeps), so the snapshot keeps it:
 * iPXE asks with the same URL on every boot.
 */
export function registerBootscriptRoutes(app: Hono<any>) {
  resource(app, "/bootscript", {
    GET: async (c) => {
      const now = Date.now();
      const db = database(c.env.DB);
      const snapshot = await currentSnapshot(c.env, waiterOf(c));
      const memoKey = `bootscript\0${c.req.url}`;
      let answer = snapshot?.memoGet<Answer>(memoKey);
      if (!answer) {
        const req = parseBootRequest(Query.of(c.req.raw), Math.floor(now / 1000));
        const resolution = snapshot ? snapshot.resolveBoot(req.key) : await resolveBoot(db, req.key);
        const outcome = decideBootscript(req, resolution, settingsFor(c));
        // The node's xname; for a name SMD does not know, the name it asked with.
        const name = resolution.component?.id ?? ("name" in req.key ? req.key.name : "");
        const mac = "mac" in req.key ? req.key.mac : "";
        if (outcome.kind === "problem") {
          record(c, db, { name, mac, note: outcome.note }, now);
          throw new HttpProblem(outcome.status, outcome.detail);
        }
        answer =
          outcome.kind === "script"
            ? { name, mac, note: outcome.note, body: outcome.body, contentType: "text/plain; charset=UTF-8" }
            : { name, mac, note: outcome.note, body: JSON.stringify(outcome.body), contentType: "application/json; charset=UTF-8" };
        // Only a node with something to boot: the retry script carries the time it was asked.
        if (resolution.config) snapshot?.memoSet(memoKey, answer);
      }
      record(c, db, answer, now);
      return new Response(answer.body, { headers: { "content-type": answer.contentType } });
    },
  });
}

function record(c: Context, db: Db, what: { name: string; mac: string; note: string }, timeMs: number) {
  const config = configOf(c.env);
  const client = clientAddress(c.req.raw, config.trustedProxies);
  recordBootEvent(waiterOf(c), db, config.historyMax, {
    name: what.name,
    mac: what.mac,
    ip: client.ok ? client.ip : "",
    endpoint: "bootscript",
    timeMs,
    detail: what.note.slice(0, 512),
  });
}
