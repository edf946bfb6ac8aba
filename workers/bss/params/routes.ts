import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { isUniqueViolation } from "../../db";
import { parseGoInt } from "../../http/query";
import { op, type Router, resource } from "../../http/route";
import { commaList, empty, json, jsonBody, problems } from "../../http/wire";
import {
  BootParamsBody,
  type BootParamsInput,
  bootParamsJson,
  type ConfigContent,
  compareIdentifiers,
  contentOf,
  describeIdentifiers,
  hasChanges,
  hostIdentifier,
  type Identifier,
  macIdentifier,
  mergeContent,
  notFoundDetail,
  parseBootParams,
} from "./model";
import * as store from "./store";

/** Upstream's successful write: empty body, JSON content type, and (POST/PUT) a referral token. */
function written(status: 200 | 201, referral: boolean): Response {
  const headers: Record<string, string> = { "content-type": "application/json; charset=UTF-8" };
  if (referral) headers["BSS-Referral-Token"] = crypto.randomUUID();
  return new Response(null, { status, headers });
}

function requireIdentifiers(input: BootParamsInput) {
  if (input.identifiers.length === 0) throw new HttpProblem(400, "Bad Request: give at least one of hosts, macs or nids");
}

function requireKernel(input: BootParamsInput) {
  if (!input.kernel) throw new HttpProblem(400, "Bad Request: kernel URI cannot be blank");
}

/** GET's `name`, `mac`, `nid` filters: repeated or comma-separated, as upstream reads them. */
const BootParamsFilter = z
  .object({
    name: commaList.optional().meta({ description: "Node xnames, roles or Default" }),
    mac: commaList.optional(),
    nid: commaList.optional(),
  })
  .transform(({ name = [], mac = [], nid = [] }) => {
    const ids: Identifier[] = [
      // A name that is no Node xname, role or Default cannot match anything: it simply finds nothing.
      ...name.map((n) => {
        try {
          return hostIdentifier(n);
        } catch {
          return { kind: "xname" as const, key: parseXname(n)?.id ?? n };
        }
      }),
      ...mac.map(macIdentifier),
      ...nid.map((n) => {
        const v = parseGoInt(n);
        if (v === undefined || v < 0) throw new HttpProblem(400, `Bad Request - Invalid nid '${n}'`);
        return { kind: "nid" as const, key: String(v) };
      }),
    ];
    return { ids, kinds: { hosts: name.length > 0, macs: mac.length > 0, nids: nid.length > 0 } };
  });

/** Groups assignments by config into GET elements, identifiers sorted inside each. */
export function bootParameterElements(rows: store.StoredAssignment[]) {
  const byConfig = new Map<number, { content: ConfigContent; ids: Identifier[] }>();
  for (const r of rows) {
    let e = byConfig.get(r.configId);
    if (!e) {
      e = { content: r.content, ids: [] };
      byConfig.set(r.configId, e);
    }
    e.ids.push({ kind: r.kind, key: r.key });
  }
  return [...byConfig.values()].map((e) => bootParamsJson(e.content, e.ids.sort(compareIdentifiers)));
}

const BootParamsList = z.array(BootParamsBody).meta({ description: "boot parameter entries, configs in creation order" });
const written200 = { 200: empty("written (empty JSON body)"), ...problems(400) };

/**
 * /bootparameters: one entry = a config (kernel, initrd, params, cloud-init) and the identifiers
 * that boot it. Unlike upstream's SQL mode every identifier in a request is stored (hosts, macs
 * and nids alike), and `hosts` may name a role or `Default` on every method.
 */
