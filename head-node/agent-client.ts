/**
 * The agent's own OAuth client under `npm start`: created on first start through the auth API (as
 * `ochami auth client create` would) with only the scopes the agent uses, kept in
 * `<state>/auth/agent-client.json` (0600) and handed to the agent in its config. A stored client
 * that no longer works (revoked, or the database was reset) is replaced by a new one.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { apiClientOf } from "../onprem-agent/agent";
import { apiConfigSchema } from "../onprem-agent/config";
import { ApiError } from "../shared/api-client/errors";
import { requestClientToken } from "../shared/api-client/grant";
import { authDirOf, readAdminCredential } from "../shared/head-node-state";
import { writeSecret } from "./auth-state";

export const AGENT_SCOPE = "boot:report smd:read";

/** What POST /auth/clients answers that the agent keeps. */
const CreatedClient = z.object({ client_id: z.string().min(1), client_secret: z.string().min(1) });

export interface AgentCredential {
  client_id: string;
  client_secret: string;
  scope: string;
  created_at: string;
}

const fileOf = (stateDir: string) => path.join(authDirOf(stateDir), "agent-client.json");

/** The stored credential if the token endpoint still accepts it with the agent's scopes. */
async function stillValid(apiUrl: string, stored: AgentCredential): Promise<boolean> {
  try {
    await requestClientToken(
      { tokenUrl: `${apiUrl}/token`, clientId: stored.client_id, secret: stored.client_secret, scope: AGENT_SCOPE },
      { timeoutMs: 10_000 },
    );
    return true;
  } catch (err) {
    // 400 (scope no longer granted) and 401 (revoked, unknown): replace it. Anything else is a
    // problem a new client would not fix.
    if (err instanceof ApiError && (err.status === 400 || err.status === 401)) return false;
    throw err;
  }
}

export async function ensureAgentClient(stateDir: string, apiUrl: string): Promise<{ credential: AgentCredential; created: boolean }> {
  const file = fileOf(stateDir);
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, "utf8")) as AgentCredential;
    if (await stillValid(apiUrl, stored)) return { credential: stored, created: false };
  }
  const admin = readAdminCredential(stateDir);
  const asAdmin = apiClientOf(
    apiConfigSchema.parse({
      url: apiUrl,
      timeout: 15,
      auth: { clientId: admin.client_id, clientSecret: admin.client_secret, scope: "admin" },
    }),
  );
  const made = CreatedClient.parse(
    await asAdmin.json("root", "POST", "/auth/clients", { body: { client_name: "onprem-agent", scope: AGENT_SCOPE } }),
  );
  const credential: AgentCredential = {
    client_id: made.client_id,
    client_secret: made.client_secret,
    scope: AGENT_SCOPE,
    created_at: new Date().toISOString(),
  };
  writeSecret(file, credential);
  return { credential, created: true };
}
