import { readFileSync, statSync } from "node:fs";
import { expandPath } from "../config/files";
import { UsageError } from "../errors";
import { log } from "../log";

/**
 * BMC credentials for Redfish discovery and for powerman/conman files. Never from the command
 * line (it shows in `ps` and shell history): --credentials-file (first line `user:password`),
 * else $OCHAMI_BMC_CREDENTIALS (`user:password`), else the seed's $rf_pass (same form), else
 * --user with $OCHAMI_BMC_PASSWORD.
 */
export interface BmcCredentials {
  user: string;
  password: string;
}

export function bmcCredentials(opts: { user?: string; credentialsFile?: string }, env: NodeJS.ProcessEnv = process.env): BmcCredentials {
  const split = (text: string, from: string): BmcCredentials => {
    const line = text.split("\n")[0].trim();
    const i = line.indexOf(":");
    if (i <= 0) throw new UsageError(`${from} must hold user:password`);
    return { user: line.slice(0, i), password: line.slice(i + 1) };
  };
  if (opts.credentialsFile) {
    const file = expandPath(opts.credentialsFile);
    try {
      if (statSync(file).mode & 0o077) log.warn(`${file} is readable by others; chmod 600 it`);
      return split(readFileSync(file, "utf8"), file);
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw new UsageError(`cannot read BMC credentials from ${file}: ${(err as Error).message}`);
    }
  }
  if (env.OCHAMI_BMC_CREDENTIALS) return split(env.OCHAMI_BMC_CREDENTIALS, "OCHAMI_BMC_CREDENTIALS");
  if (env.rf_pass) return split(env.rf_pass, "rf_pass");
  if (opts.user && env.OCHAMI_BMC_PASSWORD !== undefined) return { user: opts.user, password: env.OCHAMI_BMC_PASSWORD };
  throw new UsageError(
    "BMC credentials needed: --credentials-file <file> (user:password), or OCHAMI_BMC_CREDENTIALS=user:password, or --user <name> with OCHAMI_BMC_PASSWORD",
  );
}
