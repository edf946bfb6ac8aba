import { existsSync, mkdirSync, unlinkSync } from "node:fs";
import path from "node:path";
import { Command, Option } from "commander";
import { requestClientToken } from "../../shared/api-client/grant";
import { nowSeconds, readClaims } from "../auth/jwt";
import { credentialSecret, readSecret, TokenProvider } from "../auth/tokens";
import {
  addCluster,
  cacheDir,
  clusterIndex,
  editConfigFile,
  expandPath,
  systemConfigPath,
  userConfigPath,
  writeAtomic,
} from "../config/files";
import type { GlobalOptions } from "../context";
import { AuthError, EXIT, UsageError } from "../errors";
import { readStdin } from "../io/input";
import { at, type JsonObject } from "../io/json";
import { listOrOne, type TableSpec } from "../io/output";
import { act, type ConfirmOptions, confirmed, examples, type OutputOptions, output, type Run, withOutput } from "./define";
import { enc } from "./payload";

/**
 * `ochami auth` (ours; upstream has only the token variable): store a client credential so the CLI
 * obtains and refreshes tokens itself, print a token for other tools, show what the current token
 * grants, and manage API clients (/auth/clients, admin scope). On the head node with no cluster
 * configured, the credential is the admin client `npm start` created.
 */
export function authCommand(): Command {
  const auth = new Command("auth")
    .description("tokens: store a client credential, print or inspect tokens, manage API clients")
    .addOption(new Option("--system", "login/logout: use the system-wide configuration").conflicts("user"))
    .addOption(new Option("--user", "login/logout: use the user's configuration (default)"));
  auth.addHelpText(
    "after",
    "\nOn the head node, with no cluster configured, these commands use the API `npm start` serves there and\n" +
      "its admin client (<state>/auth/admin-client.json; state: OCHAMI_STATE_DIR, default <checkout>/.state).\n" +
      "A configured cluster always wins.\n",
  );
  examples(auth, [
    "ochami auth login --client-id ochami-cli --secret-file ./secret",
    "export DEMO_ACCESS_TOKEN=$(ochami auth token)",
    "ochami auth status",
    "npm run --silent token   # on the head node: ochami auth token with its admin client",
  ]);
  return auth
    .addCommand(loginCommand())
    .addCommand(logoutCommand())
    .addCommand(tokenCommand())
    .addCommand(statusCommand())
    .addCommand(clientCommand());
}

/** `auth --system` and `auth --user`: which configuration file login and logout write. */
interface FileOptions {
  system?: boolean;
  user?: boolean;
}

function configTarget(run: Run): { file: string; dir: string } {
  const o = run.cmd.optsWithGlobals<GlobalOptions & FileOptions>();
  const file = o.config ?? (o.system ? systemConfigPath(run.ctx.env) : userConfigPath(run.ctx.env));
  return { file, dir: path.dirname(path.resolve(file)) };
}

/** A secret typed at the terminal without echo, or one line from piped standard input. */
async function readSecretInput(): Promise<string> {
  if (!process.stdin.isTTY) return readStdin().split("\n")[0].trim();
  process.stderr.write("client secret: ");
  const stdin = process.stdin;
  stdin.setRawMode(true);
  stdin.resume();
  let secret = "";
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (buf: Buffer) => {
        for (const ch of buf.toString("utf8")) {
          if (ch === "\r" || ch === "\n") {
            stdin.off("data", onData);
            return resolve();
          }
          if (ch === "\u0003") {
            stdin.off("data", onData);
            return reject(new UsageError("interrupted"));
          }
          if (ch === "\u007f") secret = secret.slice(0, -1);
          else secret += ch;
        }
      };
      stdin.on("data", onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
    process.stderr.write("\n");
  }
  return secret.trim();
}

