import { decodeProtectedHeader, importJWK, type JWK, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey, publicJwk } from "../../shared/auth/keys";
import { ADMIN_ID, ADMIN_SECRET, call, createClient, now, rsaKey, signingKey, signToken, tokenFor, type Vars } from "./auth-helpers";

const PROTECTED_READ = "/hsm/v2/State/Components/x1000c0s0b0n0"; // smd:read; 404 once past auth
const PROTECTED_WRITE = "/hsm/v2/State/Components"; // POST: smd:write

let CLIENT: string;
beforeAll(async () => {
  CLIENT = (await createClient("smd:read", "keys-client")).id;
});

describe("signing key rotation", () => {
  let next: JWK;
  let rollover: Vars;
  let afterRollover: Vars;

  beforeAll(async () => {
    next = await generateSigningKey("ES256");
    // During the rollover the new key signs and the old one is still published and accepted.
    rollover = {
      OCHAMI_AUTH_SIGNING_KEY: JSON.stringify(next),
      OCHAMI_AUTH_PREVIOUS_KEYS: JSON.stringify({ keys: [publicJwk(signingKey)] }),
    };
    afterRollover = { OCHAMI_AUTH_SIGNING_KEY: JSON.stringify(next) };
  });

  it("publishes both keys during the rollover and signs new tokens with the new one", async () => {
    const jwks = await call("GET", "/.well-known/jwks.json", { vars: rollover });
    expect(jwks.body.keys.map((k: JWK) => k.kid)).toEqual([next.kid, signingKey.kid]);
    expect(jwks.body.keys.every((k: JWK) => k.d === undefined)).toBe(true);
    const issued = await tokenFor(ADMIN_ID, ADMIN_SECRET, "smd:read", rollover);
    expect(decodeProtectedHeader(issued.body.access_token).kid).toBe(next.kid);
  });

  it("accepts tokens signed by either key during the rollover", async () => {
    const oldToken = await signToken({ sub: CLIENT, client_id: CLIENT, scp: ["smd:read"] });
    const newToken = await signToken({ sub: CLIENT, client_id: CLIENT, scp: ["smd:read"] }, { key: next });
    expect((await call("GET", PROTECTED_READ, { token: oldToken, vars: rollover })).status).toBe(404);
    expect((await call("GET", PROTECTED_READ, { token: newToken, vars: rollover })).status).toBe(404);
  });

  it("rejects the removed key's tokens once it is dropped, and keeps the new key's", async () => {
    const oldToken = await signToken({ sub: CLIENT, client_id: CLIENT, scp: ["smd:read"] });
    const newToken = await signToken({ sub: CLIENT, client_id: CLIENT, scp: ["smd:read"] }, { key: next });
    const r = await call("GET", PROTECTED_READ, { token: oldToken, vars: afterRollover });
    expect(r.status).toBe(401);
    expect(r.body.detail).toBe("no key of the issuer matches the token (unknown kid)");
    expect((await call("GET", PROTECTED_READ, { token: newToken, vars: afterRollover })).status).toBe(404);
  });

  it("an EdDSA signing key works as well", async () => {
    const ed = await generateSigningKey("EdDSA");
    const vars = { OCHAMI_AUTH_SIGNING_KEY: JSON.stringify(ed) };
    const issued = await tokenFor(ADMIN_ID, ADMIN_SECRET, "smd:read", vars);
    expect(decodeProtectedHeader(issued.body.access_token).alg).toBe("EdDSA");
    expect((await call("GET", PROTECTED_READ, { token: issued.body.access_token, vars })).status).toBe(404);
  });
});

