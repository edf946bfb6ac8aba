import { UsageError } from "../errors";
import { isObject, type JsonObject } from "../io/json";

/**
 * Accepts the shapes admins paste: upstream's wrapper (`{"Components":[...]}`), a bare list, or
 * one object; returns the list.
 */
export function itemsOf(value: unknown, wrapper: string | undefined, what: string): JsonObject[] {
  let list: unknown = value;
  if (wrapper && isObject(value)) {
    const key = Object.keys(value).find((k) => k.toLowerCase() === wrapper.toLowerCase());
    list = key ? value[key] : [value];
  } else if (isObject(value)) {
    list = [value];
  }
  if (!Array.isArray(list) || !list.every(isObject))
    throw new UsageError(`${what}: expected ${wrapper ? `{"${wrapper}":[...]}, ` : ""}a list of objects or one object`);
  return list;
}

/** A field read case-insensitively (SMD's JSON is case-insensitive; admins type `id` or `ID`). */
export function field(obj: JsonObject, name: string): unknown {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
}

export function requireField(obj: JsonObject, name: string, what: string): string {
  const v = field(obj, name);
  if (typeof v !== "string" && typeof v !== "number") throw new UsageError(`${what}: every item needs "${name}"`);
  return String(v);
}

export function parseInteger(raw: string, what: string): number {
  if (!/^-?[0-9]+$/.test(raw.trim())) throw new UsageError(`${what} must be an integer, not '${raw}'`);
  return Number(raw);
}

export function parseBool(raw: string, what: string): boolean {
  if (/^(true|yes|on|1)$/i.test(raw)) return true;
  if (/^(false|no|off|0)$/i.test(raw)) return false;
  throw new UsageError(`${what} must be true or false, not '${raw}'`);
}

export const enc = encodeURIComponent;
