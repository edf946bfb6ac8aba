import { SignJWT } from "jose";
import type { AuthConfig } from "../config";
import type { Keyring } from "./keyring";

/**
 * Mints an access token for a client: Hydra's claim set (the one OpenCHAMI deployments issue), so
 * upstream tools that parse it keep working: iss, sub (= client_id), aud (array), iat, nbf, exp,
 * jti, client_id and the scopes as an array in `scp`.
 */
export async function mintAccessToken(
  signer: NonNullable<Keyring["signer"]>,
  config: AuthConfig,
  clientId: string,
  scopes: readonly string[],
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<{ token: string; expiresIn: number }> {
  const expiresIn = config.tokenLifetime;
  const token = await new SignJWT({ client_id: clientId, scp: [...scopes] })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: "JWT" })
    .setIssuer(config.issuer)
    .setSubject(clientId)
    .setAudience([config.audience])
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds)
    .setExpirationTime(nowSeconds + expiresIn)
    .setJti(crypto.randomUUID())
    .sign(signer.key);
  return { token, expiresIn };
}