describe("external issuer (a site's Keycloak or Hydra), key set given inline", () => {
  const EXT = "https://keycloak.site.example/realms/hpc";
  let idpKey: JWK;
  let vars: Vars;

  beforeAll(async () => {
    idpKey = await rsaKey("idp-1");
    vars = {
      OCHAMI_AUTH_EXTERNAL_ISSUER: EXT,
      OCHAMI_AUTH_EXTERNAL_JWKS: JSON.stringify({ keys: [publicJwk(idpKey)] }),
      OCHAMI_AUTH_EXTERNAL_AUDIENCE: "ochami-api",
    };
  });

  const external = async (claims: Record<string, unknown>, key: JWK = idpKey, alg = "RS256") => {
    const t = now();
    return new SignJWT({ iss: EXT, sub: "svc-account", aud: "ochami-api", iat: t, exp: t + 300, ...claims })
      .setProtectedHeader({ alg, kid: key.kid })
      .sign(await importJWK(key, alg));
  };

  it("accepts its tokens, with scopes in Keycloak's `scope` string or Hydra's `scp` array and either spelling", async () => {
    const kc = await external({ scope: "openid profile smd:read" });
    expect((await call("GET", PROTECTED_READ, { token: kc, vars })).status).toBe(404);
    const hydra = await external({ scp: ["openid", "smd.read", "smd.write"] });
    expect((await call("GET", PROTECTED_READ, { token: hydra, vars })).status).toBe(404);
    expect((await call("POST", PROTECTED_WRITE, { token: hydra, vars, json: { Components: [] } })).status).not.toBe(403);
    const readOnly = await external({ scope: "smd.read" });
    const r = await call("POST", PROTECTED_WRITE, { token: readOnly, vars, json: { Components: [] } });
    expect(r.status).toBe(403);
  });

  it("still accepts our own tokens next to the external ones", async () => {
    const ours = await signToken({ sub: CLIENT, client_id: CLIENT, scp: ["smd:read"] });
    expect((await call("GET", PROTECTED_READ, { token: ours, vars })).status).toBe(404);
  });

  it("rejects its tokens with the wrong audience, an unknown key, expired, or a disallowed algorithm", async () => {
    const cases: [string, Promise<string>][] = [
      ["wrong audience", external({ scope: "smd:read", aud: "account" })],
      ["no audience", external({ scope: "smd:read", aud: undefined })],
      ["unknown key", external({ scope: "smd:read" }, await rsaKey("idp-2"))],
      ["forged with the right kid", external({ scope: "smd:read" }, { ...(await rsaKey("x")), kid: "idp-1" })],
      ["expired", external({ scope: "smd:read", exp: now() - 120 })],
      ["issuer spoofed as ours", external({ scope: "smd:read", iss: "https://ochami.test" })],
      ["RS256 key used with PS512 (not allowed)", external({ scope: "smd:read" }, idpKey, "PS512")],
      ["issued in the future", external({ scope: "smd:read", iat: now() + 120 })],
      ["scp as a string", external({ scp: "smd:read" })],
      ["scope as an array", external({ scope: ["smd:read"] })],
    ];
    for (const [name, token] of cases) {
      const r = await call("GET", PROTECTED_READ, { token: await token, vars });
      expect(r.status, name).toBe(401);
      expect(r.headers.get("www-authenticate"), name).toContain('error="invalid_token"');
    }
  });

  it("works as the only verifier (no own signing key): external tokens pass, the token endpoint is off", async () => {
    const only = { ...vars, OCHAMI_AUTH_SIGNING_KEY: undefined };
    expect((await call("GET", PROTECTED_READ, { token: await external({ scope: "smd:read" }), vars: only })).status).toBe(404);
    expect((await tokenFor(ADMIN_ID, ADMIN_SECRET, undefined, only)).status).toBe(503);
  });

  it("without a configured audience, `aud` must still be present (upstream's presence check)", async () => {
    const noAud = { ...vars, OCHAMI_AUTH_EXTERNAL_AUDIENCE: undefined };
    expect((await call("GET", PROTECTED_READ, { token: await external({ scope: "smd:read", aud: "anything" }), vars: noAud })).status).toBe(
      404,
    );
    expect((await call("GET", PROTECTED_READ, { token: await external({ scope: "smd:read", aud: undefined }), vars: noAud })).status).toBe(
      401,
    );
  });

  it("an unusable inline key set gives 503, not open", async () => {
    const bad = { ...vars, OCHAMI_AUTH_EXTERNAL_JWKS: '{"keys":"nope"}' };
    const r = await call("GET", PROTECTED_READ, { token: await external({ scope: "smd:read" }), vars: bad });
    expect(r.status).toBe(503);
  });
});

describe("configuration errors are loud", () => {
  it("an external key set without an issuer closes protected routes with the reason (503), not silently ignored", async () => {
    const vars = { OCHAMI_AUTH_EXTERNAL_JWKS: '{"keys":[]}' };
    const r = await call("GET", PROTECTED_READ, { vars });
    expect(r.status).toBe(503);
    expect(r.body.detail).toContain("OCHAMI_AUTH_EXTERNAL_ISSUER");
    expect((await call("GET", "/hsm/v2/State/Components", { vars })).status).toBe(200);
  });

  it("a bad token lifetime is reported by name, on protected routes and at the token endpoint", async () => {
    const vars = { OCHAMI_AUTH_TOKEN_LIFETIME: "forever" };
    const r = await call("GET", PROTECTED_READ, { vars });
    expect(r.status).toBe(503);
    expect(r.body.detail).toMatch(/^invalid worker configuration: OCHAMI_AUTH_TOKEN_LIFETIME: a number of seconds/);
    const t = await tokenFor(ADMIN_ID, ADMIN_SECRET, undefined, vars);
    expect([t.status, t.body.error]).toEqual([503, "server_error"]);
    expect(t.body.error_description).toContain("OCHAMI_AUTH_TOKEN_LIFETIME");
    expect((await call("GET", "/.well-known/jwks.json", { vars })).status).toBe(503);
  });
});
