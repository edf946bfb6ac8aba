import { ApiError } from "../shared/api-client/errors";
import { findHeadNode } from "../shared/head-node-state";

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

/**
 * What the admin sees of a failed API call, decided here only: the message with a hint on where
 * the token came from, and the exit code (401/403 and a refusing token endpoint: authentication).
 */
export function cliErrorOf(err: ApiError): CliError {
  if (err.unreachable) {
    // The API's CA is one `ochami config cluster trust-ca` pins (docs/tls.md).
    if (err.message.includes("TLS certificate not trusted"))
      return new CliError(`${err.message}; or pin the cluster's CA: ochami config cluster trust-ca <cluster> --fingerprint <sha256>`);
    return new CliError(err.message + (servedByHeadNode(err.url) ? "; is `npm start` running? (OCHAMI_URL selects another)" : ""));
  }
  if (err.tokenRefused) return new AuthError(err.message);
  let hint = "";
  if (err.status === 401 && err.tokenOrigin) hint = ` (token from ${err.tokenOrigin})`;
  else if (err.status === 401) hint = " (no token was sent; drop --no-token or set enable-auth: true)";
  else if (err.status === 403 && err.tokenOrigin) hint = ` (token from ${err.tokenOrigin} lacks the scope; see \`ochami auth status\`)`;
  return new CliError(err.message + hint, err.status === 401 || err.status === 403 ? EXIT.AUTH : EXIT.REQUEST);
}

/** Whether `url` is the API the local head node serves (what `npm start` recorded, or OCHAMI_URL). */
function servedByHeadNode(url: string): boolean {
  const headNode = findHeadNode();
  try {
    return headNode !== undefined && new URL(url).origin === new URL(headNode.url).origin;
  } catch {
    return false;
  }
}

/** Anything thrown, with API errors made CliErrors. */
export function asCliError(err: unknown): unknown {
  return err instanceof ApiError ? cliErrorOf(err) : err;
}
