import { z } from "zod";
import { parseMac } from "../../shared/mac";
import { HttpProblem } from "../../shared/problem";
import { parseXname } from "../../shared/xname";
import { settleBootEvents } from "../history/recorder";
import { op, resource, router } from "../http/route";
import { json, problems, refuse } from "../http/wire";
import { ASSET_NAMES, assetResponse } from "./assets";
import { explainBoot } from "./explain";
import { bootSummary, FACT_COLUMNS, UNKNOWN_LIMIT, unknownRequesters } from "./summary";

/**
 * The dashboard (docs/dashboard.md): a page and its files under /ui, public because they hold no
 * data, and the three reads the existing APIs cannot answer well for it, which need a token like
 * every other read:
 *   GET /ui/api/boots                 every node's boot-stage facts in one compact read, and the
 *                                     log's cursor the page follows (GET /boot/v1/endpoint-history)
 *   GET /ui/api/unknown               requesters no node in SMD had (the bootloop's MACs)
 *   GET /ui/api/nodes/{xname}/boot    which boot parameters win for a node and why, and its script,
 *                                     without adding a step to its history as /bootscript would
 */
export function uiApp() {
  const app = router();
  const tags = ["Dashboard"];
  const page = { 200: { description: "HTML", content: { "text/html": { schema: z.string() } } } };
  resource(app, "/ui", {
    get: op(
      { summary: "The dashboard: the cluster's nodes and their boots, live", tags, responses: page },
      (c) => assetResponse("index.html", c.req.header("if-none-match"))!,
    ),
  });
  resource(app, "/ui/{file}", {
    get: op(
      {
        summary: "A file of the dashboard (script or stylesheet)",
        tags,
        request: { params: z.object({ file: z.string().meta({ description: ASSET_NAMES.join(", ") }) }) },
        responses: { 200: { description: "the file", content: { "text/javascript": { schema: z.string() } } }, ...problems(404) },
      },
      (c) => {
        const { file } = c.req.valid("param");
        const res = file === "index.html" ? undefined : assetResponse(file, c.req.header("if-none-match"));
        if (!res) throw new HttpProblem(404, `no dashboard file ${file}`);
        return res;
      },
    ),
  });
  resource(app, "/ui/api/boots", {
    get: op(
      {
        summary: "Every node's boot-stage facts, and the boot history's cursor",
        description:
          `One row per node that has a boot history: ${FACT_COLUMNS.join(", ")}. ` +
          "Follow changes with GET /boot/v1/endpoint-history?history=true&after_id=<cursor>.",
        tags,
        responses: {
          200: json(
            z.object({ now_ms: z.int(), cursor: z.int(), columns: z.array(z.string()), nodes: z.array(z.array(z.unknown())) }),
            "the facts",
          ),
        },
      },
      async (c) => {
        await settleBootEvents(c.var);
        return c.json(await bootSummary(c.var.db), 200, { "cache-control": "no-store" });
      },
    ),
  });
  resource(app, "/ui/api/unknown", {
    get: op(
      {
        summary: "Requesters no node in SMD had: the bootloop's unknown MACs",
        description: `Newest first, at most ${UNKNOWN_LIMIT}: when each was first and last seen, at which address, which steps it took.`,
        tags,
        responses: {
          200: json(z.array(z.looseObject({ mac: z.string(), ip: z.string(), last_ms: z.int() })), "the requesters"),
        },
      },
      async (c) => {
        await settleBootEvents(c.var);
        return c.json(await unknownRequesters(c.var.db), 200, { "cache-control": "no-store" });
      },
    ),
  });
  resource(app, "/ui/api/nodes/{xname}/boot", {
    get: op(
      {
        summary: "Which boot parameters win for a node, why, and the script it gets",
        tags,
        request: {
          params: z.object({
            xname: z.string().transform((raw, ctx) => parseXname(raw)?.id ?? refuse(ctx, `not a valid xname: '${raw}'`, raw)),
          }),
          query: z.object({
            mac: z
              .string()
              .optional()
              .meta({ description: "the MAC it boots from (default: its first)" })
              .transform((raw, ctx) => {
                if (raw === undefined || raw === "") return undefined;
                const r = parseMac(raw);
                return r.ok ? r.mac : refuse(ctx, `not a MAC address: '${raw}'`, raw);
              }),
          }),
        },
        responses: {
          200: json(z.looseObject({ candidates: z.array(z.unknown()), script: z.string() }), "the explanation"),
          ...problems(400),
        },
      },
      async (c) => {
        const { xname } = c.req.valid("param");
        const { mac } = c.req.valid("query");
        return c.json(await explainBoot(c.var.db, c.var.config, c.req.url, xname, mac), 200, { "cache-control": "no-store" });
      },
    ),
  });
  return app;
}
