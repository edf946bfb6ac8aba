import { beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../shared/auth/keys";
import { createApp } from "../../workers/app";
import { ALL_SCOPES, type Scope } from "../../workers/auth/scopes";
import { adminToken, call, createClient, hs256WithPublicKey, now, signingKey, signToken, unsignedToken } from "./auth-helpers";
import { policyCases, type RouteCase } from "./auth-routes";

/**
 * Every protected route of the policy table (and every route the app registers) against every
 * way a token can be wrong. The route list is derived from policy.ts and the app, so a rule or a
 * route added later is in this matrix without editing it.
 */
const cases = policyCases(createApp());
const protectedCases = cases.filter((c) => c.access !== "public");
const publicCases = cases.filter((c) => c.access === "public");

const label = (c: RouteCase) => `${c.method} ${c.path} (${c.pattern} → ${c.access})`;

let CLIENT: string;
let REVOKED: string;

beforeAll(async () => {
  CLIENT = (await createClient("smd:read", "matrix-client")).id;
  REVOKED = (await createClient("admin", "matrix-revoked")).id;
  const r = await call("DELETE", `/auth/clients/${REVOKED}`, { token: await adminToken() });
  expect(r.status).toBe(200);
});

/** A token for `scope` that is right in every other way. */
const good = (scope: string, extra: Record<string, unknown> = {}) => signToken({ sub: CLIENT, client_id: CLIENT, scp: [scope], ...extra });
/** Every scope except the one needed (and admin, which implies it). */
const allBut = (scope: Scope) => ALL_SCOPES.filter((s) => s !== scope && s !== "admin");

async function expectEach(
  list: RouteCase[],
  token: (c: RouteCase) => Promise<string | undefined> | string | undefined,
  check: (r: Awaited<ReturnType<typeof call>>, c: RouteCase) => void,
  headers: (t: string) => Record<string, string> = (t) => ({ authorization: `Bearer ${t}` }),
) {
  for (const c of list) {
    const t = await token(c);
    const r = await call(c.method, c.path, { headers: t === undefined ? {} : headers(t) });
    check(r, c);
  }
}

function expect401(r: Awaited<ReturnType<typeof call>>, c: RouteCase, withError = true) {
  expect(r.status, label(c)).toBe(401);
  expect(r.headers.get("content-type"), label(c)).toBe("application/problem+json");
  expect(r.body?.status, label(c)).toBe(401);
  expect(typeof r.body?.detail, label(c)).toBe("string");
  const challenge = r.headers.get("www-authenticate") ?? "";
  expect(challenge, label(c)).toMatch(/^Bearer realm="ochami"/);
  expect(challenge, label(c)).toContain(`scope="${c.access}"`);
  if (withError) expect(challenge, label(c)).toContain('error="invalid_token"');
  else expect(challenge, label(c)).not.toContain("error=");
}

describe("auth matrix over every protected route", () => {
  it("derives a sizeable route list from the policy table and the app", () => {
    expect(protectedCases.length).toBeGreaterThan(60);
    expect(publicCases.length).toBeGreaterThan(20);
    for (const s of ["smd:read", "smd:write", "bss:read", "bss:write", "cloud-init:read", "cloud-init:write", "admin"]) {
      expect(
        protectedCases.some((c) => c.access === s),
        s,
      ).toBe(true);
    }
  });

  it("no token → 401 with a bare Bearer challenge (RFC 6750 §3.1)", async () => {
    await expectEach(
      protectedCases,
      () => undefined,
      (r, c) => expect401(r, c, false),
    );
  });

  it("not a JWT → 401 invalid_token", async () => {
    await expectEach(
      protectedCases,
      () => "not-a-jwt",
      (r, c) => expect401(r, c),
    );
  });

  it("bad signature (another key under our kid) → 401", async () => {
    const other = { ...(await generateSigningKey("ES256")), kid: signingKey.kid };
    await expectEach(
      protectedCases,
      (c) => signToken({ sub: CLIENT, client_id: CLIENT, scp: [c.access] }, { key: other }),
      (r, c) => expect401(r, c),
    );
  });

  it("a valid token with its signature tampered → 401", async () => {
    await expectEach(
      protectedCases,
      async (c) => {
        const t = await good(c.access);
        const [h, p, s] = t.split(".");
        return `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === "AAAA" ? "BBBB" : "AAAA"}`;
      },
      (r, c) => expect401(r, c),
    );
  });

  it("alg: none → 401", async () => {
    await expectEach(
      protectedCases,
      (c) => unsignedToken({ sub: CLIENT, client_id: CLIENT, scp: [c.access] }),
      (r, c) => expect401(r, c),
    );
  });

  it("HS256 signed with our public key's bytes → 401", async () => {
    await expectEach(
      protectedCases,
      (c) => hs256WithPublicKey({ sub: CLIENT, client_id: CLIENT, scp: [c.access] }),
      (r, c) => expect401(r, c),
    );
  });

  it("expired beyond the clock skew → 401", async () => {
    const t = now();
    await expectEach(
      protectedCases,
      (c) => good(c.access, { iat: t - 3700, nbf: t - 3700, exp: t - 31 }),
      (r, c) => {
        expect401(r, c);
        expect(r.body.detail, label(c)).toBe("the token has expired");
      },
    );
  });

  it("not yet valid beyond the clock skew → 401", async () => {
    const t = now();
    await expectEach(
      protectedCases,
      (c) => good(c.access, { nbf: t + 120 }),
      (r, c) => expect401(r, c),
    );
  });

  it("issued in the future beyond the clock skew (iat) → 401", async () => {
    const t = now();
    await expectEach(
      protectedCases,
      (c) => good(c.access, { iat: t + 120, nbf: t - 10 }),
      (r, c) => {
        expect401(r, c);
        expect(r.body.detail, label(c)).toBe("the token was issued in the future (iat)");
      },
    );
  });

  it("scopes in `scp` as a string instead of Hydra's array → 401, never read as a list", async () => {
    await expectEach(
      protectedCases,
      (c) => signToken({ sub: CLIENT, client_id: CLIENT, scp: `openid ${c.access}` as unknown as string[] }),
      (r, c) => {
        expect401(r, c);
        expect(r.body.detail, label(c)).toBe(
          "the token's 'scp' claim must be an array of scope names (a space-separated string belongs in 'scope')",
        );
      },
    );
    const mixed = await signToken({ sub: CLIENT, client_id: CLIENT, scp: ["smd:read", 7] as unknown as string[] });
    expect((await call("GET", "/hsm/v2/groups", { token: mixed })).status).toBe(401);
  });

  it("wrong issuer → 401", async () => {
    await expectEach(
      protectedCases,
      (c) => good(c.access, { iss: "https://evil.example" }),
      (r, c) => expect401(r, c),
    );
  });

  it("wrong audience → 401", async () => {
    await expectEach(
      protectedCases,
      (c) => good(c.access, { aud: ["someone-else"] }),
      (r, c) => expect401(r, c),
    );
  });

  it("missing required claims (sub, client_id) → 401", async () => {
    await expectEach(
      protectedCases,
      (c) => good(c.access, { client_id: undefined }),
      (r, c) => expect401(r, c),
    );
    await expectEach(
      protectedCases.slice(0, 10),
      (c) => good(c.access, { sub: undefined }),
      (r, c) => expect401(r, c),
    );
  });

  it("revoked client → 401", async () => {
    await expectEach(
      protectedCases,
      (c) => signToken({ sub: REVOKED, client_id: REVOKED, scp: [c.access, "admin"] }),
      (r, c) => {
        expect401(r, c);
        expect(r.body.detail, label(c)).toContain("revoked");
      },
    );
  });

  it("every scope but the needed one → 403 insufficient_scope", async () => {
    await expectEach(
      protectedCases,
      (c) => signToken({ sub: CLIENT, client_id: CLIENT, scp: allBut(c.access as Scope) }),
      (r, c) => {
        expect(r.status, label(c)).toBe(403);
        expect(r.headers.get("content-type"), label(c)).toBe("application/problem+json");
        expect(r.headers.get("www-authenticate"), label(c)).toMatch(/^Bearer realm="ochami", error="insufficient_scope", .*scope="[^"]+"$/);
        expect(r.body.detail, label(c)).toContain(`'${c.access}'`);
      },
    );
  });

  it("the right scope passes the auth layer (neither 401, 403 nor 503)", async () => {
    await expectEach(
      protectedCases,
      (c) => good(c.access),
      (r, c) => expect([401, 403, 503], label(c)).not.toContain(r.status),
    );
  });

  it("admin implies every scope", async () => {
    await expectEach(
      protectedCases,
      () => good("admin"),
      (r, c) => expect([401, 403, 503], label(c)).not.toContain(r.status),
    );
  });

  it("the token also works from a jwt cookie and with any case of 'Bearer'", async () => {
    await expectEach(
      protectedCases,
      (c) => good(c.access),
      (r, c) => expect([401, 403], label(c)).not.toContain(r.status),
      (t) => ({ cookie: `lang=en; jwt=${t}` }),
    );
    await expectEach(
      protectedCases,
      (c) => good(c.access),
      (r, c) => expect([401, 403], label(c)).not.toContain(r.status),
      (t) => ({ authorization: `bEaReR ${t}` }),
    );
  });

  it("within the clock skew, a just-expired or almost-valid token still passes", async () => {
    const t = now();
    const sample = protectedCases.slice(0, 10);
    await expectEach(
      sample,
      (c) => good(c.access, { exp: t - 10 }),
      (r, c) => expect([401, 403], label(c)).not.toContain(r.status),
    );
    await expectEach(
      sample,
      (c) => good(c.access, { nbf: t + 10 }),
      (r, c) => expect([401, 403], label(c)).not.toContain(r.status),
    );
    await expectEach(
      sample,
      (c) => good(c.access, { iat: t + 10, nbf: t + 10 }),
      (r, c) => expect([401, 403], label(c)).not.toContain(r.status),
    );
  });
});

describe("public routes", () => {
  it("stay public with auth on: no token, or a garbage one, is never 401/403", async () => {
    await expectEach(
      publicCases,
      () => undefined,
      (r, c) => expect([401, 403, 503], label(c)).not.toContain(r.status),
    );
    await expectEach(
      publicCases,
      () => "garbage",
      (r, c) => expect([401, 403, 503], label(c)).not.toContain(r.status),
    );
  });

  it("stay public when auth is on but not initialized, while protected routes answer 503 (never open)", async () => {
    const vars = { OCHAMI_AUTH_SIGNING_KEY: undefined, OCHAMI_AUTH_BOOTSTRAP_CLIENT: undefined };
    for (const c of publicCases.filter((c) => !["/token", "/oauth2/token", "/keys", "/.well-known/jwks.json"].includes(c.path))) {
      const r = await call(c.method, c.path, { vars });
      expect([401, 403, 503], label(c)).not.toContain(r.status);
    }
    for (const c of protectedCases) {
      const r = await call(c.method, c.path, { vars, token: await good(c.access) });
      expect(r.status, label(c)).toBe(503);
      expect(r.body.detail, label(c)).toMatch(/^authentication is enabled but not initialized/);
    }
  });

  it("unusable key material also means 503 on protected routes, not open and not 500", async () => {
    const vars = { OCHAMI_AUTH_SIGNING_KEY: '{"kty":"EC","crv":"P-256","kid":"k1","x":"bad","y":"bad","d":"bad"}' };
    const r = await call("GET", "/hsm/v2/State/Components/x1000c0s0b0n0", { vars, token: await good("smd:read") });
    expect(r.status).toBe(503);
    expect(r.body.detail).toMatch(/^authentication is enabled but not initialized: the configured key material is unusable/);
    expect((await call("GET", "/auth/clients", { vars })).status, "without a token too").toBe(503);
    expect((await call("GET", "/hsm/v2/State/Components", { vars })).status).toBe(200);
  });
});

describe("OCHAMI_AUTH=off", () => {
  it("lets every protected route through without a token (local development only)", async () => {
    for (const c of protectedCases) {
      const r = await call(c.method, c.path, { vars: { OCHAMI_AUTH: "off" } });
      expect([401, 403, 503], label(c)).not.toContain(r.status);
    }
  });
});
