/**
 * `npm run keys`: the token issuer's signing keys in the head node's state directory.
 *   npm run keys -- list
 *   npm run keys -- rotate
 *   npm run keys -- prune [--all | --older-than <duration>]
 *   npm run keys -- secret <signing-key|previous-keys|bootstrap-client|proxy-secret>
 * It edits <state>/auth, which `npm start` reads when it starts: restart it to apply.
 */
import { parseArgs } from "node:util";
import { DURATION_HINT, parseDuration } from "../shared/duration";
import { stateDirOf } from "../shared/head-node-state";
import { authVars, ensureAuthState, prunePreviousKeys, rotateSigningKey } from "./auth-state";

const USAGE =
  "usage: npm run keys -- list | rotate | prune [--all | --older-than <duration>] | secret <signing-key|previous-keys|bootstrap-client|proxy-secret>";

class CommandError extends Error {}

async function main(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    options: { all: { type: "boolean" }, "older-than": { type: "string" } },
    allowPositionals: true,
  });
  const [action, arg] = positionals;
  const stateDir = stateDirOf();
  switch (action) {
    case "list": {
      const state = await ensureAuthState(stateDir);
      process.stdout.write(`signing  ${state.signingKey.kid}  ${state.signingKey.alg}\n`);
      for (const k of state.previousKeys) process.stdout.write(`previous ${k.jwk.kid}  ${k.jwk.alg}  retired ${k.retired_at}\n`);
      return;
    }
    case "rotate": {
      const { retired, current } = await rotateSigningKey(stateDir);
      process.stdout.write(
        `new signing key ${current}; ${retired} is now a previous key, still accepted.\n` +
          `Restart \`npm start\` to sign with the new key. After the token lifetime (1 h by default), run\n` +
          `\`npm run keys -- prune\` and restart again to stop accepting the old key.\n`,
      );
      return;
    }
    case "prune": {
      // Default: keys retired longer ago than the token lifetime signed only expired tokens.
      const older = values.all ? "all" : seconds(values["older-than"] ?? process.env.OCHAMI_AUTH_TOKEN_LIFETIME ?? "3600");
      const { dropped, kept } = await prunePreviousKeys(stateDir, older);
      process.stdout.write(
        `dropped ${dropped.length ? dropped.join(", ") : "none"}; kept ${kept.length ? kept.join(", ") : "none"}. Restart \`npm start\` to apply.\n`,
      );
      return;
    }
    case "secret": {
      // For `wrangler secret put`: the values `npm start` passes to the worker. The proxy secret is
      // the state directory's (the one `npm start` gives its node proxy when nothing else names one):
      // a worker with OCHAMI_TRUSTED_PROXIES refuses to run without it.
      const state = await ensureAuthState(stateDir);
      const vars: Record<string, string> = { ...authVars(state), OCHAMI_PROXY_SECRET: state.proxySecret };
      const name = {
        "signing-key": "OCHAMI_AUTH_SIGNING_KEY",
        "previous-keys": "OCHAMI_AUTH_PREVIOUS_KEYS",
        "bootstrap-client": "OCHAMI_AUTH_BOOTSTRAP_CLIENT",
        "proxy-secret": "OCHAMI_PROXY_SECRET",
      }[arg ?? ""];
      if (!name) throw new CommandError("secret needs one of: signing-key, previous-keys, bootstrap-client, proxy-secret");
      process.stdout.write(`${vars[name] ?? JSON.stringify({ keys: [] })}\n`);
      return;
    }
    default:
      throw new CommandError(USAGE);
  }
}

/** Seconds, in the project's duration grammar (shared/duration.ts). */
function seconds(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new CommandError(`'${text}' is not ${DURATION_HINT}`);
  return ms / 1000;
}

main(process.argv.slice(2)).catch((err) => {
  const code = (err as { code?: unknown } | undefined)?.code;
  const expected = err instanceof CommandError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"));
  process.stderr.write(`${expected ? err.message : ((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
