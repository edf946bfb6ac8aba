import { z } from "zod";
import { HttpProblem } from "../../shared/problem";
import { op, type RequestScope, type Router, resource } from "../http/route";
import { problems } from "../http/wire";
import { keyringOf } from "./keyring";
import { authConfigOf } from "./middleware";
import { ALL_SCOPES } from "./scopes";

/**
 * Our public keys and issuer metadata: /.well-known/jwks.json, /keys (opaal's path, which
 * upstream services were configured with as *_JWKS_URL), and the discovery documents.
 */
export function registerDiscoveryRoutes(app: Router) {
  const tags = ["Auth"];
  const keySet = (summary: string) =>
    op(
      {
        summary,
        tags,
        responses: { 200: { description: "the key set", content: { "application/jwk-set+json": { schema: Jwks } } }, ...problems(503) },
      },
      jwks,
    );
  const discovery = (summary: string) =>
    op(
      {
        summary,
        tags,
        responses: { 200: { description: "the metadata", content: { "application/json": { schema: Metadata } } }, ...problems(503) },
      },
      metadata,
    );
  resource(app, "/.well-known/jwks.json", { get: keySet("The token issuer's public keys (JWK Set)") });
  resource(app, "/keys", {
    get: keySet("The issuer's public keys at opaal's path"),
    post: keySet("The issuer's public keys (opaal answers POST too)"),
  });
  resource(app, "/.well-known/openid-configuration", { get: discovery("OIDC discovery metadata") });
  resource(app, "/.well-known/oauth-authorization-server", { get: discovery("OAuth 2.0 authorization server metadata (RFC 8414)") });
}

const Jwks = z.object({ keys: z.array(z.looseObject({ kty: z.string(), kid: z.string() })) }).meta({ id: "JwkSet" });
const Metadata = z.looseObject({ issuer: z.string(), token_endpoint: z.string(), jwks_uri: z.string() }).meta({ id: "IssuerMetadata" });

async function jwks(c: RequestScope): Promise<Response> {
  const result = await keyringOf(authConfigOf(c.var));
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
async function metadata(c: RequestScope): Promise<Response> {
  const config = authConfigOf(c.var);
  const base = /^https?:\/\//i.test(config.issuer) ? config.issuer.replace(/\/+$/, "") : new URL(c.req.url).origin;
  const result = await keyringOf(config);
  const algs = result?.ok ? result.keyring.algorithms : [];
  return Response.json({
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
