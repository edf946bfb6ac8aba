import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { changes, type Db } from "../db";
import { authClients } from "../db/schema";

/** auth_clients rows through drizzle: the one place that reads or writes OAuth clients. */
export type ClientRow = typeof authClients.$inferSelect;

export async function findClient(db: Db, clientId: string): Promise<ClientRow | undefined> {
  return db.select().from(authClients).where(eq(authClients.clientId, clientId)).get();
}

export async function listClients(db: Db): Promise<ClientRow[]> {
  return db.select().from(authClients).orderBy(asc(authClients.createdAt), asc(authClients.clientId)).all();
}

/** Inserts a client; false when the id is taken (active or revoked: ids are never reused). */
export async function insertClient(db: Db, row: typeof authClients.$inferInsert): Promise<boolean> {
  const result = await db.insert(authClients).values(row).onConflictDoNothing().run();
  return changes(result) === 1;
}

/** Marks a client revoked (idempotent). Returns the row as it is now, or undefined if unknown. */
export async function revokeClient(db: Db, clientId: string, at: string): Promise<ClientRow | undefined> {
  await db
    .update(authClients)
    .set({ revokedAt: at })
    .where(and(eq(authClients.clientId, clientId), isNull(authClients.revokedAt)))
    .run();
  return findClient(db, clientId);
}

/**
 * Seeds or refreshes the bootstrap admin client from its secret binding: inserted when absent;
 * its hash and scope follow the binding while it is an active bootstrap client (so a secret
 * rotated with `wrangler secret put` takes effect); a revoked row is never revived.
 */
export async function upsertBootstrapClient(db: Db, row: { clientId: string; secretHash: string; scope: string; createdAt: string }) {
  await db
    .insert(authClients)
    .values({ ...row, name: "bootstrap admin", origin: "bootstrap" })
    .onConflictDoUpdate({
      target: authClients.clientId,
      set: { secretHash: row.secretHash, scope: row.scope },
      setWhere: sql`${authClients.origin} = 'bootstrap' AND ${authClients.revokedAt} IS NULL`,
    })
    .run();
}
