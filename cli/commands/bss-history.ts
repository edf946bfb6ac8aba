import { Command } from "commander";
import type { RecordedBootEvent } from "../../shared/boot-events";
import { DURATION_HINT, parseDuration } from "../../shared/duration";
import { asCliError, UsageError } from "../errors";
import { followHistory } from "../history/follow";
import { BootLineFormatter } from "../history/timeline";
import { listOption } from "../io/input";
import { asList, at } from "../io/json";
import { render, type TableSpec } from "../io/output";
import { log } from "../log";
import { act, collect, examples, type OutputOptions, output, type Run, withOutput } from "./define";
import { enc, parseInteger } from "./payload";

/**
 * `ochami bss history`: the latest fetch per node and step (upstream's endpoint history), the event
 * log (`--events`), and the boot timeline as it happens (`--follow`).
 */
const LATEST_TABLE: TableSpec = {
  columns: [
    { header: "NAME", value: (e) => e.name },
    { header: "ENDPOINT", value: (e) => e.endpoint },
    { header: "LAST", value: (e) => new Date(Number(e.last_epoch_ms ?? Number(e.last_epoch) * 1000)).toISOString() },
    { header: "MAC", value: (e) => e.mac },
    { header: "IP", value: (e) => e.ip },
    { header: "DETAIL", value: (e) => e.detail },
  ],
};

const EVENT_TABLE: TableSpec = {
  columns: [
    { header: "ID", value: (e) => e.id },
    { header: "TIME", value: (e) => new Date(Number(e.epoch_ms)).toISOString() },
    { header: "NAME", value: (e) => e.name },
    { header: "ENDPOINT", value: (e) => e.endpoint },
    { header: "MAC", value: (e) => e.mac },
    { header: "IP", value: (e) => e.ip },
    { header: "DETAIL", value: (e) => e.detail },
  ],
};

/** How far back --follow starts without --since or --after-id. */
const FOLLOW_SINCE = "10m";
/** How long --follow holds events to print them in time order (see followHistory). */
const REORDER_MS = 1500;

/** The options of `bss history`. */
interface HistoryOptions extends OutputOptions {
  xname?: string[];
  endpoint?: string[];
  events?: boolean;
  afterId?: string;
  since?: string;
  limit?: string;
  follow?: boolean;
  group?: string[];
  once?: boolean;
  interval?: string;
}

export function historyCommand(): Command {
  const history = act<HistoryOptions>(
    new Command("history")
      .description(
        "boot history: the latest fetch per node and step (DHCP, TFTP, bootscript, kernel, cloud-init...), the event log, or the boot timeline as it happens",
      )
      .option("-x, --xname <xname>", "only these nodes (repeatable, or comma-separated)", collect)
      .option("--endpoint <endpoint>", "only these steps, e.g. bootscript, dhcp, meta-data (repeatable, or comma-separated)", collect)
      .option("--events", "the event log, oldest first, instead of the latest per node and step")
      .option("--after-id <id>", "with --events or --follow: events after this id")
      .option("--since <time>", `events or fetches since this time (RFC 3339) or duration ago (--follow: default ${FOLLOW_SINCE})`)
      .option("--limit <n>", "at most this many rows")
      .option(
        "--follow",
        "the event log as it grows: one line per step with the time since the node's boot began, in time order " +
          "about 1.5 s behind (-F json: JSON lines, -F yaml: YAML documents); Ctrl-C stops",
      )
      .option(
        "--group <label>",
        "with --follow: only nodes of these SMD groups, re-read every 30 s (repeatable, or comma-separated; needs smd:read)",
        collect,
      )
      .option("--once", "with --follow: print the steps there are now, the same way, then exit")
      .option("--interval <duration>", "with --follow: how often to ask (default 1s)"),
    async (run) => {
      const o = run.opts;
      if (!o.follow && (o.group || o.once)) throw new UsageError("--group and --once need --follow");
      if (o.afterId !== undefined && !o.events && !o.follow) throw new UsageError("--after-id needs --events or --follow");
      const query = { name: listOption(o.xname), endpoint: listOption(o.endpoint), limit: o.limit };
      if (o.follow) return follow(run, query);
      const api = run.ctx.api();
      const since_ms = sinceMs(o.since);
      if (!o.events)
        return output(run, await api.json("bss", "GET", "/endpoint-history", { auth: false, query: { ...query, since_ms } }), LATEST_TABLE);
      const after_id = o.afterId !== undefined ? parseInteger(o.afterId, "--after-id") : undefined;
      const events = await api.json("bss", "GET", "/endpoint-history", {
        auth: false,
        query: { ...query, since_ms, history: "true", after_id },
      });
      output(run, events, EVENT_TABLE);
    },
  );
  withOutput(history);
  return examples(history, [
    "ochami bss history -F table",
    "ochami bss history -x x1000c1s7b1n0 --endpoint bootscript",
    "ochami bss history --events --since 10m -F table",
    "ochami bss history --follow",
    "ochami bss history --follow --group compute --endpoint dhcp,bootscript,kernel --since 1h",
    "ochami bss history --follow --once -F json   # what there is, as JSON lines, then exit",
  ]);
}

