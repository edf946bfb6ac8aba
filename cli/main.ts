/**
 * Entry of the `ochami` command (bin/ochami.mjs runs the esbuild bundle of this file).
 * Maps every failure to a one-line `error: ...` on stderr and a documented exit code
 * (errors.ts); stdout carries only command output.
 */
import { CommanderError } from "commander";
import { closeConnections } from "../shared/api-client/http";
import { VERSION } from "./context";
import { asCliError, CliError, EXIT } from "./errors";
import { log } from "./log";
import { buildProgram } from "./program";

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  if (argv.length === 0) {
    // Bare `ochami`: the overview, as upstream prints it (not a usage error).
    program.outputHelp();
    return EXIT.OK;
  }
  // The program's --version only first on the line, as upstream's (a root flag there): commander
  // would take a root option anywhere, and `ochami bss status --version` is upstream's too.
  if (argv[0] === "--version" || argv[0] === "-V") {
    process.stdout.write(`${VERSION}\n`);
    return EXIT.OK;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
  } catch (thrown) {
    const err = asCliError(thrown);
    if (err instanceof CommanderError) {
      // Help and version are successes; commander has already printed any usage error.
      return err.exitCode === 0 || err.code === "commander.helpDisplayed" || err.code === "commander.version" ? EXIT.OK : EXIT.USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
    log.debug((err as Error)?.stack ?? "");
    return EXIT.REQUEST;
  } finally {
    closeConnections();
  }
}

// Whatever escapes main (a callback's throw, a stray rejection) is still one line, never a stack.
const fatal = (err: unknown) => {
  process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
  log.debug((err as Error)?.stack ?? "");
  process.exit(EXIT.REQUEST);
};
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

// stdout closed early (`ochami ... | head`): stop quietly.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
