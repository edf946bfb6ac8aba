/**
 * Exit codes of `ochami` (documented in the README and in `ochami --help`):
 *   0  success
 *   1  the request failed: the API answered an error, or could not be reached
 *   2  usage: bad arguments, options, input data or configuration
 *   3  authentication: no usable token, or the API refused it (401/403)
 *   4  partial failure: some items of a multi-item operation failed (e.g. unreachable BMCs)
 */
export const EXIT = { OK: 0, REQUEST: 1, USAGE: 2, AUTH: 3, PARTIAL: 4 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error shown to the admin as `error: <message>` (no stack), exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.REQUEST,
  ) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.USAGE);
  }
}

export class AuthError extends CliError {
  constructor(message: string) {
    super(message, EXIT.AUTH);
  }
}

/** The message of anything thrown, for one-line reports. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
