import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, unlinkSync } from "node:fs";
import path from "node:path";
import { ApiError } from "../../shared/api-client/errors";
import { requestClientToken } from "../../shared/api-client/grant";
import type { TlsOptions } from "../../shared/api-client/http";
import type { Bearer, TokenSource } from "../../shared/api-client/tokens";
import { writeAtomic } from "../config/files";
import { AuthError } from "../errors";
import { isObject } from "../io/json";
import { log } from "../log";
import { nowSeconds, readClaims, refreshMargin } from "./jwt";

/**
 * A stored client credential: tokens are obtained from it, cached and refreshed automatically.
 * The secret lives in a 0600 file (what `ochami auth login` writes), or inline in the cluster's
 * configuration (`client-secret`, for configuration management that templates the file) or, on
 * the local head node, in the admin client file `npm start` wrote.
 */
export interface Credential {
  clientId: string;
  secretFile?: string;
  secret?: string;
  tokenUrl: string;
  scope?: string;
  /**
   * Cached tokens issued before this time (epoch seconds) are not used: the local head node's last
   * start, which applies signing keys rotated or pruned since.
   */
  issuedSince?: number;
  /** Said instead of the token endpoint's refusal (401): why, and what to do (the local head node's state). */
  refusalHint?: string;
}

export function credentialSecret(cred: Credential): string {
  if (cred.secret) return cred.secret;
  if (cred.secretFile) return readSecret(cred.secretFile);
  throw new AuthError(`client ${cred.clientId} has neither client-secret-file nor client-secret`);
}

/** Changes when the secret does, so tokens cached for an old secret are not used. */
function secretVersion(cred: Credential): string | number | undefined {
  if (cred.secret) return createHash("sha256").update(cred.secret).digest("hex").slice(0, 16);
  try {
    return cred.secretFile ? statSync(cred.secretFile).mtimeMs : undefined;
  } catch {
    return undefined;
  }
}

export interface TokenSettings {
  /** Where the token came from, for messages: `--token`, `DEMO_ACCESS_TOKEN`, `client demo-cli`. */
  envName: string;
  flagToken?: string;
  credential?: Credential;
  cacheDir: string;
  tls: TlsOptions;
  timeoutMs: number;
  env: NodeJS.ProcessEnv;
  /**
   * What to do when the token from `origin` (--token, the variable) has expired and no credential
   * is stored: a command that works here (the context knows which).
   */
  renewal: (origin: string) => string;
  /** --show-token: debug logs show the whole token, not its first characters. */
  showToken?: boolean;
}

export interface CurrentToken extends Bearer {
  source: "flag" | "env" | "credential";
}

/**
 * The bearer token for a cluster. Order: `--token`, then `<CLUSTER>_ACCESS_TOKEN`, then the stored
 * client credential. Given tokens are checked like upstream does (a JWT whose exp/nbf hold now);
 * an expired given token falls back to the credential when there is one. Tokens obtained from
 * the credential are cached per user (0600) and refreshed before they expire; a 401 on a
 * credential token gets one fresh token and one retry (see ApiClient).
 */
export class TokenProvider implements TokenSource {
  private current?: CurrentToken;
  private picking?: Promise<CurrentToken>;

  constructor(private readonly s: TokenSettings) {}

  async get(): Promise<CurrentToken> {
    if (this.current && this.usable(this.current.token)) return this.current;
    // Requests started together (a command's first reads go in parallel) share one pick: one
    // token request, one warning.
    this.picking ??= this.pick().finally(() => {
      this.picking = undefined;
    });
    this.current = await this.picking;
    const t = this.current.token;
    log.debug(`token from ${this.current.origin}: ${this.s.showToken ? t : `${t.slice(0, 12)}… (--show-token shows it whole)`}`);
    return this.current;
  }

  /** After a 401: a fresh token when it comes from the credential, else undefined (nothing better to try). */
  async renewAfterRejection(): Promise<CurrentToken | undefined> {
    if (!this.s.credential || this.current?.source !== "credential") return undefined;
    this.forgetCached();
    this.current = { token: await this.obtain(this.s.credential), source: "credential", origin: `client ${this.s.credential.clientId}` };
    return this.current;
  }

  private async pick(): Promise<CurrentToken> {
    const given: Array<[string | undefined, CurrentToken["source"], string]> = [
      [this.s.flagToken, "flag", "--token"],
      [this.s.env[this.s.envName], "env", this.s.envName],
    ];
    for (const [token, source, origin] of given) {
      // `export DEMO_ACCESS_TOKEN=$(…)` whose command failed leaves the variable set and empty.
      if (source === "env" && token !== undefined && token.trim() === "")
        log.warn(`${origin} is set but empty (did the command that set it fail?); ignoring it`);
      if (!token?.trim()) continue;
      const problem = this.problemWith(token.trim());
      if (!problem) return { token: token.trim(), source, origin };
      if (this.s.credential) {
        log.warn(`the token in ${origin} ${problem}; using the stored client credential (${this.s.credential.clientId}) instead`);
        break;
      }
      throw new AuthError(`the token in ${origin} ${problem}; ${this.s.renewal(origin)}`);
    }
    const cred = this.s.credential;
    if (!cred)
      throw new AuthError(
        `no token: pass --token, set ${this.s.envName}, or store a client credential with \`ochami auth login\` ` +
          "(--no-token, or enable-auth: false, if the API runs without auth)",
      );
    const cached = this.readCached(cred);
    if (cached) return { token: cached, source: "credential", origin: `client ${cred.clientId}` };
    return { token: await this.obtain(cred), source: "credential", origin: `client ${cred.clientId}` };
  }

