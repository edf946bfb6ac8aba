import { z } from "zod";
import { parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { parseGoInt } from "../../http/query";
import { op, type Router, resource } from "../../http/route";
import { commaList, empty, json, problems } from "../../http/wire";
import { componentJson } from "../../smd/components/model";
import { BootParamsBody } from "../params/model";
import { bootParameterElements } from "../params/routes";
import { listAssignments } from "../params/store";
import { type HostFilter, type HostRecord, listHosts } from "./store";

/** Upstream's SMComponent: the SMD component, then FQDN, MAC and EndpointEnabled. */
export function hostJson(h: HostRecord): Record<string, unknown> {
  // EndpointEnabled says whether BSS would serve this node a script: here that is the
  // component's Enabled flag (upstream took it from a Redfish ComponentEndpoint).
  return { ...componentJson(h.component), FQDN: h.fqdn, MAC: h.macs, EndpointEnabled: h.component.enabled };
}

const NodeFilter = z.object({
  name: commaList.optional().meta({ description: "xnames" }),
  mac: commaList.optional(),
  nid: commaList.optional(),
});

const Host = z.looseObject({}).meta({ id: "BssHost", description: "an SMD Node component, then FQDN, MAC (a list) and EndpointEnabled" });

/**
 * GET /hosts: Node components from SMD's live tables; 404 naming the first filter value that
 * matches no node. POST /hosts asked upstream to re-read SMD; we always read live, so it only
 * answers 204. GET /dumpstate: every node and every boot entry.
 */
export function registerHostRoutes(app: Router) {
  const tags = ["BSS"];
  resource(app, "/hosts", {
    get: op(
      {
        summary: "Nodes as BSS sees them",
        tags,
        request: { query: NodeFilter },
        responses: { 200: json(z.array(Host), "the nodes"), ...problems(400, 404) },
      },
      async (c) => {
        const { name: rawNames = [], mac: rawMacs = [], nid: rawNids = [] } = c.req.valid("query");
        const nids = rawNids.map((n) => {
          const v = parseGoInt(n);
          if (v === undefined || v < 0) throw new HttpProblem(400, `Bad Request - Invalid nid '${n}'`);
          return v;
        });
        const filter: HostFilter = {
          names: rawNames.map((n) => parseXname(n)?.id ?? n),
          macs: rawMacs.map((m) => {
            const r = parseMac(m);
            return r.ok ? r.mac : m;
          }),
          nids,
        };
        const filtered = rawNames.length + rawMacs.length + rawNids.length > 0;
        const hosts = await listHosts(c.var.db, filtered ? filter : undefined);
        if (filtered) {
          const ids = new Set(hosts.map((h) => h.component.id));
          const macs = new Set(hosts.flatMap((h) => h.macs));
          const nidSet = new Set(hosts.map((h) => h.component.nid));
          filter.names.forEach((n, i) => {
            if (!ids.has(n)) throw new HttpProblem(404, `Not Found - Unknown host name '${rawNames[i]}'`);
          });
          filter.macs.forEach((m, i) => {
            if (!macs.has(m)) throw new HttpProblem(404, `Not Found - Unknown MAC address '${rawMacs[i]}'`);
          });
          nids.forEach((n, i) => {
            if (!nidSet.has(n)) throw new HttpProblem(404, `Not Found - Unknown NID '${rawNids[i]}'`);
          });
        }
        return c.json(hosts.map(hostJson));
      },
    ),
    post: op(
      { summary: "Re-read SMD (upstream); nothing to do here: BSS always reads SMD live", tags, responses: { 204: empty("done") } },
      () => new Response(null, { status: 204, headers: { "cache-control": "no-cache" } }),
    ),
  });

  resource(app, "/dumpstate", {
    get: op(
      {
        summary: "Every node and every boot-parameters entry",
        tags,
        responses: { 200: json(z.object({ Components: z.array(Host), Params: z.array(BootParamsBody) }), "BSS's state") },
      },
      async (c) => {
        const { db } = c.var;
        const [hosts, params] = await Promise.all([listHosts(db), listAssignments(db)]);
        return c.json({ Components: hosts.map(hostJson), Params: bootParameterElements(params) });
      },
    ),
  });
}
