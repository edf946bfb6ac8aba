import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ochami } from "../cli/harness";
import { cleanEnv, npmRun, type Started, startHeadNode } from "./auth-process";
import { freePort } from "./ports";

/**
 * `npm start` on a fresh state directory creates the issuer's key and an admin client, and the
 * token, client and key commands work against it while it runs (over HTTP: workerd holds the D1
 * file): `npm run token` and `ochami auth client` with no CLI configuration at all.
 */
describe("first start, token command, client and key commands (real processes)", () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "au-auth-start-"));
  const home = mkdtempSync(path.join(tmpdir(), "au-auth-home-"));
  let port: number;
  let env: NodeJS.ProcessEnv;
  let node: Started;
  let url: string;

  beforeAll(async () => {
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // The agent runs beside the API; its ports are free ones so parallel work on this machine cannot collide.
    env = cleanEnv({
      PORT: String(port),
      HOST: "127.0.0.1",
      OCHAMI_STATE_DIR: stateDir,
      OCHAMI_IMAGES_PORT: String(await freePort()),
      OCHAMI_AGENT_METRICS_PORT: String(await freePort()),
      // The admin's own CLI configuration and token cache: none yet.
      HOME: home,
      OCHAMI_SYSTEM_CONFIG: path.join(home, "etc-ochami.yaml"),
    });
    node = await startHeadNode(env);
  });
  afterAll(async () => {
    await node?.stop();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  const get = (p: string, token?: string) => fetch(`${url}${p}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it("creates the signing key and admin client with owner-only permissions, and says how to get a token", () => {
    const authDir = path.join(stateDir, "auth");
    expect(statSync(authDir).mode & 0o777).toBe(0o700);
    for (const f of ["signing-key.jwk", "admin-client.json"]) expect(statSync(path.join(authDir, f)).mode & 0o777, f).toBe(0o600);
    const key = JSON.parse(readFileSync(path.join(authDir, "signing-key.jwk"), "utf8"));
    expect(key).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    expect(typeof key.d).toBe("string");
    const admin = JSON.parse(readFileSync(path.join(authDir, "admin-client.json"), "utf8"));
    expect(admin.client_id).toMatch(/^admin-[0-9a-f]{8}$/);
    expect(admin.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(admin.secret_hash).toMatch(/^pbkdf2-sha256\$100000\$/);

    const out = node.output();
    expect(out).toContain("auth: created signing key and admin client");
    expect(out).toContain("export DEMO_ACCESS_TOKEN=$(npm run --silent token)");
    expect(out, "secrets are never printed").not.toContain(admin.client_secret);
    expect(out).not.toContain(key.d);
  });

  let adminToken: string;

  it("`npm run --silent token` prints only a token, which opens protected routes", async () => {
    const r = await npmRun("token", [], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    adminToken = r.stdout.trim();
    const claims = decodeJwt(adminToken);
    expect(claims).toMatchObject({ iss: "ochami", aud: ["ochami"], scp: ["admin"] });
    expect(claims.exp! - claims.iat!).toBe(3600);

    // BSS's "is auth on?" probe: a 401 without a token.
    const anon = await get("/hsm/v2/Inventory/RedfishEndpoints");
    expect(anon.status).toBe(401);
    expect(anon.headers.get("www-authenticate")).toMatch(/^Bearer realm="ochami"/);
    expect((await get("/hsm/v2/State/Components/x1000c0s0b0n0", adminToken)).status).toBe(404);
    expect((await get("/hsm/v2/State/Components")).status).toBe(200);
  });

  it("`token -- --scope` asks for fewer scopes", async () => {
    const r = await npmRun("token", ["--scope", "smd.read"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(decodeJwt(r.stdout.trim()).scp).toEqual(["smd:read"]);
  });

  it("the CLI talks to the head node as its admin client only while no cluster is configured", async () => {
    const admin = JSON.parse(readFileSync(path.join(stateDir, "auth", "admin-client.json"), "utf8"));
    const status = await ochami(["auth", "status"], { env });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      cluster: `(the local head node, state ${stateDir})`,
      uri: url,
      source: `client ${admin.client_id}`,
      scopes: "admin",
    });
    const configured = path.join(home, "configured");
    mkdirSync(configured);
    const other = { ...env, HOME: configured };
    expect((await ochami(["config", "cluster", "set", "elsewhere", "cluster.uri", "http://127.0.0.1:9"], { env: other })).code).toBe(0);
    const r = await ochami(["smd", "status"], { env: other });
    expect(r.stderr).toBe("error: cannot reach http://127.0.0.1:9 (GET /hsm/v2/service/ready): connection refused\n");
  });

  it("creates, lists and revokes clients; revocation stops their issued tokens at once", async () => {
    const created = await ochami(["auth", "client", "create", "ci-runner", "--scope", "smd:read bss:read"], { env });
    expect(created.code, created.stderr).toBe(0);
    const client = JSON.parse(created.stdout);
    expect(client).toMatchObject({ client_name: "ci-runner", scope: "smd:read bss:read", active: true });

    const form = (secret: string) => ({
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${client.client_id}:${secret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    const tokenRes = await fetch(`${url}/oauth2/token`, form(client.client_secret));
    expect(tokenRes.status).toBe(200);
    const token = ((await tokenRes.json()) as any).access_token;
    expect((await get("/hsm/v2/State/Components/x1000c0s0b0n0", token)).status).toBe(404);
    const write = await fetch(`${url}/hsm/v2/State/Components`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      body: "{}",
    });
    expect(write.status).toBe(403);

    const listed = await ochami(["auth", "client", "list", "-F", "table"], { env });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${client.client_id}\\s+ci-runner\\s+smd:read bss:read\\s+active`));

    const revoked = await ochami(["auth", "client", "revoke", "--no-confirm", client.client_id], { env });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(JSON.parse(revoked.stdout)).toMatchObject({ client_id: client.client_id, active: false });
    expect((await get("/hsm/v2/State/Components/x1000c0s0b0n0", token)).status).toBe(401);
    expect((await fetch(`${url}/token`, form(client.client_secret))).status).toBe(401);
    expect((await ochami(["auth", "client", "list", "-F", "json-pretty"], { env })).stdout).toContain('"active": false');
  });

  it("prints wrangler secrets without the admin's plain secret", async () => {
    const boot = await npmRun("keys", ["secret", "bootstrap-client"], env);
    expect(boot.code, boot.stderr).toBe(0);
    const v = JSON.parse(boot.stdout);
    expect(Object.keys(v).sort()).toEqual(["client_id", "scope", "secret_hash"]);
    const key = await npmRun("keys", ["secret", "signing-key"], env);
    expect(JSON.parse(key.stdout).d).toBeDefined();
    // What a worker with OCHAMI_TRUSTED_PROXIES needs, and the node proxy sends: the state directory's.
    const proxy = await npmRun("keys", ["secret", "proxy-secret"], env);
    expect(proxy.code, proxy.stderr).toBe(0);
    const stored = JSON.parse(readFileSync(path.join(stateDir, "auth", "proxy-secret.json"), "utf8")).secret;
    expect(proxy.stdout).toBe(`${stored}\n`);
    expect(stored).toMatch(/^[\x21-\x7e]{32,}$/);
  });

  it("keeps key and admin across restarts; rotation accepts both keys until the old one is pruned", async () => {
    const oldKid = decodeProtectedHeader(adminToken).kid;
    const rotated = await npmRun("keys", ["rotate"], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    await node.stop();
    node = await startHeadNode(env);
    expect(node.output(), "the admin client is kept").not.toContain("auth: created");
    const jwks = (await (await get("/.well-known/jwks.json")).json()) as any;
    expect(jwks.keys).toHaveLength(2);
    expect(jwks.keys[1].kid).toBe(oldKid);
    const fresh = (await npmRun("token", [], env)).stdout.trim();
    expect(decodeProtectedHeader(fresh).kid).not.toBe(oldKid);
    expect(
      (await get("/hsm/v2/State/Components/x1000c0s0b0n0", adminToken)).status,
      "old key still accepted, old admin token still good",
    ).toBe(404);
    expect((await get("/hsm/v2/State/Components/x1000c0s0b0n0", fresh)).status).toBe(404);

    const pruned = await npmRun("keys", ["prune", "--all"], env);
    expect(pruned.stdout).toContain(`dropped ${oldKid}`);
    await node.stop();
    node = await startHeadNode(env);
    expect((await get("/hsm/v2/State/Components/x1000c0s0b0n0", adminToken)).status, "pruned key rejected").toBe(401);
    expect((await get("/hsm/v2/State/Components/x1000c0s0b0n0", fresh)).status).toBe(404);
  });

  it("the token command fails clearly when the API is not running", async () => {
    await node.stop();
    const r = await npmRun("token", [], env);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      `error: cannot reach the token endpoint ${url}/token: connection refused; is \`npm start\` running? (OCHAMI_URL selects another)\n`,
    );
  });
});

describe("npm start with auth misconfigured", () => {
  it("refuses to serve with auth on but broken, naming the variable", async () => {
    const stateDir = mkdtempSync(path.join(tmpdir(), "au-auth-bad-"));
    try {
      const env = cleanEnv({
        PORT: String(await freePort()),
        HOST: "127.0.0.1",
        OCHAMI_STATE_DIR: stateDir,
        OCHAMI_AUTH_TOKEN_LIFETIME: "soon",
      });
      await expect(startHeadNode(env)).rejects.toThrow(/OCHAMI_AUTH_TOKEN_LIFETIME/);
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
