import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { ADMIN_ID, ADMIN_SECRET, AUDIENCE, adminToken, call, createClient, ISSUER, signingKey, tokenFor } from "./auth-helpers";

const form = (fields: Record<string, string>) => ({
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(fields).toString(),
});
const basic = (id: string, secret: string) => `Basic ${btoa(`${id}:${secret}`)}`;

describe("token endpoint (RFC 6749 §4.4 client credentials)", () => {
  it("issues a Hydra-shaped token to the bootstrap admin over HTTP Basic", async () => {
    const r = await tokenFor(ADMIN_ID, ADMIN_SECRET);
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.headers.get("pragma")).toBe("no-cache");
    expect(Object.keys(r.body).sort()).toEqual(["access_token", "expires_in", "scope", "token_type"]);
    expect(r.body).toMatchObject({ token_type: "bearer", expires_in: 3600, scope: "admin" });

    const header = decodeProtectedHeader(r.body.access_token);
    expect(header).toMatchObject({ alg: "ES256", kid: signingKey.kid, typ: "JWT" });
    const claims = decodeJwt(r.body.access_token);
    expect(claims).toMatchObject({ iss: ISSUER, sub: ADMIN_ID, aud: [AUDIENCE], client_id: ADMIN_ID, scp: ["admin"] });
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims.nbf).toBe(claims.iat);
    expect(typeof claims.jti).toBe("string");
    expect(Math.abs(claims.iat! - Date.now() / 1000)).toBeLessThan(5);
  });

  it("publishes the key the token verifies with at /.well-known/jwks.json and /keys", async () => {
    const token = (await tokenFor(ADMIN_ID, ADMIN_SECRET)).body.access_token;
    for (const [method, path] of [
      ["GET", "/.well-known/jwks.json"],
      ["GET", "/keys"],
      ["POST", "/keys"],
    ]) {
      const r = await call(method, path);
      expect(r.status, path).toBe(200);
      expect(r.body.keys).toHaveLength(1);
      expect(r.body.keys[0]).toMatchObject({ kty: "EC", crv: "P-256", kid: signingKey.kid, alg: "ES256", use: "sig" });
      expect(r.body.keys[0].d, "private part must never be published").toBeUndefined();
      const { payload } = await jwtVerify(token, createLocalJWKSet(r.body), { issuer: ISSUER, audience: AUDIENCE });
      expect(payload.sub).toBe(ADMIN_ID);
    }
  });

  it("serves discovery metadata pointing at the token endpoint and key set", async () => {
    const r = await call("GET", "/.well-known/openid-configuration");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      issuer: ISSUER,
      token_endpoint: `${ISSUER}/oauth2/token`,
      jwks_uri: `${ISSUER}/.well-known/jwks.json`,
      grant_types_supported: ["client_credentials"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    });
    expect(r.body.scopes_supported).toContain("smd:read");
  });

  it("answers at Hydra's /oauth2/token with client_secret_post and a configured lifetime", async () => {
    const r = await call("POST", "/oauth2/token", {
      vars: { OCHAMI_AUTH_TOKEN_LIFETIME: "15m" },
      ...form({ grant_type: "client_credentials", client_id: ADMIN_ID, client_secret: ADMIN_SECRET, scope: "smd:read" }),
    });
    expect(r.status).toBe(200);
    expect(r.body.expires_in).toBe(900);
    const claims = decodeJwt(r.body.access_token);
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(claims.scp).toEqual(["smd:read"]);
  });

  it("accepts Hydra's scope spelling and openid, granting our canonical names", async () => {
    const r = await tokenFor(ADMIN_ID, ADMIN_SECRET, "openid smd.read bss.write");
    expect(r.status).toBe(200);
    expect(r.body.scope).toBe("openid smd:read bss:write");
    expect(decodeJwt(r.body.access_token).scp).toEqual(["openid", "smd:read", "bss:write"]);
  });

  it("rejects bad client credentials with 401 invalid_client and a Basic challenge", async () => {
    const cases: [string, Record<string, string>, Record<string, string>][] = [
      ["wrong secret (Basic)", { authorization: basic(ADMIN_ID, "nope") }, { grant_type: "client_credentials" }],
      ["unknown client (Basic)", { authorization: basic("ghost", ADMIN_SECRET) }, { grant_type: "client_credentials" }],
      ["wrong secret (post)", {}, { grant_type: "client_credentials", client_id: ADMIN_ID, client_secret: "nope" }],
      ["no credentials", {}, { grant_type: "client_credentials" }],
      ["id without secret", {}, { grant_type: "client_credentials", client_id: ADMIN_ID }],
    ];
    for (const [name, headers, fields] of cases) {
      const r = await call("POST", "/token", {
        headers: { ...headers, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields).toString(),
      });
      expect(r.status, name).toBe(401);
      expect(r.body.error, name).toBe("invalid_client");
      expect(r.headers.get("www-authenticate"), name).toMatch(/^Basic realm="ochami"/);
      expect(r.headers.get("cache-control"), name).toBe("no-store");
    }
  });

  it("answers malformed requests with RFC 6749 §5.2 errors", async () => {
    const auth = { authorization: basic(ADMIN_ID, ADMIN_SECRET), "content-type": "application/x-www-form-urlencoded" };
    const cases: [string, Record<string, string>, string, number, string][] = [
      ["no grant_type", auth, "scope=smd:read", 400, "invalid_request"],
      ["password grant", auth, "grant_type=password&username=a&password=b", 400, "unsupported_grant_type"],
      ["authorization_code", auth, "grant_type=authorization_code&code=x", 400, "unsupported_grant_type"],
      ["repeated parameter", auth, "grant_type=client_credentials&scope=a&scope=b", 400, "invalid_request"],
      ["unknown scope", auth, "grant_type=client_credentials&scope=smd:read%20root", 400, "invalid_scope"],
      ["JSON body", { ...auth, "content-type": "application/json" }, '{"grant_type":"client_credentials"}', 400, "invalid_request"],
      [
        "two authentication methods",
        auth,
        `grant_type=client_credentials&client_id=${ADMIN_ID}&client_secret=${ADMIN_SECRET}`,
        400,
        "invalid_request",
      ],
    ];
    for (const [name, headers, body, status, error] of cases) {
      const r = await call("POST", "/token", { headers, body });
      expect([r.status, r.body?.error], name).toEqual([status, error]);
      expect(typeof r.body.error_description, name).toBe("string");
    }
  });

  it("refuses scopes the client does not hold (invalid_scope) and grants its own by default", async () => {
    const reader = await createClient("smd:read bss:read");
    const asked = await tokenFor(reader.id, reader.secret, "smd:write");
    expect([asked.status, asked.body.error]).toEqual([400, "invalid_scope"]);
    const dflt = await tokenFor(reader.id, reader.secret);
    expect(dflt.status).toBe(200);
    expect(dflt.body.scope).toBe("smd:read bss:read");
    const narrowed = await tokenFor(reader.id, reader.secret, "bss:read");
    expect(narrowed.body.scope).toBe("bss:read");
  });

  it("only POST reaches the token endpoint", async () => {
    const r = await call("GET", "/token");
    expect(r.status).toBe(405);
    expect(r.headers.get("allow")).toBe("POST");
  });

  it("a client created with a chosen id and a form-urlencoded Basic credential works", async () => {
    const c = await createClient("cloud-init:read", "site.ci~runner_1");
    const r = await call("POST", "/token", {
      headers: { authorization: basic(encodeURIComponent(c.id), c.secret), "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    expect(r.status).toBe(200);
    expect(decodeJwt(r.body.access_token).client_id).toBe("site.ci~runner_1");
  });

  it("answers 503 when no signing key is configured (never issues unsigned tokens)", async () => {
    const r = await call("POST", "/token", {
      vars: { OCHAMI_AUTH_SIGNING_KEY: undefined },
      headers: { authorization: basic(ADMIN_ID, ADMIN_SECRET), "content-type": "application/x-www-form-urlencoded" },
      body: "grant_type=client_credentials",
    });
    expect([r.status, r.body.error]).toEqual([503, "server_error"]);
    const jwks = await call("GET", "/.well-known/jwks.json", { vars: { OCHAMI_AUTH_SIGNING_KEY: undefined } });
    expect(jwks.status).toBe(503);
  });
});

describe("client management (/auth/clients, admin scope)", () => {
  it("creates, lists, shows and revokes clients; the secret is shown once and stored hashed", async () => {
    const admin = await adminToken();
    const created = await call("POST", "/auth/clients", { token: admin, json: { client_name: "ci", scope: "smd.read smd:write" } });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(`/auth/clients/${created.body.client_id}`);
    expect(created.headers.get("cache-control")).toBe("no-store");
    expect(created.body).toMatchObject({
      client_name: "ci",
      scope: "smd:read smd:write",
      active: true,
      created_by: ADMIN_ID,
      origin: "api",
    });
    expect(created.body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const id = created.body.client_id;

    const row = await (await import("cloudflare:workers")).env.DB.prepare("SELECT secret_hash FROM auth_clients WHERE client_id = ?")
      .bind(id)
      .first<{ secret_hash: string }>();
    expect(row!.secret_hash).toMatch(/^pbkdf2-sha256\$100000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(row!.secret_hash).not.toContain(created.body.client_secret);

    const listed = await call("GET", "/auth/clients", { token: admin });
    expect(listed.status).toBe(200);
    const entry = listed.body.clients.find((c: any) => c.client_id === id);
    expect(entry).toMatchObject({ client_name: "ci", active: true, revoked_at: null });
    expect(entry.client_secret).toBeUndefined();
    expect(listed.body.clients.some((c: any) => c.client_id === ADMIN_ID && c.origin === "bootstrap")).toBe(true);

    const token = (await tokenFor(id, created.body.client_secret)).body.access_token;
    expect((await call("GET", "/hsm/v2/State/Components/x1000c0s0b0n0", { token })).status).toBe(404);

    const revoked = await call("DELETE", `/auth/clients/${id}`, { token: admin });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ active: false });
    expect(typeof revoked.body.revoked_at).toBe("string");
    expect((await call("GET", `/auth/clients/${id}`, { token: admin })).body.active).toBe(false);

    // Revocation is immediate for the token endpoint and for tokens already issued.
    const again = await tokenFor(id, created.body.client_secret);
    expect([again.status, again.body.error]).toEqual([401, "invalid_client"]);
    const old = await call("GET", "/hsm/v2/State/Components/x1000c0s0b0n0", { token });
    expect(old.status).toBe(401);
    expect(old.body.detail).toContain("revoked");

    // Idempotent; the id is never reused.
    expect((await call("DELETE", `/auth/clients/${id}`, { token: admin })).status).toBe(200);
    const reuse = await call("POST", "/auth/clients", { token: admin, json: { client_id: id, scope: "admin" } });
    expect(reuse.status).toBe(409);
  });

  it("validates client bodies with 400s and unknown ids with 404", async () => {
    const admin = await adminToken();
    const bad: [string, unknown][] = [
      ["no scope", { client_name: "x" }],
      ["unknown scope", { scope: "smd:read everything" }],
      ["empty scope", { scope: "  " }],
      ["bad id", { client_id: "has space", scope: "smd:read" }],
      ["id not a string", { client_id: 7, scope: "smd:read" }],
      ["not an object", ["smd:read"]],
    ];
    for (const [name, json] of bad) {
      const r = await call("POST", "/auth/clients", { token: admin, json });
      expect(r.status, name).toBe(400);
      expect(r.headers.get("content-type"), name).toBe("application/problem+json");
    }
    expect((await call("POST", "/auth/clients", { token: admin, body: "{not json" })).status).toBe(400);
    expect((await call("GET", "/auth/clients/nobody", { token: admin })).status).toBe(404);
    expect((await call("DELETE", "/auth/clients/nobody", { token: admin })).status).toBe(404);
  });

  it("needs the admin scope: a smd:write client cannot manage clients", async () => {
    const writer = await createClient("smd:read smd:write");
    const token = (await tokenFor(writer.id, writer.secret)).body.access_token;
    const r = await call("POST", "/auth/clients", { token, json: { scope: "admin" } });
    expect(r.status).toBe(403);
    expect(r.headers.get("www-authenticate")).toContain('error="insufficient_scope"');
    expect((await call("POST", "/auth/clients", { json: { scope: "admin" } })).status).toBe(401);
  });
});

describe("bootstrap admin client", () => {
  it("is seeded from its secret binding, follows a rotated secret, and stays revoked once revoked", async () => {
    const { hashSecret } = await import("../../shared/auth/secret-hash");
    const id = "boot-rotating";
    const binding = async (secret: string) => ({
      OCHAMI_AUTH_BOOTSTRAP_CLIENT: JSON.stringify({ client_id: id, secret_hash: await hashSecret(secret), scope: "admin" }),
    });
    const v1 = await binding("first-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expect((await tokenFor(id, "first-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", undefined, v1)).status).toBe(200);

    const v2 = await binding("second-secret-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    expect((await tokenFor(id, "first-secret-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", undefined, v2)).status).toBe(401);
    const t2 = await tokenFor(id, "second-secret-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", undefined, v2);
    expect(t2.status).toBe(200);

    expect((await call("DELETE", `/auth/clients/${id}`, { token: t2.body.access_token, vars: v2 })).status).toBe(200);
    expect((await tokenFor(id, "second-secret-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", undefined, v2)).status).toBe(401);
    const v3 = await binding("third-secret-ccccccccccccccccccccccccccccccccccc");
    expect((await tokenFor(id, "third-secret-ccccccccccccccccccccccccccccccccccc", undefined, v3)).status).toBe(401);
  });

  it("cannot be created over HTTP without the binding: unknown ids get invalid_client", async () => {
    const r = await tokenFor("bootstrap-admin-2", ADMIN_SECRET);
    expect(r.status).toBe(401);
    const { env } = await import("cloudflare:workers");
    expect(await env.DB.prepare("SELECT 1 FROM auth_clients WHERE client_id = 'bootstrap-admin-2'").first()).toBeNull();
  });
});