  private problemWith(token: string): string | undefined {
    const claims = readClaims(token);
    if (!claims) return undefined;
    const now = nowSeconds();
    if (claims.exp !== undefined && claims.exp <= now) return `expired at ${new Date(claims.exp * 1000).toISOString()}`;
    if (claims.nbf !== undefined && claims.nbf > now + 30) return `is not valid before ${new Date(claims.nbf * 1000).toISOString()}`;
    if (claims.exp !== undefined && claims.exp - now < refreshMargin(claims))
      log.info(`the token expires in ${Math.round(claims.exp - now)} s`);
    return undefined;
  }

  private usable(token: string): boolean {
    const claims = readClaims(token);
    return !claims?.exp || claims.exp - nowSeconds() > refreshMargin(claims);
  }

  // ------------------------------------------------------------------ obtaining and caching

  /** A fresh token from the credential (cached for the next commands). */
  async obtain(cred: Credential): Promise<string> {
    let token: string;
    try {
      ({ access_token: token } = await requestClientToken(
        { tokenUrl: cred.tokenUrl, clientId: cred.clientId, secret: credentialSecret(cred), scope: cred.scope },
        { tls: this.s.tls, timeoutMs: this.s.timeoutMs },
      ));
    } catch (err) {
      if (cred.refusalHint && err instanceof ApiError && err.tokenRefused && err.status === 401)
        throw new AuthError(`${cred.refusalHint} (the token endpoint answered ${err.status} ${err.statusText})`);
      throw err;
    }
    // Never hand on an empty token: `export X=$(ochami auth token)` would look like it worked.
    if (!token.trim() || /\s/.test(token)) throw new AuthError(`the token endpoint ${cred.tokenUrl} answered an empty or malformed token`);
    this.writeCached(cred, token);
    const claims = readClaims(token);
    log.info(
      `obtained a token for client ${cred.clientId}${claims?.exp ? `, valid until ${new Date(claims.exp * 1000).toISOString()}` : ""}`,
    );
    return token;
  }

  /** Stores a token just obtained elsewhere (`ochami auth login`) as the credential's cached token. */
  remember(token: string) {
    if (this.s.credential) this.writeCached(this.s.credential, token);
  }

  private cacheFile(cred: Credential): string {
    const key = createHash("sha256")
      .update(JSON.stringify([cred.tokenUrl, cred.clientId, cred.scope ?? ""]))
      .digest("hex")
      .slice(0, 24);
    return path.join(this.s.cacheDir, "tokens", `${key}.json`);
  }

  private readCached(cred: Credential): string | undefined {
    const file = this.cacheFile(cred);
    try {
      const entry: unknown = JSON.parse(readFileSync(file, "utf8"));
      if (!isObject(entry)) return undefined;
      if (
        entry.client_id !== cred.clientId ||
        entry.token_url !== cred.tokenUrl ||
        typeof entry.access_token !== "string" ||
        !entry.access_token.trim()
      )
        return undefined;
      // A secret changed since (ochami auth login again) makes cached tokens of the old one suspect.
      if (entry.secret_version !== secretVersion(cred)) return undefined;
      if (cred.issuedSince !== undefined && (readClaims(entry.access_token)?.iat ?? 0) < cred.issuedSince) return undefined;
      if (!this.usable(entry.access_token)) {
        log.debug("cached token is expired or about to expire; getting a new one");
        return undefined;
      }
      log.debug(`using the cached token of client ${cred.clientId} (${file})`);
      return entry.access_token;
    } catch {
      return undefined;
    }
  }

  private writeCached(cred: Credential, token: string) {
    const file = this.cacheFile(cred);
    try {
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      writeAtomic(
        file,
        JSON.stringify({ token_url: cred.tokenUrl, client_id: cred.clientId, secret_version: secretVersion(cred), access_token: token }) +
          "\n",
        0o600,
      );
    } catch (err) {
      log.debug(`cannot cache the token in ${file}: ${(err as Error).message}`);
    }
  }

  forgetCached() {
    if (!this.s.credential) return;
    const file = this.cacheFile(this.s.credential);
    if (existsSync(file)) unlinkSync(file);
  }
}

export function readSecret(file: string): string {
  let text: string;
  try {
    const st = statSync(file);
    if (st.mode & 0o077) log.warn(`${file} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new AuthError(`cannot read the client secret file ${file}: ${(err as Error).message}`);
  }
  const secret = text.split("\n")[0].trim();
  if (!secret) throw new AuthError(`the client secret file ${file} is empty`);
  return secret;
}
