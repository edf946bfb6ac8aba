import { stringify as toYaml } from "yaml";
import type { OutputFormat } from "../config/schema";
import { OUTPUT_FORMATS } from "../config/schema";
import { UsageError } from "../errors";
import { at, isObject, type JsonObject, objectsIn } from "./json";

/**
 * `-F/--format-output`: json (compact, one line: upstream's default, made for `| jq`),
 * json-pretty, yaml, and table (ours: aligned columns for people). JSON stays the default for
 * every invocation, terminal or not, so a command pasted from a terminal into a script prints the
 * same; `default-output-format: table` in the config changes that for those who want it.
 */
export function outputFormat(explicit: string | undefined, fallback: OutputFormat | undefined): OutputFormat {
  const f = explicit ?? fallback ?? "json";
  if (!(OUTPUT_FORMATS as readonly string[]).includes(f))
    throw new UsageError(`output format must be one of ${OUTPUT_FORMATS.join(", ")}, not '${f}'`);
  return f as OutputFormat;
}

export interface Column<T = JsonObject> {
  header: string;
  value: (row: T) => unknown;
}

/**
 * How `-F table` shows an answer. With `rows`, the rows are whatever it makes of the data, and the
 * columns read those; without, the rows are the data's list (see defaultRows) and the columns,
 * if given, read its objects.
 */
export type TableSpec<T = JsonObject> =
  | { rows: (data: unknown) => T[]; columns?: Column<T>[] }
  | { rows?: undefined; columns?: Column<JsonObject>[] };

/** Rows of an answer: the objects of `list` when it is a list, else `data` alone when it is an object with `key` set. */
export function listOrOne(list: unknown, data: unknown, key: string): JsonObject[] {
  if (Array.isArray(list)) return objectsIn(list);
  return isObject(data) && data[key] ? [data] : [];
}

export function render<T>(data: unknown, format: OutputFormat, table?: TableSpec<T>): string {
  switch (format) {
    case "json":
      return `${JSON.stringify(data ?? null)}\n`;
    case "json-pretty":
      return `${JSON.stringify(data ?? null, null, 2)}\n`;
    case "yaml":
      return toYaml(data ?? null, { lineWidth: 0, aliasDuplicateObjects: false });
    case "table":
      return renderTable(data, table);
  }
}

export function print<T>(data: unknown, format: OutputFormat, table?: TableSpec<T>): void {
  process.stdout.write(render(data, format, table));
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return "";
  if (Array.isArray(v)) return v.every((x) => x === null || typeof x !== "object") ? v.join(",") : JSON.stringify(v);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v).replace(/\s*\n\s*/g, " ");
}

/** The data if it is a list, or the only list inside an object (upstream's `{"Components":[...]}`). */
function defaultRows(data: unknown): unknown[] {
  if (Array.isArray(data)) return data;
  if (data && typeof data === "object") {
    const lists = Object.values(data).filter(Array.isArray);
    if (lists.length === 1 && Object.keys(data).length === 1) return lists[0];
  }
  return [];
}

/**
 * Whitespace-aligned columns with an upper-case header, like `kubectl get` or `ps`: easy to read
 * and still easy to cut/awk. Hand-written (a dozen lines): box-drawing table libraries make output
 * that is harder to process and wider than terminals.
 */
export function renderTable<T>(data: unknown, spec?: TableSpec<T>): string {
  const isList = Array.isArray(data) || spec?.rows !== undefined || defaultRows(data).length > 0;
  if (!isList && data && typeof data === "object") {
    // One object: KEY VALUE lines.
    return alignRows([["KEY", "VALUE"], ...Object.entries(data).map(([k, v]) => [k, cell(v)])]);
  }
  if (spec?.rows) {
    const rows = spec.rows(data);
    return tabulate(rows, spec.columns ?? inferColumns(rows));
  }
  const rows = defaultRows(data);
  return spec?.columns ? tabulate(rows.filter(isObject), spec.columns) : tabulate(rows, inferColumns(rows));
}

function tabulate<T>(rows: T[], columns: Column<T>[]): string {
  if (!columns.length) return rows.length ? `${rows.map((r) => cell(r)).join("\n")}\n` : "";
  return alignRows([columns.map((c) => c.header), ...rows.map((r) => columns.map((c) => cell(c.value(r))))]);
}

/** A column per key of the rows' objects, in order of appearance. */
function inferColumns(rows: unknown[]): Column<unknown>[] {
  const keys: string[] = [];
  for (const r of rows) if (isObject(r)) for (const k of Object.keys(r)) if (!keys.includes(k)) keys.push(k);
  return keys.map((k) => ({
    header: k
      .replace(/([a-z])([A-Z])/g, "$1_$2")
      .replace(/[-\s]/g, "_")
      .toUpperCase(),
    value: (r) => at(r, k),
  }));
}

function alignRows(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return `${rows
    .map((r) =>
      r
        .map((v, i) => (i === r.length - 1 ? v : v.padEnd(widths[i])))
        .join("  ")
        .trimEnd(),
    )
    .join("\n")}\n`;
}
