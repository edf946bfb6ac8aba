import { z } from "zod";
import { generateSecret, hashSecret } from "../../shared/auth/secret-hash";
import { HttpProblem } from "../../shared/problem";
import { SMALL_BODY_BYTES } from "../http/body";
import { op, type RequestScope, type Router, resource } from "../http/route";
import { json, jsonBody, problems, refuse } from "../http/wire";
import { forgetClient } from "./client-status";
import { type ClientRow, findClient, insertClient, listClients, revokeClient } from "./clients-store";
import { ALL_SCOPES, canonicalScope, isScope, scopeList } from "./scopes";

/**
 * Client management (admin scope, see policy.ts): create a client with chosen scopes (its secret
 * is shown once, stored only hashed), list, show, revoke. Field names follow RFC 7591 (dynamic
 * client registration) where one exists.
 */
export function registerClientRoutes(app: Router) {
  const tags = ["Auth"];
  resource(app, "/auth/clients", {
    get: op(
      { summary: "Every API client", tags, responses: { 200: json(z.object({ clients: z.array(Client) }), "the clients") } },
      async (c) => c.json({ clients: (await listClients(c.var.db)).map(view) }),
    ),
    post: op(
      {
        summary: "Create an API client",
        description: "Its secret is in this answer only; it is stored hashed.",
        tags,
        maxBodyBytes: SMALL_BODY_BYTES, // an id and a few scopes
        request: { body: jsonBody(NewClient) },
        responses: { 201: json(CreatedClient, "created"), ...problems(400, 409) },
      },
      async (c) => create(c, c.req.valid("json")),
    ),
  });
  resource(app, "/auth/clients/{id}", {
    get: op(
      { summary: "An API client", tags, request: { params: ClientId }, responses: { 200: json(Client, "the client"), ...problems(404) } },
      async (c) => {
        const { id } = c.req.valid("param");
        const row = await findClient(c.var.db, id);
        if (!row) throw new HttpProblem(404, `no client '${id}'`);
        return c.json(view(row));
      },
    ),
    // Revocation is permanent and immediate for the token endpoint; see client-status.ts for issued tokens.
    delete: op(
      {
        summary: "Revoke an API client: its tokens stop working at once",
        tags,
        request: { params: ClientId },
        responses: { 200: json(Client, "the client, revoked"), ...problems(404) },
      },
      async (c) => {
        const { id } = c.req.valid("param");
        const row = await revokeClient(c.var.db, id, new Date().toISOString());
        if (!row) throw new HttpProblem(404, `no client '${id}'`);
        forgetClient(id);
        return c.json(view(row));
      },
    ),
  });
}

const ClientId = z.object({ id: z.string().meta({ description: "the client_id" }) });

const Client = z
  .object({
    client_id: z.string(),
    client_name: z.string(),
    scope: z.string(),
    origin: z.string().meta({ description: "bootstrap (the first admin client) or api" }),
    created_by: z.string(),
    created_at: z.string(),
    revoked_at: z.string().nullable(),
    active: z.boolean(),
  })
  .meta({ id: "Client" });

const CreatedClient = Client.extend({ client_secret: z.string(), grant_types: z.array(z.string()) }).meta({ id: "CreatedClient" });

const NEW_CLIENT_EXAMPLE = '{"client_name":"ci","scope":"smd:read smd:write"}';
const SCOPE_REQUIRED = `scope is required: a space-separated string or an array of: ${ALL_SCOPES.join(" ")}`;

/** A new client: a name and scopes, optionally its id; `name` and `scopes` are accepted for client_name and scope. */
const NewClient = z
  .record(z.string(), z.unknown(), { error: `the body must be a JSON object like ${NEW_CLIENT_EXAMPLE}` })
  .transform((body, ctx) => {
    const fail = (message: string) => refuse(ctx, message, body);
    const clientId = body.client_id === undefined ? crypto.randomUUID() : body.client_id;
    if (typeof clientId !== "string" || !CLIENT_ID.test(clientId))
      return fail("client_id must be 1-64 characters of letters, digits and . _ ~ -, starting with a letter or digit");
    const name = body.client_name ?? body.name ?? "";
    if (typeof name !== "string" || name.length > 200) return fail("client_name must be a string of at most 200 characters");
    const rawScopes = body.scope ?? body.scopes;
    if (!(typeof rawScopes === "string" || Array.isArray(rawScopes))) return fail(SCOPE_REQUIRED);
    const names: unknown[] = Array.isArray(rawScopes) ? rawScopes : rawScopes.split(" ");
    const unknown = names.find((s) => typeof s !== "string" || (s.trim() !== "" && !isScope(canonicalScope(s.trim()))));
    if (unknown !== undefined) return fail(`unknown scope ${JSON.stringify(unknown)}; known: ${ALL_SCOPES.join(" ")}`);
    const scopes = scopeList(rawScopes);
    if (scopes.length === 0) return fail(`scope is empty; known: ${ALL_SCOPES.join(" ")}`);
    return { clientId, name, scopes };
  })
  .meta({
    id: "NewClient",
    type: "object",
    properties: {
      client_name: { type: "string" },
      scope: { type: "string", description: `space-separated: ${ALL_SCOPES.join(" ")}` },
      client_id: { type: "string", description: "default: a new UUID" },
    },
    required: ["scope"],
  });

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

async function create(c: RequestScope, { clientId, name, scopes }: z.output<typeof NewClient>): Promise<Response> {
  const secret = generateSecret();
  const row = {
    clientId,
    name,
    scope: scopes.join(" "),
    secretHash: await hashSecret(secret),
    origin: "api",
    createdBy: c.var.principal?.clientId ?? "",
    createdAt: new Date().toISOString(),
  };
  if (!(await insertClient(c.var.db, row)))
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