function loginCommand(): Command {
  const login = act<{ clientId: string; secretFile?: string; scope?: string; tokenUri?: string }>(
    new Command("login")
      .description("store a client credential for the cluster; tokens are then obtained, cached and refreshed automatically")
      .requiredOption("--client-id <id>", "OAuth client id (from `ochami auth client create`)")
      .option("--secret-file <file>", "read the client secret from this file (default: prompt, or standard input)")
      .option("--scope <scopes>", 'scopes to ask for, e.g. "smd:read smd:write" (default: all the client has)')
      .option("--token-uri <uri>", "token endpoint (default: <cluster uri>/token)"),
    async (run) => {
      const cluster = run.ctx.cluster();
      if (!cluster.name)
        throw new UsageError(
          `login stores the credential in a cluster entry: use --cluster <name>, not ${cluster.headNode ? "the local head node" : "--cluster-uri"}`,
        );
      const o = run.opts;
      const secret = o.secretFile ? readSecret(expandPath(o.secretFile)) : await readSecretInput();
      if (!secret) throw new UsageError("no client secret given");
      const tokenUrl = o.tokenUri ?? cluster.config["token-uri"] ?? `${run.ctx.baseUrl("root")}/token`;
      // Check the credential before storing anything.
      const { access_token: token } = await requestClientToken(
        { tokenUrl, clientId: o.clientId, secret, scope: o.scope },
        { tls: run.ctx.tls(), timeoutMs: run.ctx.timeoutMs() },
      );

      const { file, dir } = configTarget(run);
      const secretFile = path.join(dir, "credentials", `${cluster.name}.secret`);
      mkdirSync(path.dirname(secretFile), { recursive: true, mode: 0o700 });
      writeAtomic(secretFile, `${secret}\n`, 0o600);
      editConfigFile(file, (doc) => {
        let i = clusterIndex(doc, cluster.name!);
        // The cluster is defined in another file (e.g. the system one): add an entry to merge over it.
        if (i < 0) i = addCluster(doc, cluster.name!);
        doc.setIn(["clusters", i, "cluster", "client-id"], o.clientId);
        doc.setIn(["clusters", i, "cluster", "client-secret-file"], secretFile);
        if (o.scope) doc.setIn(["clusters", i, "cluster", "scope"], o.scope);
        else doc.deleteIn(["clusters", i, "cluster", "scope"]);
        if (o.tokenUri) doc.setIn(["clusters", i, "cluster", "token-uri"], o.tokenUri);
        doc.deleteIn(["clusters", i, "cluster", "client-secret"]);
      });
      new TokenProvider({
        envName: run.ctx.tokenEnvName(),
        credential: { clientId: o.clientId, secretFile, tokenUrl, scope: o.scope },
        cacheDir: cacheDir(run.ctx.env),
        tls: run.ctx.tls(),
        timeoutMs: run.ctx.timeoutMs(),
        env: run.ctx.env,
        renewal: () => "",
      }).remember(token);
      const claims = readClaims(token);
      process.stderr.write(
        `logged in to ${cluster.name} as client ${o.clientId} (scopes: ${claims?.scopes.join(" ") || "?"}); secret stored in ${secretFile} (0600), config ${file}\n`,
      );
    },
  );
  return examples(login, [
    "ochami auth login --client-id ochami-cli --secret-file ./ochami-cli.secret",
    "ochami auth login --client-id ochami-cli < ./ochami-cli.secret",
    'ochami --cluster demo auth login --client-id ro-client --scope "smd:read bss:read"',
    "ochami auth --system login --client-id site-admin   # for every user of this host (root only)",
  ]);
}

function logoutCommand(): Command {
  const logout = act(
    new Command("logout").description("forget the stored client credential and cached token of the cluster"),
    async (run) => {
      const cluster = run.ctx.cluster();
      if (!cluster.name) throw new UsageError(`use --cluster <name>, not ${cluster.headNode ? "the local head node" : "--cluster-uri"}`);
      run.ctx.tokens()?.forgetCached();
      const { file, dir } = configTarget(run);
      let removed = false;
      if (existsSync(file))
        editConfigFile(file, (doc) => {
          const i = clusterIndex(doc, cluster.name!);
          if (i < 0) return;
          const secretFile = doc.getIn(["clusters", i, "cluster", "client-secret-file"]);
          // Only a secret file login created is deleted; one the admin pointed to is theirs.
          if (
            typeof secretFile === "string" &&
            path.resolve(secretFile).startsWith(path.join(dir, "credentials") + path.sep) &&
            existsSync(secretFile)
          )
            unlinkSync(secretFile);
          for (const k of ["client-id", "client-secret-file", "client-secret", "scope", "token-uri"]) {
            if (doc.hasIn(["clusters", i, "cluster", k])) removed = true;
            doc.deleteIn(["clusters", i, "cluster", k]);
          }
        });
      process.stderr.write(removed ? `logged out of ${cluster.name}\n` : `no stored credential for ${cluster.name} in ${file}\n`);
    },
  );
  return examples(logout, ["ochami auth logout", "ochami --cluster demo auth logout"]);
}

