import { getTableColumns, type SQL, type SQLWrapper, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { SQLiteAsyncDialect, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
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
 * `INSERT INTO table (columns) SELECT …` of records bound as one JSON parameter, each record's
 * values of `keys` (the table's column keys) in that order: any number of rows in one statement,
 * under D1's limit of 100 bound parameters. Made once per table and keys, so an import's thousands
 * of statements cost little to build. The statement ends with `WHERE true`, so an upsert clause
 * may follow (SQLite would read its ON as a join's).
 */
export function jsonRowsInsert<T extends SQLiteTable, K extends keyof T["_"]["columns"] & string>(table: T, keys: readonly K[]) {
  const columns = getTableColumns(table);
  const names = columnNames(...keys.map((k) => columns[k] as SQLiteColumn));
  const values = sql.raw(keys.map((_, i) => `json_extract(value, '$[${i}]')`).join(", "));
  const head = sql`INSERT INTO ${table} (${names}) SELECT ${values}`;
  return (records: ReadonlyArray<Record<K, unknown>>): SQL =>
    sql`${head} FROM json_each(${JSON.stringify(records.map((r) => keys.map((k) => r[k])))}) WHERE true`;
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
 * `column IN (list)` with the whole list bound as one JSON parameter. D1 allows at most 100 bound
 * parameters per statement; json_each keeps any list size to one.
 */
export function inList(column: SQLWrapper, values: readonly (string | number | boolean)[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
}

export function notInList(column: SQLWrapper, values: readonly (string | number | boolean)[]): SQL {
  return sql`${column} NOT IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
}

/** Rows per multi-row statement: keeps each bound JSON parameter well under D1's 2 MB value limit. */
export const ROWS_PER_STATEMENT = 500;

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

/** A D1 error's message with its cause's: drizzle wraps D1's error ("Failed query: …"). */
function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : "";
  return message + cause;
}

/** True when a D1 error is a UNIQUE/PRIMARY KEY violation. */
export function isUniqueViolation(err: unknown): boolean {
  const text = errorText(err);
  return /UNIQUE constraint failed|PRIMARY KEY constraint failed|SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)/i.test(text);
}

export function isForeignKeyViolation(err: unknown): boolean {
  const text = errorText(err);
  return /FOREIGN KEY constraint failed/i.test(text);
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
