/**
 * The one duration grammar of the project, used by the worker's variables, the agent's YAML and
 * the CLI's flags alike: a plain number of seconds (`90`, `0.5`), or one or more number+unit
 * pairs in Go's style (`30s`, `1m30s`, `500ms`, `1.5h`), with `d` for days as well. Units: `ms`,
 * `s`, `m`, `h`, `d`; case and surrounding spaces do not matter.
 */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** What a duration looks like, for error messages. */
export const DURATION_HINT = "a number of seconds, or a duration such as 30s, 1m30s, 500ms, 2h or 1d";

/** A duration in milliseconds, or undefined when `text` is not one. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim().toLowerCase();
  if (/^[0-9]+(\.[0-9]+)?$/.test(s)) return Number(s) * 1000;
  const pair = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)/y;
  let total = 0;
  let end = 0;
  for (let m = pair.exec(s); m; m = pair.exec(s)) {
    total += Number(m[1]) * UNIT_MS[m[2]];
    end = pair.lastIndex;
  }
  return end > 0 && end === s.length ? total : undefined;
}
