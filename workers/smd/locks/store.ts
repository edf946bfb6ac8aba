import { and, asc, eq, isNotNull, lte, type SQL, sql } from "drizzle-orm";
import { HttpProblem } from "../../../shared/problem";
import { type Db, inList, jsonRowsInsert, runBatch, type Statement } from "../../db";
import { errorSays } from "../../db/errors";
import { components, lockVersion, reservations } from "../../db/schema";
import type { ComponentFilter } from "../components/filter";
import { filterWhere } from "../components/store";

/**
 * Lock state in D1. Every write of the lock API is planned from one consistent read (a batch is
 * one transaction) and committed with a check that no other lock write committed since: the
 * version row is bumped only if it still holds the version read, and a failed bump aborts the
 * batch. A request that loses the race plans again from a fresh read, so rigid operations stay all
 * or nothing and no component is locked and reserved at once however requests interleave.
 */

export type Reservation = typeof reservations.$inferSelect;

export interface LockTarget {
  id: string;
  locked: boolean;
  reservationDisabled: boolean;
}

export interface LockState {
  version: number;
  /** The filter's components, by ID. */
  components: LockTarget[];
  /** Their live reservations, by component ID. */
  reservations: Map<string, Reservation>;
}

const purgeLapsed = (db: Db, now: number) =>
  db.delete(reservations).where(and(isNotNull(reservations.expiresMs), lte(reservations.expiresMs, now)));

const versionQuery = (db: Db) => db.select({ version: lockVersion.version }).from(lockVersion).where(eq(lockVersion.id, 1));

function rowsOf<T>(result: D1Result): T[] {
  return result.results as T[];
}

/** The components a filter selects, and their reservations, after dropping lapsed ones. */
export async function readFiltered(db: Db, filter: ComponentFilter, now: number): Promise<LockState> {
  const selected = db
    .select({ id: components.id, locked: components.locked, reservationDisabled: components.reservationDisabled })
    .from(components)
    .where(filterWhere(filter))
    .orderBy(asc(components.id));
  const [, version, comps, held] = await runBatch(db, [
    purgeLapsed(db, now),
    versionQuery(db),
    selected,
    sql`SELECT * FROM ${reservations} WHERE ${reservations.componentId} IN (SELECT id FROM (${selected.getSQL()}))`,
  ]);
  return {
    version: rowsOf<{ version: number }>(version)[0]?.version ?? 0,
    components: rowsOf<{ id: string; locked: number; reservation_disabled: number }>(comps).map((c) => ({
      id: c.id,
      locked: Boolean(c.locked),
      reservationDisabled: Boolean(c.reservation_disabled),
    })),
    reservations: new Map(rowsOf<RawReservation>(held).map((r) => [r.component_id, reservationOf(r)])),
  };
}

interface RawReservation {
  component_id: string;
  created_ms: number;
  expires_ms: number | null;
  deputy_key: string;
  reservation_key: string;
}

const reservationOf = (r: RawReservation): Reservation => ({
  componentId: r.component_id,
  createdMs: r.created_ms,
  expiresMs: r.expires_ms,
  deputyKey: r.deputy_key,
  reservationKey: r.reservation_key,
});

/** Live reservations holding one of `keys` (deputy or reservation keys), after dropping lapsed ones. */
export async function readByKeys(
  db: Db,
  kind: "deputy" | "reservation",
  keys: string[],
  now: number,
): Promise<{ version: number; reservations: Reservation[] }> {
  const column = kind === "deputy" ? reservations.deputyKey : reservations.reservationKey;
  const [, version, held] = await runBatch(db, [
    purgeLapsed(db, now),
    versionQuery(db),
    db.select().from(reservations).where(inList(column, keys)),
  ]);
  return {
    version: rowsOf<{ version: number }>(version)[0]?.version ?? 0,
    reservations: rowsOf<RawReservation>(held).map(reservationOf),
  };
}

// ----------------------------------------------------------------------------- writes

export const setLocked = (db: Db, ids: string[], locked: boolean) =>
  db.update(components).set({ locked }).where(inList(components.id, ids));

export const setReservationDisabled = (db: Db, ids: string[], disabled: boolean) =>
  db.update(components).set({ reservationDisabled: disabled }).where(inList(components.id, ids));

export const deleteReservations = (db: Db, componentIds: string[]) =>
  db.delete(reservations).where(inList(reservations.componentId, componentIds));

export const renewReservations = (db: Db, componentIds: string[], expiresMs: number) =>
  db.update(reservations).set({ expiresMs }).where(inList(reservations.componentId, componentIds));

const insertRows = jsonRowsInsert(reservations, ["componentId", "createdMs", "expiresMs", "deputyKey", "reservationKey"]);
export const insertReservations = (rows: Reservation[]): SQL[] => insertRows(rows);

/**
 * Commits `writes` if no lock write committed since `version` was read; false when one did (plan
 * again). The bump and a check of its row count lead the batch: json() of a non-JSON text raises
 * an error, which aborts the batch and rolls it back.
 */
export async function commit(db: Db, version: number, writes: Statement[]): Promise<boolean> {
  try {
    await runBatch(db, [
      db
        .update(lockVersion)
        .set({ version: sql`${lockVersion.version} + 1` })
        .where(and(eq(lockVersion.id, 1), eq(lockVersion.version, version))),
      sql`SELECT json(CASE WHEN changes() = 1 THEN '0' ELSE 'lock state changed' END)`,
      ...writes,
    ]);
    return true;
  } catch (err) {
    if (errorSays(err, /malformed JSON/i)) return false;
    throw err;
  }
}

const ATTEMPTS = 8;

/**
 * Runs `plan` (read, decide, return the writes and the answer) until its writes commit against
 * the state it read. Lock requests racing each other retry; persistent contention is a 503.
 */
export async function planAndCommit<T>(db: Db, plan: () => Promise<{ version: number; writes: Statement[]; answer: T }>): Promise<T> {
  for (let i = 0; i < ATTEMPTS; i++) {
    const p = await plan();
    if (p.writes.length === 0 || (await commit(db, p.version, p.writes))) return p.answer;
  }
  throw new HttpProblem(503, "lock state kept changing under concurrent lock requests; try again");
}
