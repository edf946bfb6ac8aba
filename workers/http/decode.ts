import { HttpProblem } from "../../shared/problem";
import { canonicalKeys, isPlainObject } from "./json-keys";

/**
 * Typed reads of decoded JSON with Go-compatible leniency (case-insensitive keys; json.Number
 * accepts a numeric string) and a clear 400 when a value has the wrong type. Upstream answers
 * those with 500 "error decoding JSON"; we keep the wording and fix the status.
 * zod does not fit here: every body needs case-insensitive keys and upstream's exact messages.
 */
export function decodeError(path: string, expected: string, got: unknown): HttpProblem {
  return new HttpProblem(400, `error decoding JSON: ${path}: expected ${expected}, got ${describe(got)}`);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v === "object" ? "object" : `${typeof v} ${JSON.stringify(v)}`.slice(0, 80);
}

/** An object body with canonical key spellings; anything else is a 400. */
export function objectBody<K extends string>(v: unknown, keys: readonly K[], path = "body"): Partial<Record<K, unknown>> {
  if (!isPlainObject(v)) throw decodeError(path, "a JSON object", v);
  return canonicalKeys(v, keys);
}

export function optString(v: unknown, path: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw decodeError(path, "a string", v);
  return v;
}

export function optBool(v: unknown, path: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw decodeError(path, "a boolean", v);
  return v;
}

/** Go json.Number: a JSON number or a string holding one; must be an integer here. */
export function optInt(v: unknown, path: string): number | undefined {
  if (v === undefined || v === null) return undefined;
  const n = typeof v === "number" ? v : typeof v === "string" && /^-?[0-9]+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw decodeError(path, "an integer", v);
  return n;
}

export function optArray(v: unknown, path: string): unknown[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw decodeError(path, "an array", v);
  return v;
}

export function optStringArray(v: unknown, path: string): string[] | undefined {
  const arr = optArray(v, path);
  return arr?.map((item, i) => {
    if (typeof item !== "string") throw decodeError(`${path}[${i}]`, "a string", item);
    return item;
  });
}
