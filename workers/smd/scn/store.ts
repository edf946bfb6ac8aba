import { asc, eq } from "drizzle-orm";
import { changes, countAndDelete, type Db, isUniqueViolation } from "../../db";
import { scnSubscriptions } from "../../db/schema";
import type { Subscription } from "./model";

export interface StoredSubscription {
  id: number;
  subscription: Subscription;
}

const subUrl = (s: Subscription) => s.Subscriber + s.Url;

export async function listSubscriptions(db: Db): Promise<StoredSubscription[]> {
  const rows = await db.select().from(scnSubscriptions).orderBy(asc(scnSubscriptions.id)).all();
  return rows.map((r) => ({ id: r.id, subscription: JSON.parse(r.subscription) }));
}

export async function getSubscription(db: Db, id: number): Promise<Subscription | undefined> {
  const row = await db.select().from(scnSubscriptions).where(eq(scnSubscriptions.id, id)).get();
  return row && JSON.parse(row.subscription);
}

/** The new subscription's ID, or undefined when its subscriber and URL already subscribe. */
export async function insertSubscription(db: Db, s: Subscription): Promise<number | undefined> {
  try {
    const row = await db
      .insert(scnSubscriptions)
      .values({ subUrl: subUrl(s), subscription: JSON.stringify(s) })
      .returning({ id: scnSubscriptions.id })
      .get();
    return row.id;
  } catch (err) {
    if (isUniqueViolation(err)) return undefined;
    throw err;
  }
}

/** "updated", "missing", or "conflict" (another subscription has this subscriber and URL). */
export async function replaceSubscription(db: Db, id: number, s: Subscription): Promise<"updated" | "missing" | "conflict"> {
  try {
    const n = changes(
      await db
        .update(scnSubscriptions)
        .set({ subUrl: subUrl(s), subscription: JSON.stringify(s) })
        .where(eq(scnSubscriptions.id, id))
        .run(),
    );
    return n ? "updated" : "missing";
  } catch (err) {
    if (isUniqueViolation(err)) return "conflict";
    throw err;
  }
}

export async function deleteSubscription(db: Db, id: number): Promise<boolean> {
  return changes(await db.delete(scnSubscriptions).where(eq(scnSubscriptions.id, id)).run()) > 0;
}

export const deleteAllSubscriptions = (db: Db) => countAndDelete(db, scnSubscriptions);
