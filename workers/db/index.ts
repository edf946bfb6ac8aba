import { getTableColumns, type SQL, type SQLWrapper, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteAsyncDialect, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { HttpProblem } from "../../shared/problem";
import { errorSays } from "./errors";
import * as schema from "./schema";
import { watchWrites } from "./storage-full";

export type Db = ReturnType<typeof database>;

const databases = new WeakMap<D1Database, ReturnType<typeof open>>();

const open = (d1: D1Database) => drizzle(watchWrites(d1), { schema });

/**
 * The drizzle database over a D1 binding, one per binding: building it walks the whole schema
 * (relational config), which cost a fifth of a boot request's CPU when done per request.
 */
export function database(d1: D1Database) {
  let db = databases.get(d1);
  if (!db) {
    db = open(d1);
    databases.set(d1, db);
  }
  return db;
}

const dialect = new SQLiteAsyncDialect();

/**
 * A column by its bare name, where SQLite wants no table prefix: INSERT column lists, ON CONFLICT
 * targets, SET and `excluded.` (`${table.column}` renders `"table"."column"`).
 */
export const bare = (column: SQLiteColumn) => sql.identifier(column.name);

/** Columns by their bare names, comma-separated (see bare). */
export function columnNames(...columns: SQLiteColumn[]): SQL {
  return sql.join(columns.map(bare), sql`, `);
}

/**
 * `INSERT INTO table (columns) SELECT …` of records bound as JSON parameters, each record's values
 * of `keys` (the table's column keys) in that order: any number of rows in a few statements
 * (jsonArrays says how many), each under D1's limit of 100 bound parameters. Made once per table
 * and keys, so an import's thousands of statements cost little to build. Each statement ends with
 * `WHERE true` and then `tail`, so an upsert clause may follow (SQLite would read its ON as a
 * join's).
 */
export function jsonRowsInsert<T extends SQLiteTable, K extends keyof T["_"]["columns"] & string>(table: T, keys: readonly K[]) {
  const columns = getTableColumns(table);
  const names = columnNames(...keys.map((k) => columns[k] as SQLiteColumn));
  const values = sql.raw(keys.map((_, i) => `json_extract(value, '$[${i}]')`).join(", "));
  const head = sql`INSERT INTO ${table} (${names}) SELECT ${values}`;
  return (records: ReadonlyArray<Record<K, unknown>>, tail: SQL = sql``): SQL[] =>
    jsonArrays(records.map((r) => keys.map((k) => r[k]))).map((json) => sql`${head} FROM json_each(${json}) WHERE true ${tail}`);
}

/** Anything drizzle can render to SQL: a `sql` template or a query builder. */
export type Statement = SQL | { getSQL(): SQL };

const rendered = (s: Statement) => dialect.sqlToQuery("getSQL" in s ? s.getSQL() : s);

/**
 * A statement rendered to SQL once and run on the D1 binding itself, for a one-row read on the
 * boot path (the snapshot's generation check, once per batch of boot requests): drizzle renders
 * a query anew each run, inside a tracing span, which cost more than the round trip's own
 * JavaScript.
 */
export function preRendered(statement: Statement): { first<T>(db: Db): Promise<T | null> } {
  const { sql: text, params } = rendered(statement);
  return {
    first: (db) =>
      db.$client
        .prepare(text)
        .bind(...params)
        .first(),
  };
}

/**
 * Runs statements atomically in one D1 batch (one round trip, one transaction). Written here
 * rather than with drizzle's db.batch, which cannot bind parameters of raw `sql` statements on D1.
 */
export async function runBatch(db: Db, statements: Statement[]): Promise<D1Result[]> {
  if (statements.length === 0) return [];
  const d1 = db.$client;
  return d1.batch(
    statements.map((s) => {
      const q = rendered(s);
      return d1.prepare(q.sql).bind(...q.params);
    }),
  );
}

/**
 * `column IN (list)` with the list bound as JSON parameters: D1 allows at most 100 bound
 * parameters per statement, and json_each keeps any list to one per JSON_PARAMETER_UNITS of it
 * (a list of 160,000 xnames, 2.7 MB, is over D1's 2,000,000 bytes for one value: six parameters).
 */
export function inList(column: SQLWrapper, values: readonly ListValue[]): SQL {
  return anyList(values, (json) => sql`${column} IN (SELECT value FROM json_each(${json}))`);
}

export function notInList(column: SQLWrapper, values: readonly ListValue[]): SQL {
  return anyList(values, (json) => sql`${column} NOT IN (SELECT value FROM json_each(${json}))`, sql` AND `);
}

/**
 * A condition on a list of any length: `test` of each of its JSON parameters (jsonLists), joined
 * by `join` (OR: it holds for some piece; AND for a negation).
 */
export function anyList(values: readonly unknown[], test: (json: string) => SQL, join: SQL = sql` OR `): SQL {
  const tests = jsonLists(values).map(test);
  return tests.length === 1 ? tests[0] : sql`(${sql.join(tests, join)})`;
}

type ListValue = string | number | boolean;

/** JSON parameters of one list in one statement, at most: leaves half of D1's 100 to the rest of it. */
const LIST_PARAMETERS = 50;

/**
 * A list as the JSON parameters of one statement, each at most JSON_PARAMETER_UNITS long (the
 * empty list: one, empty); a 413 when they would be more than LIST_PARAMETERS.
 */
export function jsonLists(values: readonly unknown[]): string[] {
  if (values.length === 0) return ["[]"];
  const arrays = jsonArrays(values, Number.POSITIVE_INFINITY);
  if (arrays.length > LIST_PARAMETERS)
    throw new HttpProblem(413, `a list of ${values.length} values is more than one database query takes; send it in parts`);
  return arrays;
}

/**
 * Rows per multi-row statement, at most: a statement of small rows stays well under D1's limits,
 * and SQLite's work per statement bounded.
 */
export const ROWS_PER_STATEMENT = 500;

/**
 * D1 stores no string, BLOB or row over 2,000,000 bytes, a bound parameter included: beyond it
 * the statement fails with SQLITE_TOOBIG (Cloudflare's figure; local D1 refuses a value past about
 * 2.2 MB). So one JSON parameter holds at most this many UTF-16 code units of rows, at most 1.5 MB
 * as UTF-8 (3 bytes a unit at most); a single row larger than that goes alone, and D1 stores it if
 * it fits a row (isValueTooBig below answers when it does not).
 */
export const JSON_PARAMETER_UNITS = 500_000;

/**
 * `rows` as JSON arrays for `json_each`, in order: each at most `maxRows` rows and
 * JSON_PARAMETER_UNITS long, except a single row longer than that. Bounding rows by count alone
 * let 500 hardware locations of 5 KB each make a 2.5 MB parameter, which D1 refused (a 500).
 */
export function jsonArrays(rows: readonly unknown[], maxRows = ROWS_PER_STATEMENT): string[] {
  const arrays: string[] = [];
  let parts: string[] = [];
  let units = 2;
  for (const row of rows) {
    const json = JSON.stringify(row) ?? "null";
    if (parts.length === maxRows || (parts.length > 0 && units + json.length + 1 > JSON_PARAMETER_UNITS)) {
      arrays.push(`[${parts.join(",")}]`);
      parts = [];
      units = 2;
    }
    parts.push(json);
    units += json.length + 1;
  }
  if (parts.length > 0) arrays.push(`[${parts.join(",")}]`);
  return arrays;
}

export function chunks<T>(items: readonly T[], size = ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * The `id` column of `select(chunk)` over `values`, ROWS_PER_STATEMENT values per statement, all
 * in one D1 batch: lookups by a client's list of IDs (a group of 100,000 members) stay under D1's
 * 2 MB limit on one bound value.
 */
export async function idsInChunks(db: Db, values: readonly string[], select: (chunk: string[]) => SQL): Promise<string[]> {
  if (values.length === 0) return [];
  const results = await runBatch(db, chunks(values).map(select));
  return results.flatMap((r) => (r.results as Array<{ id: string }>).map((row) => row.id));
}

/** Rows changed by a D1 write through drizzle's `run()`. */
export function changes(result: unknown): number {
  return (result as { meta?: { changes?: number } })?.meta?.changes ?? 0;
}

/**
 * True when D1 refused a value or row over its size limit: SQLite's SQLITE_TOOBIG, "string or
 * blob too big" (not the same code's "statement too long", which no client's value causes). The
 * app answers 413 (workers/http/errors.ts).
 */
export function isValueTooBig(err: unknown): boolean {
  return errorSays(err, /string or blob too big/i);
}

/** True when a D1 error is a UNIQUE/PRIMARY KEY violation. */
export function isUniqueViolation(err: unknown): boolean {
  return errorSays(err, /UNIQUE constraint failed|PRIMARY KEY constraint failed|SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)/i);
}

export function isForeignKeyViolation(err: unknown): boolean {
  return errorSays(err, /FOREIGN KEY constraint failed/i);
}

/**
 * Deletes rows and returns how many rows of `table` went. D1's `changes` also counts rows removed
 * by ON DELETE CASCADE, so the count is taken in the same batch (same transaction) instead.
 */
export async function countAndDelete(db: Db, table: SQLiteTable, where?: SQL): Promise<number> {
  const filter = where ? sql` WHERE ${where}` : sql``;
  const [count] = await runBatch(db, [sql`SELECT count(*) AS n FROM ${table}${filter}`, sql`DELETE FROM ${table}${filter}`]);
  return Number((count.results[0] as { n: number }).n);
}
