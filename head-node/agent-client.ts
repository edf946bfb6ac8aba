/**
 * The agent's own OAuth client under `npm start`: created on first start through the auth API (as
 * `npm run clients -- create` would) with only the scopes the agent uses, kept in
 * `<state>/auth/agent-client.json` (0600) and handed to the agent in its config. A stored client
 * that no longer works (revoked, or the database was reset) is replaced by a new one.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { ApiClient, ApiError, requestToken } from "../onprem-agent/api-client";
import { authDirOf, readAdminCredential } from "../shared/head-node-state";
import { writeSecret } from "./auth-state";

export const AGENT_SCOPE = "boot:report smd:read";

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
    await requestToken(`${apiUrl}/token`, stored.client_id, stored.client_secret, { scope: AGENT_SCOPE });
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
  const asAdmin = ApiClient.of({
    url: apiUrl,
    timeout: 15,
    auth: { clientId: admin.client_id, clientSecret: admin.client_secret, scope: "admin" },
  });
  const made = await asAdmin.json("POST", "/auth/clients", { client_name: "onprem-agent", scope: AGENT_SCOPE });
  const credential: AgentCredential = {
    client_id: made.client_id,
    client_secret: made.client_secret,
    scope: AGENT_SCOPE,
    created_at: new Date().toISOString(),
  };
  writeSecret(file, credential);
  return { credential, created: true };
}
