import type { Db } from "../db";
import { findClient } from "./clients-store";

/**
 * Is the client a token was issued to still active? Checked on every protected request carrying
 * one of our tokens, so revocation also stops tokens already issued. Kept cheap with a per-isolate
 * cache: at most one D1 read per client per TTL. The revoke and create routes update the cache of
 * the isolate they run in at once; `npm start`'s other API processes drop their whole cache when
 * told of any write through another (forgetAllClients, boot/snapshot/peers.ts); other isolates
 * (on Cloudflare) see a revocation within CLIENT_STATUS_TTL_MS.
 */
export const CLIENT_STATUS_TTL_MS = 30_000;
const MAX_ENTRIES = 10_000;

const cache = new Map<string, { active: boolean; until: number }>();

/**
 * `bootstrapId`: the bootstrap admin client's id (its secret binding's). Without a row it is active:
 * its row is written when it first gets a token, and a full disk can delay that write
 * (token-routes.ts); once revoked its row stays, revoked, so revocation still holds.
 */
export async function clientIsActive(db: Db, clientId: string, bootstrapId?: string, now = Date.now()): Promise<boolean> {
  const hit = cache.get(clientId);
  if (hit && hit.until > now) return hit.active;
  const row = await findClient(db, clientId);
  const active = row === undefined ? clientId === bootstrapId : row.revokedAt === null;
  if (cache.size >= MAX_ENTRIES) cache.clear();
  cache.set(clientId, { active, until: now + CLIENT_STATUS_TTL_MS });
  return active;
}

/** Drops what this isolate remembers about a client (after it was created or revoked). */
export function forgetClient(clientId: string): void {
  cache.delete(clientId);
}

/** Drops everything this isolate remembers: another API process of this database has written (perhaps revoked a client). */
export function forgetAllClients(): void {
  cache.clear();
}
