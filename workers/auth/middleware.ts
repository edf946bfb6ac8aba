import type { MiddlewareHandler } from "hono";
import { HttpProblem, problemResponse } from "../../shared/problem";
import { type AuthConfig, ConfigError } from "../config";
import type { AppEnv, RequestVariables } from "../env";
import { bootstrapClientOf } from "./bootstrap";
import { clientIsActive } from "./client-status";
import { decide } from "./policy";
import { grants } from "./scopes";
import { TokenRejected, tokenFrom, VerifierUnavailable, verifierProblem, verifyToken } from "./verify";

export const REALM = "ochami";

/**
 * The auth configuration, or a 503 naming the bad variable: misconfigured auth closes what needs
 * auth (protected routes, the token endpoint, key sets) while the boot path stays up.
 */
export function authConfigOf(v: Pick<RequestVariables, "authConfig">): AuthConfig {
  if (v.authConfig instanceof ConfigError) {
    console.error(`auth: ${v.authConfig.message}`);
    throw new HttpProblem(503, v.authConfig.message);
  }
  return v.authConfig;
}

/**
 * The one authentication and authorization gate, in front of every service. Public routes pass
 * after one policy lookup (the boot path pays no JWT work). Protected routes need a valid token
 * (RFC 6750 401) carrying the rule's scope (403), and for our own tokens an active client.
 */
export function authGate(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const { access } = decide(c.req.method, c.req.path);
    if (access === "public") return next();
    let config: AuthConfig;
    try {
      config = authConfigOf(c.var);
    } catch (err) {
      if (err instanceof HttpProblem) return err.toResponse();
      throw err;
    }
    if (!config.enabled) return next();
    const problem = await verifierProblem(config);
    if (problem) return problemResponse(503, problem); // never open, never a 401 that hides the cause

    const token = tokenFrom(c.req.raw);
    // RFC 6750 §3.1: a request without credentials gets the challenge without an error code.
    if (!token)
      return unauthorized(
        `this route needs a bearer token with scope '${access}' (Authorization: Bearer <token>, or a jwt cookie); get one from POST /token`,
        access,
      );
    try {
      const principal = await verifyToken(token, config);
      if (principal.own && !(await clientIsActive(c.var.db, principal.clientId!, bootstrapClientOf(config)?.clientId))) {
        return unauthorized(`the token's client '${principal.clientId}' has been revoked or does not exist`, access, "invalid_token");
      }
      if (!grants(principal.scopes, access)) {
        const held = principal.scopes.size ? [...principal.scopes].join(" ") : "none";
        return forbidden(`this route needs scope '${access}'; the token grants: ${held}`, access);
      }
      c.set("principal", principal);
    } catch (err) {
      if (err instanceof TokenRejected) return unauthorized(err.description, access, "invalid_token");
      if (err instanceof VerifierUnavailable) return problemResponse(503, err.detail);
      throw err;
    }
    return next();
  };
}

/** A quoted-string safe for a WWW-Authenticate parameter (RFC 6750 §3: no `"` or `\`). */
function quoted(s: string): string {
  return `"${s.replace(/[^\x20-\x7e]|["\\]/g, "'")}"`;
}

function challenge(scope: string, error?: string, description?: string): string {
  const parts = [`Bearer realm=${quoted(REALM)}`];
  if (error) parts.push(`error=${quoted(error)}`);
  if (description) parts.push(`error_description=${quoted(description)}`);
  parts.push(`scope=${quoted(scope)}`);
  return parts.join(", ");
}

function unauthorized(detail: string, scope: string, error?: "invalid_token"): Response {
  return problemResponse(401, detail, { headers: { "www-authenticate": challenge(scope, error, error ? detail : undefined) } });
}

function forbidden(detail: string, scope: string): Response {
  return problemResponse(403, detail, { headers: { "www-authenticate": challenge(scope, "insufficient_scope", detail) } });
}
