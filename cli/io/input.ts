import { readFileSync } from "node:fs";
import { loadAll } from "js-yaml";
import { expandPath } from "../config/files";
import type { InputFormat } from "../config/schema";
import { UsageError } from "../errors";

/**
 * `-d/--data` as upstream: raw data, `@path` (a file) or `@-` (standard input); when -d is absent,
 * commands that need data read standard input if it is not a terminal. Format: `-f` if given,
 * else the file's extension (.yaml/.yml/.json), else `default-input-format`, else JSON.
 */
export interface DataSource {
  data?: string;
  format?: string;
}

export interface ReadData {
  value: unknown;
  /** What it was read from, for messages. */
  from: string;
}

export function readStdin(): string {
  try {
    return readFileSync(0, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read standard input: ${(err as Error).message}`);
  }
}

export function readDataText(spec: string | undefined, what: string): { text: string; from: string; path?: string } | undefined {
  if (spec === undefined) {
    // Implicit standard input: only when something is piped in (a terminal, or /dev/null, is "no data").
    if (process.stdin.isTTY) return undefined;
    const text = readStdin();
    return text.trim() ? { text, from: "standard input" } : undefined;
  }
  if (spec === "@-") return { text: readStdin(), from: "standard input" };
  if (spec.startsWith("@")) {
    const file = expandPath(spec.slice(1));
    try {
      return { text: readFileSync(file, "utf8"), from: file, path: file };
    } catch (err) {
      throw new UsageError(
        `cannot read ${what} from ${file}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`,
      );
    }
  }
  return { text: spec, from: "--data" };
}

export function formatFor(explicit: string | undefined, file: string | undefined, fallback: InputFormat | undefined): InputFormat {
  if (explicit) {
    if (explicit === "json" || explicit === "json-pretty" || explicit === "yaml") return explicit;
    throw new UsageError(`input format must be json or yaml, not '${explicit}'`);
  }
  if (file && /\.ya?ml$/i.test(file)) return "yaml";
  if (file && /\.json$/i.test(file)) return "json";
  return fallback ?? "json";
}

/**
 * YAML input with js-yaml (YAML 1.2 core schema, as the `yaml` package the rest of the CLI uses):
 * about four times faster on large files (a 10,000-node nodes file). One document at most (none,
 * or only comments, is null). Aliases share their target, so a small file can stand for a huge
 * value (the "billion laughs") that would blow up when sent as JSON: refused, as `yaml` does,
 * when the value has more nodes than the text could spell out without aliases.
 */
export function parseYamlData(text: string): unknown {
  const docs = loadAll(text, { maxAliases: 1000 });
  if (docs.length > 1) throw new Error("the source holds more than one YAML document");
  const value = docs[0] ?? null;
  if (text.includes("*")) checkExpansion(value, 2 * text.length + 1000);
  return value;
}

function checkExpansion(root: unknown, limit: number): void {
  let nodes = 0;
  const stack = [root];
  while (stack.length) {
    const v = stack.pop();
    if (++nodes > limit)
      throw new Error("its aliases expand to far more data than the text holds (refused as a resource-exhaustion attack)");
    if (v !== null && typeof v === "object") for (const child of Object.values(v)) stack.push(child);
  }
}

export function parseData(text: string, format: InputFormat, from: string): unknown {
  try {
    return format === "yaml" ? parseYamlData(text) : JSON.parse(text);
  } catch (err) {
    throw new UsageError(
      `cannot parse ${from} as ${format === "yaml" ? "YAML" : "JSON"}: ${(err as Error).message.split("\n")[0]}${format === "json" ? " (pass -f yaml for YAML)" : ""}`,
    );
  }
}

/** Reads and parses -d; undefined when there is none (and stdin is a terminal). */
export function readData(src: DataSource, fallback: InputFormat | undefined, what = "data"): ReadData | undefined {
  const raw = readDataText(src.data, what);
  if (!raw) return undefined;
  return { value: parseData(raw.text, formatFor(src.format, raw.path, fallback), raw.from), from: raw.from };
}

export function requireData(src: DataSource, fallback: InputFormat | undefined, what = "data"): ReadData {
  const d = readData(src, fallback, what);
  if (!d) throw new UsageError(`${what} needed: pass -d <json>, -d @file or -d @- (or pipe it on standard input)`);
  return d;
}

/** Comma lists and repeated options, flattened: `-x a,b -x c` → [a, b, c]. */
export function listOption(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
}
