import type { Context, Hono } from "hono";
import { HttpProblem } from "../../shared/problem";
import type { AppEnv } from "../env";
import { resource } from "../http/routes";
import { keyringOf } from "./keyring";
import { authConfig } from "./middleware";
import { ALL_SCOPES } from "./scopes";

/**
 * Our public keys and issuer metadata: /.well-known/jwks.json, /keys (opaal's path, which
 * upstream services were configured with as *_JWKS_URL), and the discovery documents.
 */
export function registerDiscoveryRoutes(app: Hono<AppEnv>) {
  resource(app, "/.well-known/jwks.json", { GET: jwks });
  resource(app, "/keys", { GET: jwks, POST: jwks });
  resource(app, "/.well-known/openid-configuration", { GET: metadata });
  resource(app, "/.well-known/oauth-authorization-server", { GET: metadata });
}

async function jwks(c: Context<AppEnv>): Promise<Response> {
  const result = await keyringOf(authConfig(c.env));
  if (!result) throw new HttpProblem(503, "the token issuer is not initialized: no signing key is configured (OCHAMI_AUTH_SIGNING_KEY)");
  if (!result.ok) throw new HttpProblem(503, "the token issuer is not initialized: its key material is unusable (see the server log)");
  // Short caching: verifiers pick up a rotated key within minutes, and our tokens name their kid.
  return new Response(JSON.stringify(result.keyring.jwks), {
    headers: { "content-type": "application/jwk-set+json", "cache-control": "public, max-age=300" },
  });
}

/**
 * RFC 8414 / OIDC discovery metadata. Endpoints are absolute URLs under the issuer when the
 * issuer is a URL (set OCHAMI_AUTH_ISSUER to the public URL), else under the request's origin.
 * We are an OAuth token issuer, not an OpenID provider (no login, no ID tokens); the OIDC members
 * are there because tools that only know OIDC discovery require them.
 */
async function metadata(c: Context<AppEnv>): Promise<Response> {
  const config = authConfig(c.env);
  const base = /^https?:\/\//i.test(config.issuer) ? config.issuer.replace(/\/+$/, "") : new URL(c.req.url).origin;
  const result = await keyringOf(config);
  const algs = result?.ok ? result.keyring.algorithms : [];
  return c.json({
    issuer: config.issuer,
    token_endpoint: `${base}/oauth2/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    grant_types_supported: ["client_credentials"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    scopes_supported: ALL_SCOPES,
    response_types_supported: ["token"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: algs,
  });
}
