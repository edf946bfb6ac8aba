import type { Hono } from "hono";
import { parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { database } from "../../db";
import { parseGoInt, Query } from "../../http/query";
import { resource } from "../../http/routes";
import { componentJson } from "../../smd/components/model";
import { bootParameterElements } from "../params/routes";
import { listAssignments } from "../params/store";
import { type HostFilter, type HostRecord, listHosts } from "./store";

/** Upstream's SMComponent: the SMD component, then FQDN, MAC and EndpointEnabled. */
export function hostJson(h: HostRecord): Record<string, unknown> {
  // EndpointEnabled says whether BSS would serve this node a script: here that is the
  // component's Enabled flag (upstream took it from a Redfish ComponentEndpoint).
  return { ...componentJson(h.component), FQDN: h.fqdn, MAC: h.macs, EndpointEnabled: h.component.enabled };
}

function commaList(q: Query, name: string): string[] {
  return q
    .all(name)
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter((v) => v !== "");
}

/**
 * GET /hosts (`name`, `mac`, `nid`, comma lists): Node components from SMD's live tables; 404
 * naming the first filter value that matches no node. POST /hosts asked upstream to re-read SMD;
 * we always read live, so it only answers 204. GET /dumpstate: every node and every boot entry.
 */
export function registerHostRoutes(app: Hono<any>) {
  resource(app, "/hosts", {
    GET: async (c) => {
      const q = Query.of(c.req.raw);
      const rawNames = commaList(q, "name");
      const rawMacs = commaList(q, "mac");
      const rawNids = commaList(q, "nid");
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
      const hosts = await listHosts(database(c.env.DB), filtered ? filter : undefined);
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
    POST: () => new Response(null, { status: 204, headers: { "cache-control": "no-cache" } }),
  });

  resource(app, "/dumpstate", {
    GET: async (c) => {
      const db = database(c.env.DB);
      const [hosts, params] = await Promise.all([listHosts(db), listAssignments(db)]);
      return c.json({ Components: hosts.map(hostJson), Params: bootParameterElements(params) });
    },
  });
}
