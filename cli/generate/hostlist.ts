/**
 * Host lists in the syntax of powerman, conman and pdsh (`nid[001-004,006]`): names that share a
 * prefix and a zero-padded number width fold into one bracket of ranges, in the order given.
 * Hand-written: no maintained npm package speaks this syntax (the LLNL libhostlist is C).
 */
interface Parsed {
  prefix: string;
  digits: string;
  suffix: string;
}

function parse(name: string): Parsed | undefined {
  const m = /^(.*?)([0-9]+)([^0-9]*)$/.exec(name);
  return m ? { prefix: m[1], digits: m[2], suffix: m[3] } : undefined;
}

/** Folds `names` into as few hostlist terms as keep their order; returns the terms. */
export function compressTerms(names: string[]): string[] {
  const terms: string[] = [];
  let i = 0;
  while (i < names.length) {
    const first = parse(names[i]);
    if (!first) {
      terms.push(names[i++]);
      continue;
    }
    const ranges: Array<[number, number]> = [];
    const width = first.digits.length;
    let j = i;
    for (; j < names.length; j++) {
      const p = parse(names[j]);
      if (!p || p.prefix !== first.prefix || p.suffix !== first.suffix || p.digits.length !== width) break;
      const n = Number(p.digits);
      const last = ranges[ranges.length - 1];
      if (last && n === last[1] + 1) last[1] = n;
      else if (last && n <= last[1])
        break; // keep the order: a smaller number starts a new term
      else ranges.push([n, n]);
    }
    const pad = (n: number) => String(n).padStart(width, "0");
    if (j - i === 1) terms.push(names[i]);
    else terms.push(`${first.prefix}[${ranges.map(([a, b]) => (a === b ? pad(a) : `${pad(a)}-${pad(b)}`)).join(",")}]${first.suffix}`);
    i = j;
  }
  return terms;
}

export function compress(names: string[]): string {
  return compressTerms(names).join(",");
}

/** Expands a host list back to names (for checks and tests). */
export function expand(list: string): string[] {
  const out: string[] = [];
  for (const term of list.match(/[^,[]+(\[[^\]]*\])?[^,]*/g) ?? []) {
    const m = /^(.*)\[([^\]]*)\](.*)$/.exec(term);
    if (!m) {
      out.push(term);
      continue;
    }
    for (const part of m[2].split(",")) {
      const [a, b = a] = part.split("-");
      for (let n = Number(a); n <= Number(b); n++) out.push(`${m[1]}${String(n).padStart(a.length, "0")}${m[3]}`);
    }
  }
  return out;
}
