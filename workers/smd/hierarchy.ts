import { type SQL, type SQLWrapper, sql } from "drizzle-orm";

/**
 * `id` itself or a descendant of it, as a range scan of the primary key: a component's
 * descendants are the xnames it prefixes followed by a letter (x1000c0 → x1000c0s0, never
 * x1000c01), so they sort between `id` and `id` + '{' (the character after 'z').
 */
export function selfOrDescendant(column: SQLWrapper, id: SQLWrapper | string): SQL {
  return sql`(${column} >= ${id} AND ${column} < ${id} || '{' AND (${column} = ${id} OR substr(${column}, length(${id}) + 1, 1) BETWEEN 'a' AND 'z'))`;
}
