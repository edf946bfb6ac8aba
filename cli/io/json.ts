/**
 * JSON as the CLI receives it: API answers, -d data, files, BMC answers. Parsed, it is `unknown`
 * until narrowed: nothing checks that an answer has the shape the API documents, so the code that
 * reads a field narrows it (or only passes it on). These are the narrowing helpers every command
 * uses, in one place.
 */

/** A JSON object whose values are not checked yet (an API record, one item of -d, a table row). */
export type JsonObject = Record<string, unknown>;

/** A JSON object: not null, not a list. */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `v?.a?.b` for unknown JSON: the value at the keys, undefined where something on the way is not an object. */
export function at(v: unknown, ...keys: string[]): unknown {
  let cur = v;
  for (const key of keys) {
    if (!isObject(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** The list `v`, or none when it is not one. */
export function asList(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** The objects of the list `v` (none when it is not a list). */
export function objectsIn(v: unknown): JsonObject[] {
  return asList(v).filter(isObject);
}

/** `v` when it is a string. */
export function asString(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}
