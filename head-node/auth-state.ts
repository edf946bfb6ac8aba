import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { JWK } from "jose";
import { generateSigningKey, publicJwk } from "../shared/auth/keys";
import { generateSecret, hashSecret } from "../shared/auth/secret-hash";
import { type AdminCredential, adminCredentialFile, authDirOf } from "../shared/head-node-state";

/**
 * The issuer's key material and first admin client on the head node, in `<state>/auth`
 * (directory 0700, files 0600 — they are the keys to the cluster):
 *   signing-key.jwk      private JWK the worker signs with (OCHAMI_AUTH_SIGNING_KEY)
 *   previous-keys.json   public JWKs of rotated-out keys, still accepted (OCHAMI_AUTH_PREVIOUS_KEYS)
 *   admin-client.json    the bootstrap admin client: id, secret (the CLI's credential on this machine), secret hash
 *   proxy-secret.json    what the agent's node proxy sends the API to have its X-Forwarded-For
 *                        believed (OCHAMI_PROXY_SECRET); a local user connecting from 127.0.0.1 lacks it
 * `npm start` creates what is missing and passes the worker its part as secret bindings.
 */
export interface RetiredKey {
  jwk: JWK;
  retired_at: string;
}

export interface AuthState {
  dir: string;
  signingKey: JWK;
  previousKeys: RetiredKey[];
  admin: AdminCredential;
  /** The node proxy's secret towards the API (OCHAMI_PROXY_SECRET when `npm start` runs the proxy). */
  proxySecret: string;
  /** What this call created (empty on later starts). */
  created: ("signing key" | "admin client")[];
}

const files = (stateDir: string) => ({
  signingKey: path.join(authDirOf(stateDir), "signing-key.jwk"),
  previousKeys: path.join(authDirOf(stateDir), "previous-keys.json"),
  admin: adminCredentialFile(stateDir),
  proxySecret: path.join(authDirOf(stateDir), "proxy-secret.json"),
});

/** Writes a secret file atomically, owner-only from the first byte. */
export function writeSecret(file: string, value: unknown) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600); // mode above is masked by the umask; never wider than 0600 either way
  renameSync(tmp, file);
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

function ensureDir(stateDir: string) {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  mkdirSync(authDirOf(stateDir), { recursive: true, mode: 0o700 });
  chmodSync(authDirOf(stateDir), 0o700);
}

/** Reads the auth state, creating the signing key and admin client when missing (first start). */
export async function ensureAuthState(stateDir: string): Promise<AuthState> {
  ensureDir(stateDir);
  const f = files(stateDir);
  const created: AuthState["created"] = [];

  if (!existsSync(f.signingKey)) {
    writeSecret(f.signingKey, await generateSigningKey());
    created.push("signing key");
  }
  if (!existsSync(f.admin)) {
    const secret = generateSecret();
    const admin: AdminCredential = {
      // A fresh id per credential: deleting this file and restarting yields a new admin client,
      // the way back in if the old one was revoked.
      client_id: `admin-${crypto.randomUUID().slice(0, 8)}`,
      client_secret: secret,
      secret_hash: await hashSecret(secret),
      scope: "admin",
      created_at: new Date().toISOString(),
    };
    writeSecret(f.admin, admin);
    created.push("admin client");
  }
  if (!existsSync(f.proxySecret)) writeSecret(f.proxySecret, { secret: generateSecret(), created_at: new Date().toISOString() });
  for (const file of Object.values(f)) if (existsSync(file)) chmodSync(file, 0o600);

  return {
    dir: authDirOf(stateDir),
    signingKey: readJson<JWK>(f.signingKey),
    previousKeys: existsSync(f.previousKeys) ? readJson<{ keys: RetiredKey[] }>(f.previousKeys).keys : [],
    admin: readJson<AdminCredential>(f.admin),
    proxySecret: readJson<{ secret: string }>(f.proxySecret).secret,
    created,
  };
}

/** The worker's auth bindings for this state: the private key, previous public keys, the bootstrap client's hash. */
export function authVars(state: AuthState): Record<string, string> {
  const vars: Record<string, string> = {
    OCHAMI_AUTH_SIGNING_KEY: JSON.stringify(state.signingKey),
    OCHAMI_AUTH_BOOTSTRAP_CLIENT: JSON.stringify({
      client_id: state.admin.client_id,
      secret_hash: state.admin.secret_hash,
      scope: state.admin.scope,
    }),
  };
  if (state.previousKeys.length) vars.OCHAMI_AUTH_PREVIOUS_KEYS = JSON.stringify({ keys: state.previousKeys.map((k) => publicJwk(k.jwk)) });
  return vars;
}

/** Makes a new signing key; the old one's public half stays accepted until pruned. */
export async function rotateSigningKey(stateDir: string): Promise<{ retired: string; current: string }> {
  const state = await ensureAuthState(stateDir);
  const next = await generateSigningKey();
  const previous = [{ jwk: publicJwk(state.signingKey), retired_at: new Date().toISOString() }, ...state.previousKeys];
  const f = files(stateDir);
  writeSecret(f.previousKeys, { keys: previous });
  writeSecret(f.signingKey, next);
  return { retired: state.signingKey.kid!, current: next.kid! };
}

/**
 * Drops previous keys retired more than `olderThanSeconds` ago (every token they signed has
 * expired by then if that is the token lifetime), or all of them.
 */
export async function prunePreviousKeys(
  stateDir: string,
  olderThanSeconds: number | "all",
): Promise<{ dropped: string[]; kept: string[] }> {
  const state = await ensureAuthState(stateDir);
  const cutoff = olderThanSeconds === "all" ? Infinity : Date.now() - olderThanSeconds * 1000;
  const dropped = state.previousKeys.filter((k) => Date.parse(k.retired_at) <= cutoff);
  const kept = state.previousKeys.filter((k) => !dropped.includes(k));
  writeSecret(files(stateDir).previousKeys, { keys: kept });
  return { dropped: dropped.map((k) => k.jwk.kid!), kept: kept.map((k) => k.jwk.kid!) };
}
