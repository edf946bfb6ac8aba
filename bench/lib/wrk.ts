import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { assertNeeds } from "../../test/support/needs";

/** One wrk run (Debian's `wrk`, the tool the project's anchors were first measured with). */
export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  /** Socket errors (connect, read, write, timeout), summed. */
  socketErrors: number;
  /** The errors by kind as wrk counts them ("" when there were none): a timeout and a reset have different causes. */
  errorKinds: string;
}

export function requireWrk() {
  assertNeeds("the benchmark", { commands: ["wrk"] });
}

const toMs = (v: string): number => {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as "us" | "ms" | "s" | "m"];
};

export function runWrk(opts: { url: string; script?: string; threads: number; connections: number; seconds: number }): WrkResult {
  const args = [
    `-t${opts.threads}`,
    `-c${opts.connections}`,
    `-d${opts.seconds}s`,
    "--timeout",
    "5s",
    "--latency",
    ...(opts.script ? ["-s", opts.script] : []),
    opts.url,
  ];
  const out = execFileSync("wrk", args, { encoding: "utf8" });
  const lat = (pct: string) => toMs(new RegExp(`^\\s+${pct}%\\s+(\\S+)`, "m").exec(out)?.[1] ?? "?");
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    requestsPerSecond: Math.round(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN)),
    p50Ms: lat("50"),
    p99Ms: lat("99"),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    errorKinds: [/Non-2xx or 3xx responses:\s+\d+/.exec(out)?.[0], errors?.[0]].filter(Boolean).join("; "),
  };
}

/**
 * An uncounted storm before a measured one (workerd compiles as it serves), `seconds` long (none
 * when 0). Returns its errors (non-2xx and socket errors): a report leaves its figures out, not
 * its failures.
 */
export function warmUp(opts: Parameters<typeof runWrk>[0]): number {
  if (opts.seconds <= 0) return 0;
  const r = runWrk(opts);
  return r.non2xx + r.socketErrors;
}

/**
 * A wrk Lua script asking, per request, for a random one of `count` nodes: `path(i)` and
 * `header(i)` are Lua expressions in `i` (0-based) giving the path and an optional
 * X-Forwarded-For value (they may also use `n`, how many requests this wrk thread has made, this
 * one included); `fixedHeaders` go with every request.
 *
 * Each wrk thread runs the script in a Lua state of its own, so each is seeded apart (in `setup`,
 * which wrk runs once per thread), and with the time, so one run does not repeat the last. Seeded
 * alike, as the script once was, both threads asked for the same nodes in the same order: with
 * 100,000 nodes over two thirds of a storm's requests named a node asked just before (68,758
 * distinct nodes in 225,744 requests, where independent threads asked 90,478 in 235,849, as
 * chance predicts).
 */
export function randomNodeScript(
  dir: string,
  name: string,
  count: number,
  pathExpr: string,
  forwardedForExpr?: string,
  fixedHeaders: Record<string, string> = {},
): string {
  const file = path.join(dir, `${name}.lua`);
  const fields = Object.entries(fixedHeaders).map(([k, v]) => `[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
  if (forwardedForExpr) fields.push(`["X-Forwarded-For"] = ${forwardedForExpr}`);
  const headers = fields.length ? `{${fields.join(", ")}}` : "nil";
  writeFileSync(
    file,
    `local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("thread_seed", os.time() * 1000 + ${Math.floor(Math.random() * 1000)} + threads * 7919)
end
init = function() math.randomseed(thread_seed) end
local n = 0
local hex = function(i) return string.format("%02x:%02x:%02x", math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256) end
local ip = function(i) local j = i + 1; return string.format("10.%d.%d.%d", math.floor(j / 65536) % 256, math.floor(j / 256) % 256, j % 256) end
request = function()
  n = n + 1
  local i = math.random(0, ${count - 1})
  return wrk.format("GET", ${pathExpr}, ${headers})
end
`,
  );
  return file;
}
