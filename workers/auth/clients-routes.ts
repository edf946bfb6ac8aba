import type { Context, Hono } from "hono";
import { generateSecret, hashSecret } from "../../shared/auth/secret-hash";
import { HttpProblem } from "../../shared/problem";
import { database } from "../db";
import type { AppEnv } from "../env";
import { readJson } from "../http/body";
import { isPlainObject } from "../http/json-keys";
import { param, resource } from "../http/routes";
import { forgetClient } from "./client-status";
import { type ClientRow, findClient, insertClient, listClients, revokeClient } from "./clients-store";
import { ALL_SCOPES, canonicalScope, isScope, scopeList } from "./scopes";

/**
 * Client management (admin scope, see policy.ts): create a client with chosen scopes (its secret
 * is shown once, stored only hashed), list, show, revoke. Field names follow RFC 7591 (dynamic
 * client registration) where one exists.
 */
export function registerClientRoutes(app: Hono<AppEnv>) {
  resource(app, "/auth/clients", { GET: list, POST: create });
  resource(app, "/auth/clients/:id", { GET: show, DELETE: revoke });
}

const CLIENT_ID = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$/;

function view(row: ClientRow) {
  return {
    client_id: row.clientId,
    client_name: row.name,
    scope: row.scope,
    origin: row.origin,
    created_by: row.createdBy,
    created_at: row.createdAt,
    revoked_at: row.revokedAt,
    active: row.revokedAt === null,
  };
}

async function list(c: Context<AppEnv>) {
  const rows = await listClients(database(c.env.DB));
  return c.json({ clients: rows.map(view) });
}

async function show(c: Context<AppEnv>) {
  const row = await findClient(database(c.env.DB), param(c, "id"));
  if (!row) throw new HttpProblem(404, `no client '${param(c, "id")}'`);
  return c.json(view(row));
}

async function create(c: Context<AppEnv>) {
  const body = await readJson(c.req.raw);
  if (!isPlainObject(body))
    throw new HttpProblem(400, 'the body must be a JSON object like {"client_name":"ci","scope":"smd:read smd:write"}');
  const clientId = body.client_id === undefined ? crypto.randomUUID() : body.client_id;
  if (typeof clientId !== "string" || !CLIENT_ID.test(clientId)) {
    throw new HttpProblem(400, "client_id must be 1-64 characters of letters, digits and . _ ~ -, starting with a letter or digit");
  }
  const name = body.client_name ?? body.name ?? "";
  if (typeof name !== "string" || name.length > 200) throw new HttpProblem(400, "client_name must be a string of at most 200 characters");
  const rawScopes = body.scope ?? body.scopes;
  if (!(typeof rawScopes === "string" || Array.isArray(rawScopes))) {
    throw new HttpProblem(400, `scope is required: a space-separated string or an array of: ${ALL_SCOPES.join(" ")}`);
  }
  const names: unknown[] = Array.isArray(rawScopes) ? rawScopes : rawScopes.split(" ");
  const unknown = names.find((s) => typeof s !== "string" || (s.trim() !== "" && !isScope(canonicalScope(s.trim()))));
  if (unknown !== undefined) throw new HttpProblem(400, `unknown scope ${JSON.stringify(unknown)}; known: ${ALL_SCOPES.join(" ")}`);
  const scopes = scopeList(rawScopes);
  if (scopes.length === 0) throw new HttpProblem(400, `scope is empty; known: ${ALL_SCOPES.join(" ")}`);

  const secret = generateSecret();
  const row = {
    clientId,
    name,
    scope: scopes.join(" "),
    secretHash: await hashSecret(secret),
    origin: "api",
    createdBy: c.get("principal")?.clientId ?? "",
    createdAt: new Date().toISOString(),
  };
  if (!(await insertClient(database(c.env.DB), row)))
    throw new HttpProblem(409, `client '${clientId}' already exists (ids of revoked clients are not reused)`);
  forgetClient(clientId);
  const location = `/auth/clients/${encodeURIComponent(clientId)}`;
  return new Response(
    JSON.stringify({ ...view({ ...row, revokedAt: null }), client_secret: secret, grant_types: ["client_credentials"] }),
    {
      status: 201,
      headers: { "content-type": "application/json", location, "cache-control": "no-store", pragma: "no-cache" },
    },
  );
}

/** Revocation is permanent and immediate for the token endpoint; see client-status.ts for issued tokens. */
async function revoke(c: Context<AppEnv>) {
  const id = param(c, "id");
  const row = await revokeClient(database(c.env.DB), id, new Date().toISOString());
  if (!row) throw new HttpProblem(404, `no client '${id}'`);
  forgetClient(id);
  return c.json(view(row));
}
