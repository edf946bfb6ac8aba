import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { decodeJwt, exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { npmRun } from "../head-node/auth-process";
import { requirements } from "../support/requirements";
import { type Home, loggedInHome, makeHome, ochami, startTestApi, type TestApi } from "./harness";

/**
 * Tokens as an admin meets them: a stored client credential, tokens cached and refreshed before
 * they expire (the API issues 60-second tokens here; the CLI's clock is moved with faketime), a
 * rejected token replaced once, the token variable and --token, and what each failure says.
 */
const FAKETIME = "/usr/bin/faketime";
const later = (seconds: number) => [FAKETIME, "-f", `+${seconds}s`];

const missing = requirements({ commands: [FAKETIME] });

describe.skipIf(missing)("tokens: stored credential, cache, refresh, precedence", () => {
  let api: TestApi;
  let home: Home;
  const run = (args: string[], opts: { env?: NodeJS.ProcessEnv; prefix?: string[] } = {}) =>
    ochami(args, { env: opts.env ?? home.env, prefix: opts.prefix });
  const cacheFile = () => {
    const dir = path.join(home.dir, ".cache", "ochami", "tokens");
    const files = readdirSync(dir);
    expect(files).toHaveLength(1);
    return path.join(dir, files[0]);
  };
  const cachedToken = () => JSON.parse(readFileSync(cacheFile(), "utf8")).access_token as string;

  beforeAll(async () => {
    api = await startTestApi({ OCHAMI_AUTH_TOKEN_LIFETIME: "60" });
    home = await loggedInHome(api);
  });
  afterAll(async () => {
    home?.remove();
    await api?.stop();
  });

  it("login stores the secret 0600 and the client in the config, and caches a first token 0600", () => {
    const secret = path.join(home.dir, ".config", "ochami", "credentials", "demo.secret");
    expect(readFileSync(secret, "utf8")).toBe(`${api.admin.client_secret}\n`);
    expect(statSync(secret).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(secret)).mode & 0o777).toBe(0o700);
    const cfg = parse(readFileSync(path.join(home.dir, ".config", "ochami", "config.yaml"), "utf8"));
    expect(cfg.clusters[0].cluster).toEqual({ uri: api.url, "client-id": api.admin.client_id, "client-secret-file": secret });
    expect(statSync(cacheFile()).mode & 0o777).toBe(0o600);
    expect(decodeJwt(cachedToken())).toMatchObject({ client_id: api.admin.client_id, scp: ["admin"] });
  });

  it("a wrong secret is refused at login and nothing is stored", async () => {
    const other = makeHome();
    try {
      await ochami(["config", "cluster", "set", "demo", "cluster.uri", api.url], { env: other.env });
      const r = await ochami(["auth", "login", "--client-id", api.admin.client_id], { env: other.env, input: "not-the-secret\n" });
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(
        `error: the token endpoint ${api.url}/token refused client ${api.admin.client_id}: 401 Unauthorized: invalid_client: client authentication failed (unknown client, wrong secret, or revoked)\n`,
      );
      expect(existsSync(path.join(other.dir, ".config", "ochami", "credentials"))).toBe(false);
      expect(parse(readFileSync(path.join(other.dir, ".config", "ochami", "config.yaml"), "utf8")).clusters[0].cluster).toEqual({
        uri: api.url,
      });
    } finally {
      other.remove();
    }
  });

  it("reuses the cached token while it has more than half its 60 s left", async () => {
    const before = cachedToken();
    const a = await run(["auth", "token"]);
    const b = await run(["smd", "group", "get"]);
    expect(a.code).toBe(0);
    expect(b).toMatchObject({ code: 0, stdout: "[]\n" });
    expect(a.stdout.trim()).toBe(before);
    expect(cachedToken()).toBe(before);
  });

  it("refreshes a token close to expiry before sending it (clock 40 s ahead: 20 s left)", async () => {
    const before = cachedToken();
    const r = await run(["-l", "info", "smd", "group", "get"], { prefix: later(40) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`obtained a token for client ${api.admin.client_id}`);
    const after = cachedToken();
    expect(after).not.toBe(before);
    expect(decodeJwt(after).jti).not.toBe(decodeJwt(before).jti);
  });

  it("replaces an expired cached token (clock 2 min ahead)", async () => {
    const before = cachedToken();
    const r = await run(["smd", "group", "get"], { prefix: later(120) });
    expect(r).toMatchObject({ code: 0, stdout: "[]\n" });
    expect(cachedToken()).not.toBe(before);
  });

  it("after a 401 gets one fresh token and retries once", async () => {
    // A well-formed, unexpired token the API cannot verify (another key), as after a key rotation.
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const forged = await new SignJWT({ client_id: api.admin.client_id, scp: ["admin"] })
      .setProtectedHeader({ alg: "ES256", kid: (await exportJWK(publicKey)).x!.slice(0, 8) })
      .setIssuer("ochami")
      .setAudience("ochami")
      .setSubject(api.admin.client_id)
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(privateKey);
    const entry = JSON.parse(readFileSync(cacheFile(), "utf8"));
    writeFileSync(cacheFile(), JSON.stringify({ ...entry, access_token: forged }));
    const r = await run(["-l", "info", "smd", "group", "add", "retried"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/POST http:\/\/127\.0\.0\.1:\d+\/hsm\/v2\/groups: 401 with the cached token; retrying once with a fresh one/);
    expect(cachedToken()).not.toBe(forged);
    expect(JSON.parse((await run(["smd", "group", "get", "retried"])).stdout)).toEqual([
      { label: "retried", description: "", members: { ids: [] } },
    ]);
  });

  it("the token variable wins over the credential, --token over both; scopes show in auth status", async () => {
    const readOnly = (await run(["auth", "token", "--scope", "smd:read"])).stdout.trim();
    expect(decodeJwt(readOnly).scp).toEqual(["smd:read"]);
    const env = { ...home.env, DEMO_ACCESS_TOKEN: readOnly };
    const status = JSON.parse((await run(["auth", "status"], { env })).stdout);
    expect(status).toMatchObject({ cluster: "demo", source: "DEMO_ACCESS_TOKEN", client: api.admin.client_id, scopes: "smd:read" });
    expect(status.expires_in_s).toBeGreaterThan(30);
    const write = await run(["smd", "group", "add", "nope"], { env });
    expect(write.code).toBe(3);
    expect(write.stderr).toMatch(/^error: 403 Forbidden: .*\(token from DEMO_ACCESS_TOKEN lacks the scope; see `ochami auth status`\)\n$/);
    const flag = await run(["--token", cachedToken(), "smd", "group", "add", "flagged"], { env });
    expect(flag.code, flag.stderr).toBe(0);
  });

  it("an expired token variable: an error naming it, or the credential (with a warning) when there is one", async () => {
    const token = (await run(["auth", "token"])).stdout.trim();
    const withCredential = await run(["smd", "group", "get", "flagged"], {
      env: { ...home.env, DEMO_ACCESS_TOKEN: token },
      prefix: later(120),
    });
    expect(withCredential.code, withCredential.stderr).toBe(0);
    expect(withCredential.stderr).toMatch(/^warning: the token in DEMO_ACCESS_TOKEN expired at \S+; using the stored client credential/);
    const bare = makeHome({ DEMO_ACCESS_TOKEN: token });
    try {
      await ochami(["config", "cluster", "set", "demo", "cluster.uri", api.url], { env: bare.env });
      const r = await ochami(["smd", "group", "get"], { env: bare.env, prefix: later(120) });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        /^error: the token in DEMO_ACCESS_TOKEN expired at \d{4}-\S+Z; get a new one from your token issuer, or store a client credential, whose tokens renew themselves: unset DEMO_ACCESS_TOKEN; ochami auth login --client-id <client id>\n$/,
      );
      // Public routes need no token at all, as upstream.
      expect((await ochami(["smd", "component", "get"], { env: bare.env, prefix: later(120) })).code).toBe(0);
      // What it says works, with the clock still ahead: the credential's tokens are fresh.
      const { DEMO_ACCESS_TOKEN: _expired, ...unset } = bare.env;
      const login = await ochami(["auth", "login", "--client-id", api.admin.client_id], {
        env: unset,
        input: api.admin.client_secret,
        prefix: later(120),
      });
      expect(login.code, login.stderr).toBe(0);
      expect(await ochami(["smd", "group", "get", "flagged"], { env: unset, prefix: later(120) })).toMatchObject({ code: 0 });
    } finally {
      bare.remove();
    }
  });

  it("an expired token variable on the head node: the command it suggests gets a new token there", async () => {
    const token = (await run(["auth", "token"])).stdout.trim();
    const headNode = makeHome({ DEMO_ACCESS_TOKEN: token });
    try {
      const state = path.join(headNode.dir, "state");
      writeHeadNodeState(state, api);
      const env = { ...headNode.env, OCHAMI_STATE_DIR: state };
      await ochami(["config", "cluster", "set", "demo", "cluster.uri", api.url], { env });
      const r = await ochami(["smd", "group", "get"], { env, prefix: later(120) });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        /^error: the token in DEMO_ACCESS_TOKEN expired at \S+; get a new one from this head node: export DEMO_ACCESS_TOKEN=\$\(ochami --ignore-config auth token\)\n$/,
      );
      const fresh = await ochami(["--ignore-config", "auth", "token"], { env, prefix: later(120) });
      expect(fresh.code, fresh.stderr).toBe(0);
      expect(decodeJwt(fresh.stdout.trim())).toMatchObject({ client_id: api.admin.client_id });
      expect(await ochami(["smd", "group", "get", "flagged"], { env: { ...env, DEMO_ACCESS_TOKEN: fresh.stdout.trim() } })).toMatchObject({
        code: 0,
      });
    } finally {
      headNode.remove();
    }
  });

  it("a variable set but empty (its command failed) is named in a warning, not silently skipped", async () => {
    const r = await run(["smd", "group", "get", "flagged"], { env: { ...home.env, DEMO_ACCESS_TOKEN: "" } });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("warning: DEMO_ACCESS_TOKEN is set but empty (did the command that set it fail?); ignoring it\n");
  });

  it("--no-token and enable-auth: false send none: a protected route answers 401 (exit 3)", async () => {
    const r = await run(["--no-token", "smd", "group", "get"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error: 401 Unauthorized: .+ \(no token was sent; drop --no-token or set enable-auth: true\)\n$/);
    await run(["config", "cluster", "set", "demo", "cluster.enable-auth", "false"]);
    expect((await run(["smd", "group", "get"])).code).toBe(3);
    expect((await run(["smd", "status"])).code).toBe(0);
    await run(["config", "cluster", "unset", "demo", "cluster.enable-auth"]);
    expect((await run(["smd", "group", "get"])).code).toBe(0);
  });

  it("a secret inline in the cluster configuration works too (for templated config files)", async () => {
    const inline = makeHome();
    try {
      // `--`: a secret may start with "-" (base64url), which would read as an option.
      for (const [k, v] of [
        ["cluster.uri", api.url],
        ["cluster.client-id", api.admin.client_id],
        ["cluster.client-secret", api.admin.client_secret],
      ])
        expect((await ochami(["config", "cluster", "set", "--", "demo", k, v], { env: inline.env })).code).toBe(0);
      const r = await ochami(["auth", "status"], { env: inline.env });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ source: `client ${api.admin.client_id}`, scopes: "admin" });
    } finally {
      inline.remove();
    }
  });

  it("clients: create, log in with one, revoke it; its next command fails as an auth error", async () => {
    const created = await run(["auth", "client", "create", "ci-runner", "--scope", "smd:read smd:write"]);
    expect(created.code, created.stderr).toBe(0);
    const client = JSON.parse(created.stdout);
    const list = await run(["auth", "client", "list", "-F", "table"]);
    expect(list.stdout).toMatch(/^CLIENT_ID\s+NAME\s+SCOPE\s+STATUS\s+CREATED\n/);
    expect(list.stdout).toMatch(new RegExp(`${client.client_id}\\s+ci-runner\\s+smd:read smd:write\\s+active`));

    const ci = makeHome();
    try {
      await ochami(["config", "cluster", "set", "demo", "cluster.uri", api.url], { env: ci.env });
      const login = await ochami(["auth", "login", "--client-id", client.client_id], { env: ci.env, input: client.client_secret });
      expect(login.code, login.stderr).toBe(0);
      expect(login.stderr).toContain(`logged in to demo as client ${client.client_id} (scopes: smd:read smd:write)`);
      expect((await ochami(["smd", "group", "add", "ci"], { env: ci.env })).code).toBe(0);
      const bss = await ochami(["bss", "boot", "params", "get"], { env: ci.env });
      expect(bss.code).toBe(3);
      expect(bss.stderr).toContain("403 Forbidden");

      expect((await run(["auth", "client", "revoke", "--no-confirm", client.client_id])).code).toBe(0);
      const after = await ochami(["smd", "group", "get"], { env: ci.env });
      expect(after.code).toBe(3);
      expect(after.stderr).toMatch(
        new RegExp(`^error: the token endpoint \\S+/token refused client ${client.client_id}: 401 Unauthorized`),
      );

      const out = await ochami(["auth", "logout"], { env: ci.env });
      expect(out.stderr).toBe("logged out of demo\n");
      expect(existsSync(path.join(ci.dir, ".config", "ochami", "credentials", "demo.secret"))).toBe(false);
      expect((await ochami(["smd", "group", "get"], { env: ci.env })).stderr).toContain(
        "error: no token: pass --token, set DEMO_ACCESS_TOKEN",
      );
    } finally {
      ci.remove();
    }
  });
});

