/**
 * Token and client commands for the head node (package.json scripts):
 *   npm run --silent token [-- --scope "smd:read bss:read"]     print an access token (the seed's gen_access_token)
 *   npm run clients -- create <name> --scope "smd:read smd:write" [--id <client_id>]
 *   npm run clients -- list [--json]
 *   npm run clients -- revoke <client_id>
 *   npm run keys -- list | rotate | prune [--all | --older-than <seconds>] | secret <signing-key|previous-keys|bootstrap-client>
 * `token` and `clients` talk to the running API over HTTP with the admin credential in
 * <state>/auth; `keys` edits <state>/auth (restart `npm start` to apply).
 */
import { parseArgs } from "node:util";
import { DURATION_HINT, parseDuration } from "../shared/duration";
import { ApiClient, ApiError } from "../onprem-agent/api-client";
import { apiUrlOf, stateDirOf } from "../onprem-agent/head-node";
import { authVars, ensureAuthState, prunePreviousKeys, readAdminCredential, rotateSigningKey } from "./auth-state";

const USAGE = `usage:
  npm run --silent token [-- --scope "<scopes>"]
  npm run clients -- create <name> --scope "<scopes>" [--id <client_id>]
  npm run clients -- list [--json]
  npm run clients -- revoke <client_id>
  npm run keys -- list | rotate | prune [--all | --older-than <seconds>] | secret <signing-key|previous-keys|bootstrap-client>`;

class CommandError extends Error {}

/** The API as the bootstrap admin client (credential in <state>/auth), with `scope` when given. */
function asAdmin(stateDir: string, apiUrl: string, scope?: string): ApiClient {
  const admin = readAdminCredential(stateDir);
  return ApiClient.of({ url: apiUrl, timeout: 15, auth: { clientId: admin.client_id, clientSecret: admin.client_secret, scope } });
}

async function token(args: string[]) {
  const { values } = parseArgs({ args, options: { scope: { type: "string" } }, allowPositionals: false });
  const stateDir = stateDirOf();
  process.stdout.write((await asAdmin(stateDir, apiUrlOf(stateDir), values.scope).bearer()) + "\n");
}

async function clients(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    options: { scope: { type: "string" }, id: { type: "string" }, json: { type: "boolean" } },
    allowPositionals: true,
  });
  const [action, arg] = positionals;
  const stateDir = stateDirOf();
  const apiUrl = apiUrlOf(stateDir);
  switch (action) {
    case "create": {
      if (!arg || !values.scope) throw new CommandError('create needs a name and --scope, e.g. create ci --scope "smd:read smd:write"');
      const created = await asAdmin(stateDir, apiUrl, "admin").json("POST", "/auth/clients", {
        client_name: arg,
        scope: values.scope,
        ...(values.id ? { client_id: values.id } : {}),
      });
      process.stdout.write(JSON.stringify(created, null, 2) + "\n");
      process.stderr.write(
        `client ${created.client_id} created; its secret is shown only now. Get a token with:\n` +
          `  curl -s -u '${created.client_id}:<secret>' -d grant_type=client_credentials ${apiUrl}/token\n`,
      );
      return;
    }
    case "list": {
      const { clients: list } = await asAdmin(stateDir, apiUrl, "admin").json("GET", "/auth/clients");
      if (values.json) {
        process.stdout.write(JSON.stringify(list, null, 2) + "\n");
        return;
      }
      const rows: string[][] = [
        ["CLIENT ID", "NAME", "SCOPE", "STATUS", "CREATED"],
        ...list.map((c: any) => [c.client_id, c.client_name, c.scope, c.active ? "active" : `revoked ${c.revoked_at}`, c.created_at]),
      ];
      const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
      for (const r of rows)
        process.stdout.write(
          r
            .map((v, i) => String(v).padEnd(widths[i]))
            .join("  ")
            .trimEnd() + "\n",
        );
      return;
    }
    case "revoke": {
      if (!arg) throw new CommandError("revoke needs a client id");
      const revoked = await asAdmin(stateDir, apiUrl, "admin").json("DELETE", `/auth/clients/${encodeURIComponent(arg)}`);
      process.stdout.write(`revoked ${revoked.client_id} at ${revoked.revoked_at}\n`);
      return;
    }
    default:
      throw new CommandError(USAGE);
  }
}

async function keys(args: string[]) {
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
      // For `wrangler secret put`: the values `npm start` passes to the worker.
      const vars = authVars(await ensureAuthState(stateDir));
      const name = {
        "signing-key": "OCHAMI_AUTH_SIGNING_KEY",
        "previous-keys": "OCHAMI_AUTH_PREVIOUS_KEYS",
        "bootstrap-client": "OCHAMI_AUTH_BOOTSTRAP_CLIENT",
      }[arg ?? ""];
      if (!name) throw new CommandError("secret needs one of: signing-key, previous-keys, bootstrap-client");
      process.stdout.write((vars[name] ?? JSON.stringify({ keys: [] })) + "\n");
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

const COMMANDS: Record<string, (args: string[]) => Promise<void>> = { token, clients, keys };

async function main() {
  const [command, ...args] = process.argv.slice(2);
  const run = COMMANDS[command ?? ""];
  if (!run) throw new CommandError(USAGE);
  await run(args);
}

main().catch((err) => {
  if (err instanceof ApiError && err.unreachable) err.message += "; is `npm start` running? (OCHAMI_URL selects another)";
  const expected = err instanceof CommandError || err instanceof ApiError || (err as any)?.code?.startsWith?.("ERR_PARSE_ARGS");
  process.stderr.write(`${expected ? err.message : ((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
});
