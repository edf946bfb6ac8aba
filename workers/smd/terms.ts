import type { SQL, SQLWrapper } from "drizzle-orm";
import { inList, notInList } from "../db";

/**
 * SMD's filter convention: values of one query key are OR-ed, a `!value` is a negation (negations
 * AND-ed), and different keys are AND-ed.
 */
export interface Terms<T> {
  include: T[];
  exclude: T[];
}

export function parseTerms<T>(values: string[], parse: (v: string) => T): Terms<T> {
  const t: Terms<T> = { include: [], exclude: [] };
  for (const v of values) {
    if (v.startsWith("!")) t.exclude.push(parse(v.slice(1)));
    else t.include.push(parse(v));
  }
  return t;
}

/** `column IN (…) AND column NOT IN (…)` for the terms that are present; booleans as SQLite 0/1. */
export function termsWhere(column: SQLWrapper, t: Terms<string | number | boolean> | undefined): SQL[] {
  if (!t) return [];
  const sqlValue = (v: string | number | boolean) => (typeof v === "boolean" ? Number(v) : v);
  const out: SQL[] = [];
  if (t.include.length) out.push(inList(column, t.include.map(sqlValue)));
  if (t.exclude.length) out.push(notInList(column, t.exclude.map(sqlValue)));
  return out;
}
