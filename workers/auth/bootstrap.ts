import { isSecretHash } from "../../shared/auth/secret-hash";
import type { AuthConfig } from "../config";
import { scopeList } from "./scopes";

/**
 * The first admin client, defined by the OCHAMI_AUTH_BOOTSTRAP_CLIENT secret binding:
 * `{"client_id":"…","secret_hash":"pbkdf2-sha256$…","scope":"admin"}` — a hash, never the secret.
 * `npm start` writes it from the state directory; `wrangler secret put` sets it on Cloudflare.
 * The token endpoint seeds it into D1 when that client id first asks for a token, so no HTTP
 * route can create a client without an admin token: the only way in is the deployer's secret.
 */
export interface BootstrapClient {
  clientId: string;
  secretHash: string;
  scope: string;
}

const parsed = new Map<string, BootstrapClient | null>();

export function bootstrapClientOf(config: AuthConfig): BootstrapClient | undefined {
  const text = config.bootstrapClient;
  if (!text) return undefined;
  let client = parsed.get(text);
  if (client === undefined) {
    client = parse(text);
    parsed.set(text, client);
  }
  return client ?? undefined;
}

function parse(text: string): BootstrapClient | null {
  try {
    const v = JSON.parse(text);
    const scope = scopeList(v?.scope ?? "admin").join(" ");
    if (typeof v?.client_id === "string" && v.client_id && typeof v.secret_hash === "string" && isSecretHash(v.secret_hash) && scope) {
      return { clientId: v.client_id, secretHash: v.secret_hash, scope };
    }
  } catch {
    /* reported below */
  }
  console.error('auth: OCHAMI_AUTH_BOOTSTRAP_CLIENT is not {"client_id","secret_hash":"pbkdf2-sha256$…","scope"}; ignoring it');
  return null;
}
