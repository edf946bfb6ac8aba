/**
 * Case-insensitive JSON keys, as Go's encoding/json matches them and as OpenCHAMI's clients rely on
 * (ochami sends `{"Component":…,"Force":true}` to fields tagged `component`/`force`).
 *
 * `canonicalKeys(obj, names)` returns a copy of `obj` whose keys that match one of `names`
 * case-insensitively are renamed to that canonical spelling. An exact match wins over a
 * case-insensitive one; among case-insensitive duplicates the last wins (Go's rule). Keys matching
 * no name are dropped, so unknown input never reaches storage.
 */
export function canonicalKeys<K extends string>(obj: unknown, names: readonly K[]): Partial<Record<K, unknown>> {
  const out: Partial<Record<K, unknown>> = {};
  if (!isPlainObject(obj)) return out;
  const byLower = new Map<string, K>();
  for (const n of names) byLower.set(n.toLowerCase(), n);
  const exact = new Set<string>();
  for (const [key, value] of Object.entries(obj)) {
    const canonical = byLower.get(key.toLowerCase());
    if (canonical === undefined) continue;
    if (key === canonical) {
      out[canonical] = value;
      exact.add(canonical);
    } else if (!exact.has(canonical)) {
      out[canonical] = value;
    }
  }
  return out;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