/** `--follow`: polls the event log and prints each step once, until Ctrl-C (or at once with --once). */
async function follow(run: Run<HistoryOptions>, query: Record<string, string[] | string | undefined>): Promise<void> {
  const o = run.opts;
  const pollMs = parseDuration(o.interval ?? "1s");
  if (!pollMs) throw new UsageError(`--interval must be ${DURATION_HINT}, not '${o.interval}'`);
  const afterId = o.afterId !== undefined ? parseInteger(o.afterId, "--after-id") : undefined;
  const since = sinceMs(o.since ?? (afterId === undefined ? FOLLOW_SINCE : undefined));
  const format = o.formatOutput ?? run.ctx.outputFormat() ?? "table";
  const timeline = new BootLineFormatter();
  const print: Record<string, (e: RecordedBootEvent) => string> = {
    table: (e) => `${timeline.line(e)}\n`,
    json: (e) => `${JSON.stringify(e)}\n`,
    "json-pretty": (e) => `${JSON.stringify(e)}\n`,
    yaml: (e) => `---\n${render(e, "yaml")}`,
  };
  const emit = print[format];
  if (!emit) throw new UsageError(`output format must be one of ${Object.keys(print).join(", ")}, not '${format}'`);

  const api = run.ctx.api();
  const groups: string[] = listOption(o.group);
  const members = async () => {
    const ids = new Set<string>();
    for (const group of groups) {
      const got = await api.json<unknown>("smd", "GET", `/groups/${enc(group)}/members`);
      for (const id of asList(at(got, "ids"))) if (typeof id === "string") ids.add(id.toLowerCase());
    }
    return ids;
  };
  const stop = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => stop.abort());
  if (format === "table" && !o.once) process.stderr.write(`following ${api.url("bss", "/endpoint-history")} (Ctrl-C to stop)\n`);
  await followHistory({
    api,
    query,
    afterId,
    sinceMs: since,
    members: groups.length ? members : undefined,
    pollMs,
    reorderMs: REORDER_MS,
    once: o.once === true,
    emit: (e) => process.stdout.write(emit(e)),
    onError: (err) => log.warn(`${(asCliError(err) as Error).message}; retrying`),
    signal: stop.signal,
  });
}

/** RFC 3339 time, or a duration meaning "that long ago". */
function sinceMs(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const d = parseDuration(raw);
  if (d !== undefined && !/^[0-9]+$/.test(raw.trim())) return Date.now() - d;
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw new UsageError(`--since must be an RFC 3339 time or a duration such as 10m, not '${raw}'`);
  return t;
}
