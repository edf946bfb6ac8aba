import { type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { type Db, isUniqueViolation, runBatch, type Statement } from "../../db";
import { parseGoInt } from "../../http/query";
import { op, type Router, resource } from "../../http/route";
import { commaList, json, jsonBody, problems } from "../../http/wire";
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
import {
  type BootingRow,
  bootingNodesQuery,
  describeResolved,
  nodesBooting,
  nodesNamedBy,
  planWrite,
  type WritePlan,
  winningEntry,
} from "./nodes";
import * as store from "./store";
import { WriteReport, written } from "./written";

/** The targets of a write as rows `(kind, key)`, for bootingNodesQuery. */
const targetRows = (ids: Identifier[]): SQL => sql`SELECT kind, key FROM ${store.identifierRows(ids)}`;

/** Runs a write's statements and, in the same transaction, reads which nodes boot `targets` after it. */
async function writeAndReport(db: Db, statements: Statement[], targets: Identifier[]): Promise<string[]> {
  const results = await runBatch(db, [...statements, bootingNodesQuery(targetRows(targets))]);
  return nodesBooting(results.at(-1)!.results as unknown as BootingRow[], targets);
}

/** The identifiers' Nodes in SMD and how the write lands (nodes.ts). */
async function plan(db: Db, input: BootParamsInput): Promise<WritePlan> {
  return planWrite(input.identifiers, await nodesNamedBy(db, input.identifiers));
}

const resolvedNote = (p: WritePlan) => {
  const r = describeResolved(p);
  return r ? ` (${r})` : "";
};

/**
 * PATCH: what each identifier moves to. An identifier that is no Node in SMD must have an entry;
 * a Node gets its own xname entry, from what it boots now (its winning entry, asked by xname),
 * and must boot something; else a 404 naming them all. Each moves to what it had merged with the
 * patch; those that had one config move together. Read, merge, write: two PATCHes racing, the
 * later write wins.
 */
async function patchMoves(db: Db, input: BootParamsInput, p: WritePlan): Promise<Array<{ content: ConfigContent; ids: Identifier[] }>> {
  const literal = p.targets.filter((t) => t.kind !== "xname" || !p.nodes.has(t.key));
  const nodeRows = p.nodes.size
    ? await db.all<BootingRow>(bootingNodesQuery(targetRows([...p.nodes].map((key) => ({ kind: "xname" as const, key })))))
    : [];
  const winners = new Map(nodeRows.map((row) => [row.id, winningEntry(row, "")]));
  const current = await store.listAssignments(db, [...literal, ...[...winners.values()].filter((w) => w !== undefined)]);
  const stored = new Map(current.map((r) => [`${r.kind} ${r.key}`, r]));
  const missing = literal.filter((i) => !stored.has(`${i.kind} ${i.key}`));
  const bootingNothing = [...p.nodes].filter((n) => !winners.get(n)).sort();
  if (missing.length || bootingNothing.length) {
    const why = [
      missing.length ? `no boot parameters to update for ${describeIdentifiers(missing)}` : "",
      bootingNothing.length
        ? `${bootingNothing.join(", ")} boot${bootingNothing.length > 1 ? "" : "s"} nothing (no boot parameters for xname, MACs, NID, role or Default): use PUT (ochami bss boot params set)`
        : "",
    ];
    throw new HttpProblem(404, `Not Found: ${why.filter(Boolean).join("; ")}${resolvedNote(p)}`);
  }
  const moves = new Map<number, { content: ConfigContent; ids: Identifier[] }>();
  const move = (from: store.StoredAssignment, id: Identifier) => {
    let m = moves.get(from.configId);
    if (!m) {
      m = { content: mergeContent(from.content, input), ids: [] };
      moves.set(from.configId, m);
    }
    m.ids.push(id);
  };
  for (const id of literal) move(stored.get(`${id.kind} ${id.key}`)!, id);
  for (const node of p.nodes) {
    const w = winners.get(node)!;
    move(stored.get(`${w.kind} ${w.key}`)!, { kind: "xname", key: node });
  }
  return [...moves.values()];
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
const written200 = { 200: json(WriteReport, "written: which nodes it changed"), ...problems(400) };

/** A GET filter's identifiers, plus the xname of each Node its MACs and NIDs name (whose entry that node boots). */
async function withTheirNodes(db: Db, ids: Identifier[]): Promise<Identifier[]> {
  const named = await nodesNamedBy(
    db,
    ids.filter((i) => i.kind === "mac" || i.kind === "nid"),
  );
  const all = [...ids, ...[...named.values()].flat().map((key) => ({ kind: "xname" as const, key }))];
  const seen = new Set<string>();
  return all.filter((i) => !seen.has(`${i.kind} ${i.key}`) && seen.add(`${i.kind} ${i.key}`));
}

/**
 * /bootparameters: one entry = a config (kernel, initrd, params, cloud-init) and the identifiers
 * that boot it. A MAC, NID or xname of a Node in SMD is a key of that node: writes by it land on
 * the node's xname entry, so the node boots what was written however it asks (nodes.ts); other
 * identifiers are stored as given. `hosts` may name a role or `Default` on every method. Every
 * write answers which nodes it changed.
 */
export function registerBootParameterRoutes(app: Router) {
  const tags = ["BSS"];
  resource(app, "/bootparameters", {
    get: op(
      {
        summary: "List boot parameters",
        description:
          "Every entry, or those of `name`/`mac`/`nid` (listing only the identifiers asked about; a MAC or NID of a Node in SMD also finds that node's xname entry). `[]` when there are none at all, 404 when a filter matches nothing.",
        tags,
        request: { query: BootParamsFilter },
        responses: { 200: json(BootParamsList, "the entries"), ...problems(400, 404) },
      },
      async (c) => {
        const { ids, kinds } = c.req.valid("query");
        const filtered = ids.length > 0;
        const rows = await store.listAssignments(c.var.db, filtered ? await withTheirNodes(c.var.db, ids) : undefined);
        if (filtered && rows.length === 0) throw new HttpProblem(404, notFoundDetail(kinds));
        return c.json(bootParameterElements(rows));
      },
    ),
    put: op(
      {
        summary: "Set boot parameters",
        description:
          "The identifiers boot exactly this entry from now on (created or replaced); a MAC or NID of a Node in SMD sets that node's xname entry. The answer lists the nodes that boot it.",
        tags,
        request: { body: jsonBody(BootParamsBody) },
        responses: written200,
      },
      async (c) => {
        const input = parseBootParams(c.req.valid("json"));
        requireIdentifiers(input);
        requireKernel(input);
        const { db } = c.var;
        const p = await plan(db, input);
        const statements = [...store.assign(contentOf(input), p.targets, true), ...store.unassign(p.replaced), store.deleteOrphans];
        const nodes = await writeAndReport(db, statements, p.targets);
        return written(200, true, { nodes, identifiers: p.targets, unknown: p.unknown });
      },
    ),
    post: op(
      {
        summary: "Add boot parameters",
        description:
          "Nothing is written if any identifier (or the node a MAC or NID names) already has boot parameters (409; use PUT to replace). The answer lists the nodes that boot the new entry.",
        tags,
        request: { body: jsonBody(BootParamsBody) },
        responses: { 201: json(WriteReport, "created: which nodes it changed"), ...problems(400, 409) },
      },
      async (c) => {
        const input = parseBootParams(c.req.valid("json"));
        requireIdentifiers(input);
        requireKernel(input);
        const { db } = c.var;
        const p = await plan(db, input);
        const conflict = async () => {
          const existing = await store.existingIdentifiers(db, [...p.targets, ...p.replaced]);
          if (!existing.length) return;
          throw new HttpProblem(
            409,
            `Conflict: boot parameters already exist for ${describeIdentifiers(existing)}${resolvedNote(p)}; use PUT (ochami bss boot params set) to replace them`,
          );
        };
        await conflict();
        try {
          const statements = [...store.assign(contentOf(input), p.targets, false), ...store.unassign(p.replaced), store.deleteOrphans];
          const nodes = await writeAndReport(db, statements, p.targets);
          return written(201, true, { nodes, identifiers: p.targets, unknown: p.unknown });
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          // Another write created one of them since the check.
          await conflict();
          throw err;
        }
      },
    ),
    patch: op(
      {
        summary: "Update boot parameters",
        description:
          "The non-empty fields given replace the stored ones. A Node in SMD (named by xname, MAC or NID) gets its own xname entry: what it boots now, updated; it must boot something (404 otherwise). Any other identifier must have boot parameters (404 otherwise).",
        tags,
        request: { body: jsonBody(BootParamsBody) },
        responses: { ...written200, ...problems(400, 404) },
      },
      async (c) => {
        const input = parseBootParams(c.req.valid("json"));
        requireIdentifiers(input);
        if (!hasChanges(input)) throw new HttpProblem(400, "Bad Request: nothing to update: give kernel, initrd, params or cloud-init");
        const { db } = c.var;
        const p = await plan(db, input);
        const moves = await patchMoves(db, input, p);
        const statements = [
          ...moves.flatMap((m) => store.assign(m.content, m.ids, true)),
          ...store.unassign(p.replaced),
          store.deleteOrphans,
        ];
        const nodes = await writeAndReport(db, statements, p.targets);
        return written(200, false, { nodes, identifiers: p.targets, unknown: p.unknown });
      },
    ),
    delete: op(
      {
        summary: "Delete boot parameters",
        description:
          "By identifiers (a MAC or NID of a Node in SMD: that node's xname entry too) and/or by kernel, initrd or params (all given must match); 404 when nothing matched. The answer lists the nodes that booted what was removed.",
        tags,
        request: { body: jsonBody(BootParamsBody) },
        responses: { ...written200, ...problems(400, 404) },
      },
      async (c) => {
        const input = parseBootParams(c.req.valid("json"));
        const filter = { kernel: input.kernel, initrd: input.initrd, params: input.params };
        if (input.identifiers.length === 0 && !filter.kernel && !filter.initrd && !filter.params)
          throw new HttpProblem(400, "Bad Request: nothing to delete: give hosts, macs or nids, and/or kernel, initrd or params");
        const { db } = c.var;
        const p = input.identifiers.length ? await plan(db, input) : undefined;
        const where = store.deletionScope(p ? [...p.targets, ...p.replaced] : [], filter);
        // Which nodes booted the entries, and which entries: read in the transaction that deletes them.
        const [booting, removed] = await runBatch(db, [
          bootingNodesQuery(store.scopedIdentifiers(where)),
          store.scopedIdentifiers(where),
          store.deleteScoped(where),
          store.deleteOrphans,
        ]);
        const ids = removed.results as unknown as Identifier[];
        if (ids.length === 0) {
          const what = input.identifiers.length ? describeIdentifiers(input.identifiers) : describeFilter(filter);
          throw new HttpProblem(404, `Not Found: no boot parameters match ${what}${p ? resolvedNote(p) : ""}`);
        }
        const nodes = nodesBooting(booting.results as unknown as BootingRow[], ids);
        return written(200, false, { nodes, identifiers: ids, unknown: p?.unknown ?? [] });
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
