import { UsageError } from "../errors";

/**
 * Accepts the shapes admins paste: upstream's wrapper (`{"Components":[...]}`), a bare list, or
 * one object; returns the list.
 */
export function itemsOf(value: unknown, wrapper: string | undefined, what: string): Record<string, any>[] {
  let list: unknown = value;
  if (wrapper && value && typeof value === "object" && !Array.isArray(value)) {
    const key = Object.keys(value).find((k) => k.toLowerCase() === wrapper.toLowerCase());
    list = key ? (value as Record<string, unknown>)[key] : [value];
  } else if (value && typeof value === "object" && !Array.isArray(value)) {
    list = [value];
  }
  if (!Array.isArray(list) || list.some((i) => !i || typeof i !== "object" || Array.isArray(i)))
    throw new UsageError(`${what}: expected ${wrapper ? `{"${wrapper}":[...]}, ` : ""}a list of objects or one object`);
  return list as Record<string, any>[];
}

/** A field read case-insensitively (SMD's JSON is case-insensitive; admins type `id` or `ID`). */
export function field(obj: Record<string, any>, name: string): any {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : obj[key];
}

export function requireField(obj: Record<string, any>, name: string, what: string): string {
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
