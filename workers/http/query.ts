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
