import type { Context, Hono } from "hono";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { database, isUniqueViolation } from "../../db";
import { readJson } from "../../http/body";
import { parseGoInt, Query } from "../../http/query";
import { resource } from "../../http/routes";
import {
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

const dbOf = (c: Context) => database(c.env.DB);

/** Upstream's successful write: empty body, JSON content type, and (POST/PUT) a referral token. */
function written(status: 200 | 201, referral: boolean): Response {
  const headers: Record<string, string> = { "content-type": "application/json; charset=UTF-8" };
  if (referral) headers["BSS-Referral-Token"] = crypto.randomUUID();
  return new Response(null, { status, headers });
}

async function bodyOf(c: Context): Promise<BootParamsInput> {
  return parseBootParams(await readJson(c.req.raw));
}

function requireIdentifiers(input: BootParamsInput) {
  if (input.identifiers.length === 0) throw new HttpProblem(400, "Bad Request: give at least one of hosts, macs or nids");
}

function requireKernel(input: BootParamsInput) {
  if (!input.kernel) throw new HttpProblem(400, "Bad Request: kernel URI cannot be blank");
}

/** `name`, `mac`, `nid` filters: repeated or comma-separated, as upstream reads them. */
function parseFilter(q: Query) {
  const list = (name: string) =>
    q
      .all(name)
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter((v) => v !== "");
  const names = list("name");
  const macs = list("mac");
  const nids = list("nid");
  const ids: Identifier[] = [
    // A name that is no Node xname, role or Default cannot match anything: it simply finds nothing.
    ...names.map((n) => {
      try {
        return hostIdentifier(n);
      } catch {
        return { kind: "xname" as const, key: parseXname(n)?.id ?? n };
      }
    }),
    ...macs.map(macIdentifier),
    ...nids.map((n) => {
      const v = parseGoInt(n);
      if (v === undefined || v < 0) throw new HttpProblem(400, `Bad Request - Invalid nid '${n}'`);
      return { kind: "nid" as const, key: String(v) };
    }),
  ];
  return { ids, kinds: { hosts: names.length > 0, macs: macs.length > 0, nids: nids.length > 0 } };
}

/** Groups assignments by config into GET elements, identifiers sorted inside each. */
export function bootParameterElements(rows: store.StoredAssignment[]) {
  const byConfig = new Map<number, { content: ConfigContent; ids: Identifier[] }>();
  for (const r of rows) {
    let e = byConfig.get(r.configId);
    if (!e) byConfig.set(r.configId, (e = { content: r.content, ids: [] }));
    e.ids.push({ kind: r.kind, key: r.key });
  }
  return [...byConfig.values()].map((e) => bootParamsJson(e.content, e.ids.sort(compareIdentifiers)));
}

/**
 * /bootparameters: one entry = a config (kernel, initrd, params, cloud-init) and the identifiers
 * that boot it. Unlike upstream's SQL mode every identifier in a request is stored (hosts, macs
 * and nids alike), and `hosts` may name a role or `Default` on every method.
 *  GET    all entries, or those of `name`/`mac`/`nid` (only the identifiers asked about are listed);
 *         `[]` when there are none at all, 404 when a filter matches nothing.
 *  POST   add: 201; 409 (nothing written) if any identifier already has boot parameters.
 *  PUT    set: the identifiers boot exactly this entry from now on (created or replaced); 200.
 *  PATCH  update: every identifier must exist (404 otherwise); non-empty fields replace; 200.
 *  DELETE by identifiers and/or by kernel/initrd/params (all given must match); 404 if nothing matched.
 */
export function registerBootParameterRoutes(app: Hono<any>) {
  resource(app, "/bootparameters", {
    GET: async (c) => {
      const { ids, kinds } = parseFilter(Query.of(c.req.raw));
      const filtered = ids.length > 0;
      const rows = await store.listAssignments(dbOf(c), filtered ? ids : undefined);
      if (filtered && rows.length === 0) throw new HttpProblem(404, notFoundDetail(kinds));
      return c.json(bootParameterElements(rows));
    },
    PUT: async (c) => {
      const input = await bodyOf(c);
      requireIdentifiers(input);
      requireKernel(input);
      await store.setAssignments(dbOf(c), contentOf(input), input.identifiers);
      return written(200, true);
    },
    POST: async (c) => {
      const input = await bodyOf(c);
      requireIdentifiers(input);
      requireKernel(input);
      const db = dbOf(c);
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
    PATCH: async (c) => {
      const input = await bodyOf(c);
      requireIdentifiers(input);
      if (!hasChanges(input)) throw new HttpProblem(400, "Bad Request: nothing to update: give kernel, initrd, params or cloud-init");
      const db = dbOf(c);
      const current = await store.listAssignments(db, input.identifiers);
      const found = new Set(current.map((r) => `${r.kind} ${r.key}`));
      const missing = input.identifiers.filter((i) => !found.has(`${i.kind} ${i.key}`));
      if (missing.length) throw new HttpProblem(404, `Not Found: no boot parameters to update for ${describeIdentifiers(missing)}`);
      // Identifiers sharing a config move together to that config merged with the patch. Read,
      // merge, write: two PATCHes of one identifier racing each other, the later write wins.
      const moves = new Map<number, { content: ConfigContent; ids: Identifier[] }>();
      for (const r of current) {
        let m = moves.get(r.configId);
        if (!m) moves.set(r.configId, (m = { content: mergeContent(r.content, input), ids: [] }));
        m.ids.push({ kind: r.kind, key: r.key });
      }
      await store.moveAssignments(db, [...moves.values()]);
      return written(200, false);
    },
    DELETE: async (c) => {
      const input = await bodyOf(c);
      const filter = { kernel: input.kernel, initrd: input.initrd, params: input.params };
      if (input.identifiers.length === 0 && !filter.kernel && !filter.initrd && !filter.params)
        throw new HttpProblem(400, "Bad Request: nothing to delete: give hosts, macs or nids, and/or kernel, initrd or params");
      const n = await store.deleteAssignments(dbOf(c), input.identifiers, filter);
      if (n === 0) {
        const what = input.identifiers.length ? describeIdentifiers(input.identifiers) : describeFilter(filter);
        throw new HttpProblem(404, `Not Found: no boot parameters match ${what}`);
      }
      return written(200, false);
    },
  });
}

function describeFilter(f: store.ConfigFilter): string {
  return (["kernel", "initrd", "params"] as const)
    .filter((k) => f[k])
    .map((k) => `${k}=${JSON.stringify(f[k])}`)
    .join(" ");
}