function tokenCommand(): Command {
  const token = act<{ scope?: string }>(
    new Command("token")
      .description("print a valid access token for the cluster (from --token, the token variable, or the stored credential)")
      .option("--scope <scopes>", "ask the stored credential for these scopes instead"),
    async (run) => {
      const provider = run.ctx.tokens();
      if (!provider) throw new AuthError("auth is disabled for this cluster (--no-token or enable-auth: false)");
      if (run.opts.scope) {
        const cred = run.ctx.credential();
        if (!cred) throw new UsageError("--scope needs a stored client credential (ochami auth login)");
        const got = await requestClientToken(
          { tokenUrl: cred.tokenUrl, clientId: cred.clientId, secret: credentialSecret(cred), scope: run.opts.scope },
          { tls: run.ctx.tls(), timeoutMs: run.ctx.timeoutMs() },
        );
        process.stdout.write(`${got.access_token}\n`);
        return;
      }
      const { token: value, origin } = await provider.get();
      // `export DEMO_ACCESS_TOKEN=$(ochami auth token)` must never get an empty value and a success.
      if (!value.trim()) throw new AuthError(`the token from ${origin} is empty`);
      process.stdout.write(`${value}\n`);
    },
  );
  return examples(token, [
    "export DEMO_ACCESS_TOKEN=$(ochami auth token)",
    'ochami auth token --scope "smd:read"',
    'curl -H "Authorization: Bearer $(ochami auth token)" http://127.0.0.1:8081/hsm/v2/groups',
  ]);
}

function statusCommand(): Command {
  const status = act<OutputOptions>(
    new Command("status").description("where the token comes from, whom it names, its scopes and expiry"),
    async (run) => {
      const cluster = run.ctx.cluster();
      const provider = run.ctx.tokens();
      const unnamed = cluster.headNode ? `(the local head node, state ${cluster.headNode.stateDir})` : "(--cluster-uri)";
      const info: Record<string, unknown> = { cluster: cluster.name ?? unnamed, uri: cluster.config.uri };
      if (!provider) {
        info.auth = "disabled (no token is sent)";
        return output(run, info);
      }
      const current = await provider.get();
      const claims = readClaims(current.token);
      info.source = current.origin;
      if (claims) {
        info.client = claims.client_id ?? claims.sub;
        info.issuer = claims.iss;
        info.scopes = claims.scopes.join(" ");
        if (claims.exp !== undefined) {
          info.expires = new Date(claims.exp * 1000).toISOString();
          info.expires_in_s = Math.round(claims.exp - nowSeconds());
        }
      }
      output(run, info);
    },
  );
  withOutput(status);
  return examples(status, ["ochami auth status", "ochami auth status -F yaml"]);
}

function clientCommand(): Command {
  const client = new Command("client").description("API clients of our token issuer (/auth/clients; needs the admin scope)");
  examples(client, [
    "ochami auth client list -F table",
    'ochami auth client create ci-runner --scope "smd:read bss:read"',
    "ochami auth client revoke ci-runner-1a2b3c4d",
  ]);
  const table: TableSpec = {
    rows: (d) => listOrOne(at(d, "clients") ?? d, d, "client_id"),
    columns: [
      { header: "CLIENT_ID", value: (c) => c.client_id },
      { header: "NAME", value: (c) => c.client_name },
      { header: "SCOPE", value: (c) => c.scope },
      { header: "STATUS", value: (c) => (c.active ? "active" : `revoked ${c.revoked_at ?? ""}`) },
      { header: "CREATED", value: (c) => c.created_at },
    ],
  };
  const list = act<OutputOptions>(new Command("list").alias("get").description("all clients"), async (run) =>
    output(run, await run.ctx.api().json("root", "GET", "/auth/clients"), table),
  );
  withOutput(list);
  examples(list, ["ochami auth client list -F table"]);
  const create = act<OutputOptions & { scope: string; id?: string }, [name: string]>(
    new Command("create")
      .description("create a client; its secret is printed once (store it: ochami auth login --secret-file)")
      .argument("<name>")
      .requiredOption("--scope <scopes>", 'e.g. "smd:read smd:write bss:read bss:write cloud-init:read cloud-init:write"')
      .option("--id <client_id>", "choose the client id"),
    async (run) => {
      const body: JsonObject = { client_name: run.args[0], scope: run.opts.scope };
      if (run.opts.id) body.client_id = run.opts.id;
      output(run, await run.ctx.api().json("root", "POST", "/auth/clients", { body }));
    },
  );
  withOutput(create);
  examples(create, [
    'ochami auth client create ochami-cli --scope "smd:read smd:write bss:read bss:write cloud-init:read cloud-init:write" -F json-pretty',
  ]);
  const revoke = act<OutputOptions & ConfirmOptions, [clientId: string]>(
    new Command("revoke")
      .alias("delete")
      .description("revoke a client: its tokens stop working at once")
      .argument("<client_id>")
      .option("--no-confirm", "do not ask"),
    async (run) => {
      if (!(await confirmed(run, `revoke client ${run.args[0]}?`))) return EXIT.REQUEST;
      output(run, await run.ctx.api().json("root", "DELETE", `/auth/clients/${enc(run.args[0])}`));
    },
  );
  withOutput(revoke);
  examples(revoke, ["ochami auth client revoke --no-confirm ci-runner-1a2b3c4d"]);
  return client.addCommand(list).addCommand(create).addCommand(revoke);
}
