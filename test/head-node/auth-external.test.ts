import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { publicJwk } from "../../shared/auth/keys";
import { freePort } from "./ports";

/**
 * A site IdP (Keycloak/Hydra stand-in): a tiny HTTP server publishing an RS256 JWKS on loopback.
 * The worker under workerd fetches it over the network (runner outbound "private"), caches it,
 * and verifies the IdP's tokens; no own signing key is configured.
 */
describe("external issuer with a JWKS URL (workerd fetching a real key set)", () => {
  const ISSUER = "http://keycloak.test/realms/hpc";
  const stateDir = mkdtempSync(path.join(tmpdir(), "au-auth-ext-"));
  let idp: Server;
  let jwksUrl: string;
  let fetches = 0;
  let key: JWK;
  let api: ApiServer;
  let jwksBody: () => unknown;

  beforeAll(async () => {
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    key = { ...(await exportJWK(privateKey)), kid: "kc-1", alg: "RS256", use: "sig" };
    jwksBody = () => ({ keys: [publicJwk(key)] });
    idp = createServer((req, res) => {
      if (req.url === "/realms/hpc/protocol/openid-connect/certs") {
        fetches++;
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(jwksBody()));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
    jwksUrl = `http://127.0.0.1:${(idp.address() as { port: number }).port}/realms/hpc/protocol/openid-connect/certs`;
    api = await startApiServer({
      port: await freePort(),
      stateDir,
      outbound: "private",
      onLog: () => {},
      vars: {
        OCHAMI_AUTH: "on",
        OCHAMI_AUTH_EXTERNAL_ISSUER: ISSUER,
        OCHAMI_AUTH_EXTERNAL_JWKS_URL: jwksUrl,
        OCHAMI_AUTH_EXTERNAL_AUDIENCE: "ochami",
      },
    });
  });
  afterAll(async () => {
    await api?.stop();
    await new Promise((r) => idp?.close(r));
    rmSync(stateDir, { recursive: true, force: true });
  });

  const token = async (claims: Record<string, unknown>, signWith: JWK = key) => {
    const t = Math.floor(Date.now() / 1000);
    return new SignJWT({
      iss: ISSUER,
      sub: "service-account-ci",
      aud: ["ochami", "account"],
      azp: "ci",
      scope: "profile smd:read",
      iat: t,
      exp: t + 300,
      ...claims,
    })
      .setProtectedHeader({ alg: "RS256", kid: signWith.kid, typ: "JWT" })
      .sign(await importJWK(signWith, "RS256"));
  };
  const get = async (t?: string) =>
    fetch(`${api.url}/hsm/v2/State/Components/x1000c0s0b0n0`, { headers: t ? { authorization: `Bearer ${t}` } : {} });

  it("verifies the IdP's tokens against its published keys, fetching the key set once", async () => {
    expect((await get()).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await get(await token({}))).status).toBe(404);
    expect(fetches).toBe(1);
  });

  it("rejects forged, expired and wrong-audience tokens, and checks scopes", async () => {
    const { privateKey } = await generateKeyPair("RS256", { extractable: true });
    const forged = { ...(await exportJWK(privateKey)), kid: "kc-1", alg: "RS256" };
    expect((await get(await token({}, forged))).status).toBe(401);
    expect((await get(await token({ exp: Math.floor(Date.now() / 1000) - 120 }))).status).toBe(401);
    expect((await get(await token({ aud: "account" }))).status).toBe(401);
    const write = await fetch(`${api.url}/hsm/v2/State/Components`, {
      method: "POST",
      headers: { authorization: `Bearer ${await token({})}` },
      body: "{}",
    });
    expect(write.status).toBe(403);
  });

  it("our own token endpoint is off without a signing key, and says so", async () => {
    const r = await fetch(`${api.url}/token`, {
      method: "POST",
      body: "grant_type=client_credentials&client_id=a&client_secret=b",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(r.status).toBe(503);
    expect(((await r.json()) as any).error).toBe("server_error");
  });
});
