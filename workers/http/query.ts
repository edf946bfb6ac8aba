/**
 * Query parameters with case-insensitive names, as SMD reads them (`?type=`, `?Type=` and
 * `?TYPE=` are one parameter; ochami sends `MACAddress`, BSS sends `type`). Repeated names keep
 * every value in order.
 */
export class Query {
  private readonly values = new Map<string, string[]>();

  constructor(url: string | URL) {
    const u = typeof url === "string" ? new URL(url) : url;
    for (const [k, v] of u.searchParams) {
      const key = k.toLowerCase();
      const list = this.values.get(key);
      if (list) list.push(v);
      else this.values.set(key, [v]);
    }
  }

  static of(req: Request): Query {
    return new Query(req.url);
  }

  all(name: string): string[] {
    return this.values.get(name.toLowerCase()) ?? [];
  }

  first(name: string): string | undefined {
    return this.values.get(name.toLowerCase())?.[0];
  }

  has(name: string): boolean {
    return this.values.has(name.toLowerCase());
  }

  /** A boolean flag such as `?stateonly=true`; present without a value counts as true. */
  flag(name: string): boolean {
    const v = this.first(name);
    if (v === undefined) return false;
    return v === "" || /^(1|t|true|yes)$/i.test(v);
  }

  names(): string[] {
    return [...this.values.keys()];
  }
}

/** Go's strconv.ParseInt(s, 0, 64): decimal, 0x hex, 0o/0 octal, 0b binary, optional sign. */
export function parseGoInt(raw: string): number | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+|[0-9_]+)$/.exec(raw.trim());
  if (!m) return undefined;
  let body = m[2].replace(/_/g, "");
  let base = 10;
  if (/^0[xX]/.test(body)) (base = 16), (body = body.slice(2));
  else if (/^0[bB]/.test(body)) (base = 2), (body = body.slice(2));
  else if (/^0[oO]/.test(body)) (base = 8), (body = body.slice(2));
  else if (body.length > 1 && body[0] === "0") (base = 8), (body = body.slice(1));
  if (body === "") return undefined;
  const n = parseInt(body, base);
  if (!Number.isSafeInteger(n)) return undefined;
  return m[1] === "-" ? -n : n;
}
