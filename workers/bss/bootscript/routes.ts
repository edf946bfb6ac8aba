import { z } from "zod";
import { parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import type { BootKey } from "../../boot/types";
import { nodeBaseUrl } from "../../config";
import type { BootEnv } from "../../env";
import { recordBootEvent } from "../../history/recorder";
import { clientAddress } from "../../http/client-ip";
import { parseGoInt } from "../../http/query";
import { op, type RequestScope, type Router, resource, scopeOf } from "../../http/route";
import { problems, refuse, text } from "../../http/wire";
import { type BootRequest, decideBootscript, type ScriptSettings } from "./script";

/** One value of a parameter (empty values count as absent); upstream concatenates repeats, which only ever makes garbage. */
const single = (name: string) =>
  z
    .array(z.string())
    .transform((values, ctx) => {
      const given = values.filter((v) => v !== "");
      if (given.length > 1) return refuse(ctx, `Bad Request: give one ${name}= value, not ${given.length}`, values);
      return given[0] ?? "";
    })
    .optional()
    .meta({ type: "string" });

const first = z.string().optional();

/**
 * The query of GET /bootscript: `mac` wins over `name` over `nid`, as upstream; only the one that
 * wins must be valid. Pure (the route validates it lazily, see answerFor): a missing `ts` stays
 * missing here and is the time of the answer.
 */
export const BootscriptQuery = z
  .object({
    mac: single("mac").meta({ description: "the booting NIC's MAC, any usual spelling", example: "52:54:00:be:ef:01" }),
    name: single("name").meta({ description: "the node's xname" }),
    nid: single("nid").meta({ description: "the node's NID" }),
    retry: first.meta({ description: "how many times iPXE has failed to boot so far (set by our own chain URLs)" }),
    arch: first.meta({ description: "iPXE's build architecture (`buildarch`); given on the second round for a node with nothing to boot" }),
    ts: first.meta({ description: "Unix seconds of the first round (set by our own chain URLs)" }),
    json: first.meta({ description: "`1` or `true`: the answer as JSON instead of an iPXE script" }),
  })
  .transform((q, ctx): ParsedBootRequest => {
    let key: BootKey;
    const nid = parseGoInt(q.nid ?? "") ?? -1;
    if (q.mac) {
      const r = parseMac(q.mac);
      if (!r.ok) return refuse(ctx, `Bad Request: invalid MAC address format: ${q.mac}`);
      key = { mac: r.mac };
    } else if (q.name) {
      const x = parseXname(q.name);
      if (!x) return refuse(ctx, `Bad Request: invalid xname: ${q.name}`);
      key = { name: x.id };
    } else if (nid >= 0) {
      key = { nid };
    } else {
      return refuse(ctx, "Need a mac=, name=, or nid= parameter");
    }
    const json = q.json ?? "";
    return {
      key,
      retry: Math.max(0, parseGoInt(q.retry ?? "") ?? 0),
      // Only ever echoed into a 404 message; kept short and printable.
      arch: (q.arch ?? "")
        .trim()
        .replace(/[^\w.-]/g, "")
        .slice(0, 32),
      ts: parseGoInt(q.ts ?? ""),
      json: /^(true|yes)$/i.test(json) || (parseGoInt(json) ?? 0) !== 0,
    };
  });

type ParsedBootRequest = Omit<BootRequest, "ts"> & { ts: number | undefined };

/** What a fetch produces: its answer and what the boot history records of it. */
interface Answer {
  name: string;
  mac: string;
  /** The node is an SMD Node (the recorder then needs no lookup of its own). */
  inSmd: boolean;
  note: string;
  body: string;
  contentType: string;
}

/**
 * GET /bootscript: the iPXE script for a node (upstream's line format), or its JSON form, or a 404
 * saying why it gets none. Every fetch is recorded in the boot history, off the response path.
 * A known node's answer depends only on the boot data and the URL (its query, and the origin the
 * chain URL keeps), and iPXE asks with the same URL on every boot, so the reader keeps it.
 */
export function registerBootscriptRoutes(app: Router) {
  resource(app, "/bootscript", {
    get: op(
      {
        summary: "The iPXE boot script of a node",
        description:
          "What iPXE chains to. The node is named by `mac`, `name` or `nid`; its boot parameters are the entry of its xname, " +
          "else its MAC (the booting one first), NID, SMD role, then `Default`. A node with nothing to boot gets one more round " +
          "(a script that sleeps and asks again with its architecture), then a 404 saying why.",
        tags: ["BSS"],
        boot: true,
        lazyQuery: true,
        request: { query: BootscriptQuery },
        responses: {
          200: text("the iPXE script (its JSON form with `json=1`)"),
          ...problems(400, 404),
        },
      },
      async (c) => {
        const query = c.req.valid("query");
        const scope = scopeOf(c);
        const answer = await scope.var.boot.remember(`bootscript\0${scope.req.url}`, () => answerFor(scope, query));
        record(scope, answer);
        return new Response(answer.body, { headers: { "content-type": answer.contentType } });
      },
    ),
  });
}

type BootscriptContext = RequestScope<BootEnv["Variables"]>;

/**
 * Read what the node boots, decide the answer. A 404 is recorded, then thrown. Called only when
 * the reader has no answer for this URL yet: only then is the query parsed (its first read).
 */
async function answerFor(c: BootscriptContext, query: ParsedBootRequest): Promise<{ value: Answer; keep: boolean }> {
  // Field by field: the query is a lazily parsed proxy, and a spread would walk its traps.
  const { key, retry, arch, json, ts = Math.floor(Date.now() / 1000) } = query;
  const req: BootRequest = { key, retry, arch, json, ts };
  const resolution = await c.var.boot.resolveBoot(req.key);
  const outcome = decideBootscript(req, resolution, settingsFor(c));
  // The node's xname; for a name SMD does not know, the name it asked with.
  const name = resolution.component?.id ?? ("name" in req.key ? req.key.name : "");
  const mac = "mac" in req.key ? req.key.mac : "";
  const inSmd = resolution.component !== undefined;
  if (outcome.kind === "problem") {
    record(c, { name, mac, inSmd, note: outcome.note });
    throw new HttpProblem(outcome.status, outcome.detail);
  }
  const value: Answer =
    outcome.kind === "script"
      ? { name, mac, inSmd, note: outcome.note, body: outcome.body, contentType: "text/plain; charset=UTF-8" }
      : { name, mac, inSmd, note: outcome.note, body: JSON.stringify(outcome.body), contentType: "application/json; charset=UTF-8" };
  // Only a node with something to boot: the retry script carries the time it was asked.
  return { value, keep: resolution.config !== undefined };
}

/** Where this request came in (`/boot/v1` or `/apis/bss/boot/v1`): the chain URL keeps the prefix. */
function settingsFor(c: BootscriptContext): ScriptSettings {
  const { config } = c.var;
  const base = nodeBaseUrl(config, c.req.url);
  return {
    chainUrl: `${base}${c.req.path.replace(/\/+$/, "")}`,
    cloudInitUrl: `${base}/cloud-init/`,
    retryDelay: config.retryDelay,
    unknownDelay: config.unknownDelay,
  };
}

function record(c: BootscriptContext, what: { name: string; mac: string; inSmd: boolean; note: string }) {
  const client = clientAddress(c.req.raw, c.var.config.trustedProxies);
  recordBootEvent(c.var, {
    name: what.name,
    mac: what.mac,
    inSmd: what.inSmd,
    ip: client.ok ? client.ip : "",
    endpoint: "bootscript",
    timeMs: Date.now(),
    detail: what.note.slice(0, 512),
  });
}
