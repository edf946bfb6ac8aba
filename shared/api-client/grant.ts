import { ApiError, errorDetail } from "./errors";
import { type HttpResponse, NetworkError, request, type TlsOptions } from "./http";

export interface ClientCredentials {
  tokenUrl: string;
  clientId: string;
  secret: string;
  /** Scopes to ask for; default: all the client has. */
  scope?: string;
}

export interface TokenResponse {
  access_token: string;
  expires_in?: number;
  scope?: string;
  token_type?: string;
}

/**
 * One OAuth2 client-credentials grant (RFC 6749 §4.4): `POST <tokenUrl>` with
 * `grant_type=client_credentials` (and `scope`), the client authenticated with HTTP Basic
 * (client_secret_basic), its id and secret form-urlencoded before the Basic encoding (§2.3.1).
 */
export async function requestClientToken(c: ClientCredentials, opts: { timeoutMs: number; tls?: TlsOptions }): Promise<TokenResponse> {
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  if (c.scope) form.set("scope", c.scope);
  const basic = Buffer.from(`${encodeURIComponent(c.clientId)}:${encodeURIComponent(c.secret)}`).toString("base64");
  let res: HttpResponse;
  try {
    res = await request(c.tokenUrl, {
      method: "POST",
      headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: form.toString(),
      timeoutMs: opts.timeoutMs,
      tls: opts.tls,
    });
  } catch (err) {
    if (err instanceof NetworkError)
      throw new ApiError(`cannot reach the token endpoint ${c.tokenUrl}: ${err.message}`, { url: c.tokenUrl });
    throw err;
  }
  let body: Record<string, unknown> = {};
  try {
    const parsed = JSON.parse(res.text());
    if (parsed && typeof parsed === "object") body = parsed;
  } catch {
    /* reported below */
  }
  if (res.status !== 200 || typeof body.access_token !== "string") {
    const why = [body.error, body.error_description].filter(Boolean).join(": ") || res.text().slice(0, 200);
    throw new ApiError(
      `the token endpoint ${c.tokenUrl} refused client ${c.clientId}: ${res.status} ${res.statusText}${why ? `: ${why}` : ""}`,
      {
        url: c.tokenUrl,
        status: res.status,
        statusText: res.statusText,
        detail: errorDetail(res),
        tokenRefused: true,
      },
    );
  }
  return body as unknown as TokenResponse;
}
