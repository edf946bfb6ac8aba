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
  return keyCanonicalizer(names)(obj);
}

/**
 * canonicalKeys for one list of names, its lookup table built once: a schema's body check runs it
 * on every object of a request (10,000 endpoints in an import), where building the table each
 * time was most of its cost.
 */
export function keyCanonicalizer<K extends string>(names: readonly K[]): (obj: unknown) => Partial<Record<K, unknown>> {
  const byLower = new Map<string, K>();
  for (const n of names) byLower.set(n.toLowerCase(), n);
  return (obj) => {
    const out: Partial<Record<K, unknown>> = {};
    if (!isPlainObject(obj)) return out;
    let exact: Set<string> | undefined;
    for (const key of Object.keys(obj)) {
      const canonical = byLower.get(key.toLowerCase());
      if (canonical === undefined) continue;
      if (key === canonical) {
        out[canonical] = obj[key];
        exact ??= new Set();
        exact.add(canonical);
      } else if (!exact?.has(canonical)) {
        out[canonical] = obj[key];
      }
    }
    return out;
  };
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
