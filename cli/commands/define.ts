import { type Command, Option, type OptionValues } from "commander";
import { SERVICES, type Service } from "../config/schema";
import { Context, type GlobalOptions } from "../context";
import { asCliError, CliError, EXIT } from "../errors";
import { confirm } from "../io/confirm";
import { type ReadData, readData, requireData } from "../io/input";
import { outputFormat, print, type TableSpec } from "../io/output";

/** Helpers every command module uses to declare commands the same way. */

/** Appends an "Examples:" section to a command's --help (every command has one). */
export function examples(cmd: Command, lines: string[]): Command {
  return cmd.addHelpText("after", `\nExamples:\n${lines.map((l) => `  ${l}`).join("\n")}\n`);
}

/**
 * What an action gets. `O` is the command's options as commander names them (camelCase): a flag is
 * `true` or absent, `--no-x` makes `x: boolean`, `<value>` a string, a `collect` option a string[],
 * and an option with a default is always set. `A` is its declared arguments in order: `<a>` a
 * string, `[a]` a string or undefined, `<a...>`/`[a...]` a string[] (empty when none are given).
 * Both are declared by the command, next to the options and arguments they describe.
 */
export interface Run<O extends object = object, A extends unknown[] = unknown[]> {
  ctx: Context;
  args: A;
  opts: O;
  cmd: Command;
}

/** The options of a command that declares none. */
export type NoOptions = object;

/** -F (withOutput), read by output(). */
export interface OutputOptions {
  formatOutput?: string;
}

/** -d and -f (withData), read by data() and needData(). */
export interface DataOptions {
  data?: string;
  formatInput?: string;
}

/** --no-confirm (withConfirm), read by confirmed(). */
export interface ConfirmOptions {
  confirm: boolean;
}

/** The service (smd, bss, cloud-init) a command sits under, for its --uri (`discover` talks to SMD). */
function serviceOf(cmd: Command): Service | undefined {
  let c: Command | null = cmd;
  while (c?.parent?.parent) c = c.parent;
  const name = c?.name() === "discover" ? "smd" : (c?.name() ?? "");
  return (SERVICES as readonly string[]).includes(name) ? (name as Service) : undefined;
}

/** Sets the action: builds the Context, runs, and sets the exit code a command may return. */
export function act<O extends object = object, A extends unknown[] = []>(
  cmd: Command,
  // biome-ignore lint/suspicious/noConfusingVoidType: an action returns an exit code, or nothing (most do).
  fn: (run: Run<O, A>) => Promise<number | void>,
): Command {
  return cmd.action(async function (this: Command) {
    const ctx = new Context(this.optsWithGlobals<GlobalOptions>(), serviceOf(this));
    // Commander checked the arguments and parsed the options the command declared; O and A describe them.
    const code = await fn({ ctx, args: this.processedArgs as A, opts: this.opts<O & OptionValues>(), cmd: this });
    if (typeof code === "number" && code !== 0) process.exitCode = code;
  });
}

/**
 * Option parser for repeatable options (`-x a -x b,c`). Preferred over commander's variadic
 * `<value...>`, which would also swallow the positional arguments after it
 * (`smd group add -m x1,x2 compute` must keep `compute` as the label).
 */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function withOutput(cmd: Command): Command {
  return cmd.addOption(new Option("-F, --format-output <format>", "output format: json (default), json-pretty, yaml or table"));
}

export function withData(cmd: Command, what = "payload"): Command {
  return cmd
    .option("-d, --data <data>", `${what}: raw data, @file, or @- for standard input`)
    .option("-f, --format-input <format>", "format of -d: json or yaml (default: from the file's extension, else json)");
}

export function withConfirm(cmd: Command): Command {
  return cmd.option("--no-confirm", "do not ask before deleting");
}

export function output<T>(run: Run<OutputOptions>, data: unknown, table?: TableSpec<T>): void {
  print(data, outputFormat(run.opts.formatOutput, run.ctx.outputFormat()), table);
}

export function data(run: Run<DataOptions>, what?: string): ReadData | undefined {
  return readData({ data: run.opts.data, format: run.opts.formatInput }, run.ctx.inputFormat(), what);
}

export function needData(run: Run<DataOptions>, what?: string): ReadData {
  return requireData({ data: run.opts.data, format: run.opts.formatInput }, run.ctx.inputFormat(), what);
}

export async function confirmed(run: Run<ConfirmOptions>, question: string): Promise<boolean> {
  const ok = await confirm(question, run.opts.confirm === false);
  if (!ok) process.stderr.write("not confirmed; nothing deleted\n");
  return ok;
}

/** Runs `fn` for every item, continuing after failures; reports each failure, returns the count. */
export async function forEach<T>(
  items: T[],
  label: (item: T) => string,
  fn: (item: T) => Promise<void>,
): Promise<{ ok: number; failed: number; lastError?: unknown }> {
  let ok = 0;
  let failed = 0;
  let lastError: unknown;
  for (const item of items) {
    try {
      await fn(item);
      ok++;
    } catch (thrown) {
      const err = asCliError(thrown);
      failed++;
      lastError = err;
      // One item: the error alone, as any single request; several: say which one failed.
      process.stderr.write(
        items.length === 1 ? `error: ${(err as Error).message}\n` : `error: ${label(item)}: ${(err as Error).message}\n`,
      );
    }
  }
  return { ok, failed, lastError };
}

/** Exit code after forEach: 0, the error's own code when everything failed, 4 when only some did. */
export function exitFor(r: { ok: number; failed: number; lastError?: unknown }): number {
  if (!r.failed) return EXIT.OK;
  if (!r.ok) return r.lastError instanceof CliError ? r.lastError.exitCode : EXIT.REQUEST;
  return EXIT.PARTIAL;
}