export function registerBootParameterRoutes(app: Router) {
  const tags = ["BSS"];
  resource(app, "/bootparameters", {
    get: op(
      {
        summary: "List boot parameters",
        description:
          "Every entry, or those of `name`/`mac`/`nid` (listing only the identifiers asked about). `[]` when there are none at all, 404 when a filter matches nothing.",
        tags,
        request: { query: BootParamsFilter },
        responses: { 200: json(BootParamsList, "the entries"), ...problems(400, 404) },
      },
      async (c) => {
        const { ids, kinds } = c.req.valid("query");
        const filtered = ids.length > 0;
        const rows = await store.listAssignments(c.var.db, filtered ? ids : undefined);
        if (filtered && rows.length === 0) throw new HttpProblem(404, notFoundDetail(kinds));
        return c.json(bootParameterElements(rows));
      },
    ),
    put: op(
      {
        summary: "Set boot parameters",
        description: "The identifiers boot exactly this entry from now on (created or replaced).",
        tags,
        request: { body: jsonBody(BootParamsBody) },
        responses: written200,
      },
      async (c) => {
        const input = parseBootParams(c.req.valid("json"));
        requireIdentifiers(input);
        requireKernel(input);
        await store.setAssignments(c.var.db, contentOf(input), input.identifiers);
        return written(200, true);
      },
    ),
    post: op(
      {
        summary: "Add boot parameters",
        description: "Nothing is written if any identifier already has boot parameters (409; use PUT to replace).",
        tags,
        request: { body: jsonBody(BootParamsBody) },
        responses: { 201: empty("created"), ...problems(400, 409) },
      },
      async (c) => {
        const input = parseBootParams(c.req.valid("json"));
        requireIdentifiers(input);
        requireKernel(input);
        const { db } = c.var;
        try {
          await store.addAssignments(db, contentOf(input), input.identifiers);
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          const existing = await store.existingIdentifiers(db, input.identifiers);
          throw new HttpProblem(
            409,
            `Conflict: boot parameters already exist for ${describeIdentifiers(existing)}; use PUT (ochami bss boot params set) to replace them`,
          );
        }
        return written(201, true);
      },
    ),
    patch: op(
      {
        summary: "Update boot parameters",
        description: "Every identifier must have boot parameters (404 otherwise); the non-empty fields given replace the stored ones.",
        tags,
        request: { body: jsonBody(BootParamsBody) },
        responses: { ...written200, ...problems(400, 404) },
      },
      async (c) => {
        const input = parseBootParams(c.req.valid("json"));
        requireIdentifiers(input);
        if (!hasChanges(input)) throw new HttpProblem(400, "Bad Request: nothing to update: give kernel, initrd, params or cloud-init");
        const { db } = c.var;
        const current = await store.listAssignments(db, input.identifiers);
        const found = new Set(current.map((r) => `${r.kind} ${r.key}`));
        const missing = input.identifiers.filter((i) => !found.has(`${i.kind} ${i.key}`));
        if (missing.length) throw new HttpProblem(404, `Not Found: no boot parameters to update for ${describeIdentifiers(missing)}`);
        // Identifiers sharing a config move together to that config merged with the patch. Read,
        // merge, write: two PATCHes of one identifier racing each other, the later write wins.
        const moves = new Map<number, { content: ConfigContent; ids: Identifier[] }>();
        for (const r of current) {
          let m = moves.get(r.configId);
          if (!m) {
            m = { content: mergeContent(r.content, input), ids: [] };
            moves.set(r.configId, m);
          }
          m.ids.push({ kind: r.kind, key: r.key });
        }
        await store.moveAssignments(db, [...moves.values()]);
        return written(200, false);
      },
    ),
    delete: op(
      {
        summary: "Delete boot parameters",
        description: "By identifiers and/or by kernel, initrd or params (all given must match); 404 when nothing matched.",
        tags,
        request: { body: jsonBody(BootParamsBody) },
        responses: { ...written200, ...problems(400, 404) },
      },
      async (c) => {
        const input = parseBootParams(c.req.valid("json"));
        const filter = { kernel: input.kernel, initrd: input.initrd, params: input.params };
        if (input.identifiers.length === 0 && !filter.kernel && !filter.initrd && !filter.params)
          throw new HttpProblem(400, "Bad Request: nothing to delete: give hosts, macs or nids, and/or kernel, initrd or params");
        const n = await store.deleteAssignments(c.var.db, input.identifiers, filter);
        if (n === 0) {
          const what = input.identifiers.length ? describeIdentifiers(input.identifiers) : describeFilter(filter);
          throw new HttpProblem(404, `Not Found: no boot parameters match ${what}`);
        }
        return written(200, false);
      },
    ),
  });
}

function describeFilter(f: store.ConfigFilter): string {
  return (["kernel", "initrd", "params"] as const)
    .filter((k) => f[k])
    .map((k) => `${k}=${JSON.stringify(f[k])}`)
    .join(" ");
}