/** What `npm start` leaves in its state directory for the CLI: api.json and the admin client. */
function writeHeadNodeState(dir: string, api: TestApi, admin = readFileSync(path.join(api.stateDir, "auth", "admin-client.json"), "utf8")) {
  mkdirSync(path.join(dir, "auth"), { recursive: true });
  writeFileSync(
    path.join(dir, "api.json"),
    `${JSON.stringify({ url: api.url, started_at: new Date(Date.now() - 60_000).toISOString() })}\n`,
  );
  writeFileSync(path.join(dir, "auth", "admin-client.json"), admin, { mode: 0o600 });
}

describe("npm run --silent token on the head node", () => {
  let api: TestApi;
  let home: Home;
  beforeAll(async () => {
    api = await startTestApi();
    home = makeHome();
  });
  afterAll(async () => {
    home?.remove();
    await api?.stop();
  });
  const withState = (dir: string) => ({ ...home.env, OCHAMI_STATE_DIR: dir });

  it("prints the admin client's token when the state is the running API's", async () => {
    const state = path.join(home.dir, "good");
    writeHeadNodeState(state, api);
    const r = await npmRun("token", [], withState(state));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    expect(decodeJwt(r.stdout.trim())).toMatchObject({ client_id: api.admin.client_id });
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  });

  it("a state that is not the running API's, or no state: one line saying what to do, a non-zero exit, nothing on stdout", async () => {
    const other = path.join(home.dir, "other");
    const admin = JSON.parse(readFileSync(path.join(api.stateDir, "auth", "admin-client.json"), "utf8"));
    writeHeadNodeState(other, api, JSON.stringify({ ...admin, client_id: "admin-0ther", client_secret: "not-this-apis" }));
    const half = path.join(home.dir, "half");
    writeHeadNodeState(half, api);
    rmSync(path.join(half, "auth", "admin-client.json"));
    const cases: Array<[string, number, string]> = [
      [
        other,
        3,
        `error: the API at ${api.url} does not know admin-0ther, the admin client of ${other}: it runs with another state directory. ` +
          "Set OCHAMI_STATE_DIR to that one, or restart `npm start` with this one (the token endpoint answered 401 Unauthorized)\n",
      ],
      [
        half,
        3,
        `error: cannot read the head node's admin client ${half}/auth/admin-client.json: ENOENT: no such file or directory: ` +
          "`npm start` writes it on its first start with this state directory (OCHAMI_STATE_DIR, default <checkout>/.state)\n",
      ],
      [
        path.join(home.dir, "none"),
        2,
        `error: no cluster configured (config files read: none) and no \`npm start\` state in ${path.join(home.dir, "none")}: configure one ` +
          "(ochami config cluster set --default demo cluster.uri http://127.0.0.1:8081), pass --cluster-uri <uri>, " +
          "or set OCHAMI_STATE_DIR to the state directory of the head node's `npm start`\n",
      ],
    ];
    for (const [dir, code, stderr] of cases) {
      const r = await npmRun("token", [], withState(dir));
      expect(r).toEqual({ code, stdout: "", stderr });
    }
  });
});
