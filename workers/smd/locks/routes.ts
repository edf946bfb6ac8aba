import { z } from "zod";
import type { Db, Statement } from "../../db";
import { op, type Router, resource } from "../../http/route";
import { json, jsonBody, problems } from "../../http/wire";
import type { ComponentFilter } from "../components/filter";
import {
  DeputyKeysBody,
  deputyKeys,
  ERR,
  type Failed,
  fail,
  type KeyPair,
  type KeysRequest,
  keysRequest,
  LockFilterBody,
  type LockRequest,
  LockStatus,
  lockFilter,
  lockRequest,
  ReservationKeysBody,
  ReservationResult,
  rfc3339,
  UpdateResult,
  updateResult,
} from "./model";
import * as store from "./store";

/**
 * /locks: component locks and reservations, as upstream SMD serves them to power control
 * services. Each operation plans from one read of the lock state and commits only if that state
 * still holds (store.planAndCommit), so rigid requests are all or nothing and concurrent requests
 * cannot both take a component.
 */

const tags = ["SMD locks"];
const bad = problems(400, 503);

type Plan<T> = { version: number; writes: Statement[]; answer: T };

// ----------------------------------------------------------------------------- lock, unlock, disable, repair

type LockAction = "lock" | "unlock" | "disable" | "repair";

async function planLockAction(db: Db, r: LockRequest, action: LockAction, now: number): Promise<Plan<ReturnType<typeof updateResult>>> {
  const state = await store.readFiltered(db, r.filter, now);
  if (state.components.length === 0) throw fail(ERR.notFound);
  const ids = state.components.map((c) => c.id);
  if (action === "disable" || action === "repair") {
    // Disabling releases the components' reservations; both set the flag on every component.
    const writes: Statement[] = [store.setReservationDisabled(db, ids, action === "disable")];
    if (action === "disable") writes.unshift(store.deleteReservations(db, ids));
    return { version: state.version, writes, answer: updateResult(ids, []) };
  }
  const locking = action === "lock";
  const failure: Failed[] = [];
  const candidates: string[] = [];
  for (const c of state.components) {
    // Upstream checks both, the second reason winning.
    let reason: Failed["Reason"] | undefined;
    let detail = "";
    if (c.reservationDisabled) [reason, detail] = ["Disabled", ERR.disabled];
    if (c.locked === locking) [reason, detail] = locking ? ["Locked", ERR.locked] : ["Unlocked", ERR.unlocked];
    if (reason) {
      if (r.model === "rigid") throw fail(detail);
      failure.push({ ID: c.id, Reason: reason });
    } else candidates.push(c.id);
  }
  // A reserved component can be neither locked nor unlocked.
  const reserved = candidates.filter((id) => state.reservations.has(id));
  if (reserved.length && r.model === "rigid") throw fail(ERR.reserved);
  for (const id of reserved) failure.push({ ID: id, Reason: "Reserved" });
  const changing = candidates.filter((id) => !state.reservations.has(id));
  // Upstream's answer when nothing is left to change, whatever the reasons.
  if (changing.length === 0) throw fail(ERR.reserved);
  return { version: state.version, writes: [store.setLocked(db, changing, locking)], answer: updateResult(changing, failure) };
}

// ----------------------------------------------------------------------------- reservations

const newKey = (id: string, kind: "dk" | "rk") => `${id}:${kind}:${crypto.randomUUID()}`;

interface Created {
  ID: string;
  DeputyKey: string;
  ReservationKey?: string;
  CreationTime?: string;
  ExpirationTime?: string;
}

/**
 * New reservations on the filter's components. Without a duration (an admin's) the component must
 * be locked; with one (a service's, for `duration` minutes) it must not be.
 */
async function planReserve(db: Db, r: LockRequest, now: number): Promise<Plan<{ Success: Created[]; Failure: Failed[] }>> {
  const state = await store.readFiltered(db, r.filter, now);
  if (state.components.length === 0) throw fail(ERR.notFound);
  const failure: Failed[] = [];
  const candidates: string[] = [];
  for (const c of state.components) {
    let reason: Failed["Reason"] | undefined;
    let detail = "";
    if (c.reservationDisabled) [reason, detail] = ["Disabled", ERR.disabled];
    else if (r.duration === 0 && !c.locked) [reason, detail] = ["Unlocked", ERR.unlocked];
    else if (r.duration !== 0 && c.locked) [reason, detail] = ["Locked", ERR.locked];
    if (reason) {
      if (r.model === "rigid") throw fail(detail);
      failure.push({ ID: c.id, Reason: reason });
    } else candidates.push(c.id);
  }
  if (candidates.length === 0) return { version: state.version, writes: [], answer: { Success: [], Failure: failure } };
  const taken = candidates.filter((id) => state.reservations.has(id));
  if (taken.length && r.model === "rigid") throw fail(ERR.reserved);
  const free = candidates.filter((id) => !state.reservations.has(id));
  for (const id of taken) failure.push({ ID: id, Reason: "Reserved" });
  const expiresMs = r.duration > 0 ? now + r.duration * 60_000 : null;
  const rows = free.map((id) => ({
    componentId: id,
    createdMs: now,
    expiresMs,
    deputyKey: newKey(id, "dk"),
    reservationKey: newKey(id, "rk"),
  }));
  const success = rows.map((row) => {
    const out: Created = { ID: row.componentId, DeputyKey: row.deputyKey, ReservationKey: row.reservationKey };
    if (expiresMs !== null) out.ExpirationTime = rfc3339(expiresMs);
    return out;
  });
  return {
    version: state.version,
    writes: store.insertReservations(rows),
    answer: { Success: success, Failure: failure },
  };
}

/** Every matched component's reservation, whoever holds it (an admin's override). */
async function planRemove(db: Db, r: LockRequest, now: number): Promise<Plan<ReturnType<typeof updateResult>>> {
  const state = await store.readFiltered(db, r.filter, now);
  if (state.components.length === 0) throw fail(ERR.notFound);
  const held = state.components.filter((c) => state.reservations.has(c.id)).map((c) => c.id);
  if (held.length !== state.components.length && r.model === "rigid") throw fail(ERR.notFound);
  const failure: Failed[] = state.components.filter((c) => !state.reservations.has(c.id)).map((c) => ({ ID: c.id, Reason: "NotFound" }));
  return { version: state.version, writes: held.length ? [store.deleteReservations(db, held)] : [], answer: updateResult(held, failure) };
}

/**
 * The reservations whose reservation keys are given, and how each key fares. A missing key is
 * upstream's error (a release words it as the deputy key's); flexible requests report it per key.
 */
async function planByReservationKeys(
  db: Db,
  r: KeysRequest,
  now: number,
  opts: { renewable: boolean; missingKey: string },
): Promise<{ version: number; found: string[]; failure: Failed[] } | { failure: Failed[] }> {
  if (r.keys.length === 0 || r.keys.some((k) => k.key === "")) {
    const detail = r.keys.length === 0 ? ERR.reservationKey : opts.missingKey;
    if (r.model === "rigid") throw fail(detail);
    return { failure: r.keys.map((k) => ({ ID: k.id, Reason: "ServerError" })) };
  }
  const { version, reservations } = await store.readByKeys(
    db,
    "reservation",
    r.keys.map((k) => k.key),
    now,
  );
  // Only reservations with a lapse time can be renewed.
  const matched = new Set(reservations.filter((x) => !opts.renewable || x.expiresMs !== null).map((x) => x.componentId));
  if (matched.size !== r.keys.length && r.model === "rigid") throw fail(ERR.notFound);
  const found = r.keys.filter((k) => matched.has(k.id)).map((k) => k.id);
  const failure: Failed[] = r.keys.filter((k) => !matched.has(k.id)).map((k) => ({ ID: k.id, Reason: "NotFound" }));
  return { version, found, failure };
}

async function planRelease(db: Db, r: KeysRequest, now: number): Promise<Plan<ReturnType<typeof updateResult>>> {
  const p = await planByReservationKeys(db, r, now, { renewable: false, missingKey: ERR.deputyKey });
  if (!("found" in p)) return { version: 0, writes: [], answer: updateResult([], p.failure) };
  return {
    version: p.version,
    writes: p.found.length ? [store.deleteReservations(db, p.found)] : [],
    answer: updateResult(p.found, p.failure),
  };
}

async function planRenew(db: Db, r: KeysRequest, now: number): Promise<Plan<ReturnType<typeof updateResult>>> {
  const p = await planByReservationKeys(db, r, now, { renewable: true, missingKey: ERR.reservationKey });
  if (!("found" in p)) return { version: 0, writes: [], answer: updateResult([], p.failure) };
  const expiresMs = now + r.duration * 60_000;
  return {
    version: p.version,
    writes: p.found.length ? [store.renewReservations(db, p.found, expiresMs)] : [],
    answer: updateResult(p.found, p.failure),
  };
}

/** Who holds what, by deputy key: anyone may check, only the holder can renew or release. */
async function check(db: Db, keys: KeyPair[], now: number) {
  if (keys.length === 0 || keys.some((k) => k.key === "")) throw fail(ERR.deputyKey);
  const { reservations } = await store.readByKeys(
    db,
    "deputy",
    keys.map((k) => k.key),
    now,
  );
  const success: Created[] = reservations.map((x) => {
    const out: Created = { ID: x.componentId, DeputyKey: x.deputyKey, CreationTime: rfc3339(x.createdMs) };
    if (x.expiresMs !== null) out.ExpirationTime = rfc3339(x.expiresMs);
    return out;
  });
  const seen = new Set(success.map((s) => s.ID));
  const failure: Failed[] = keys.filter((k) => !seen.has(k.id)).map((k) => ({ ID: k.id, Reason: "NotFound" }));
  return { Success: success, Failure: failure };
}

// ----------------------------------------------------------------------------- status

async function status(db: Db, filter: ComponentFilter, reserved: boolean | undefined, now: number) {
  const state = await store.readFiltered(db, filter, now);
  const rows = state.components
    .map((c) => {
      const res = state.reservations.get(c.id);
      // Upstream's field order: the times sit between Reserved and ReservationDisabled.
      const out: Record<string, unknown> = { ID: c.id, Locked: c.locked, Reserved: res !== undefined };
      if (res) out.CreationTime = rfc3339(res.createdMs);
      if (res?.expiresMs != null) out.ExpirationTime = rfc3339(res.expiresMs);
      out.ReservationDisabled = c.reservationDisabled;
      return out as z.output<typeof LockStatus>["Components"][number];
    })
    .filter((row) => reserved === undefined || row.Reserved === reserved);
  if (rows.length === 0) throw fail(ERR.notFound);
  return rows;
}

/** Go's strconv.ParseBool. */
const GO_BOOL: Record<string, boolean> = Object.fromEntries([
  ...["1", "t", "T", "TRUE", "true", "True"].map((v) => [v, true]),
  ...["0", "f", "F", "FALSE", "false", "False"].map((v) => [v, false]),
]);

/** The `Reserved` selector: its first value, as upstream reads it. */
function reservedOf(values: string[] | undefined): boolean | undefined {
  const raw = values?.[0];
  if (raw === undefined) return undefined;
  const v = GO_BOOL[raw];
  if (v === undefined) throw fail(`bad 'Reserved' query parameter: ${raw}`);
  return v;
}

const StatusQuery = z.object({
  type: z.array(z.string()).optional().meta({ description: "HMS types" }),
  state: z.array(z.string()).optional(),
  role: z.array(z.string()).optional(),
  subrole: z.array(z.string()).optional(),
  locked: z.array(z.string()).optional().meta({ description: "true or false" }),
  reserved: z.array(z.string()).optional().meta({ description: "true or false (the first value counts)" }),
  reservationdisabled: z.array(z.string()).optional().meta({ description: "true or false" }),
});

// ----------------------------------------------------------------------------- routes

const updated = { 200: json(UpdateResult, "what changed, and what did not and why"), ...bad };
const reservedAnswer = { 200: json(ReservationResult, "the reservations, and the components that could not be reserved"), ...bad };

export function registerLockRoutes(app: Router) {
  const actions: Array<[LockAction, string]> = [
    ["lock", "Lock components (no new reservations; by convention, no power action)"],
    ["unlock", "Unlock components"],
    ["disable", "Disable reservations on components (their reservations are released)"],
    ["repair", "Enable reservations on components again"],
  ];
  for (const [action, summary] of actions) {
    resource(app, `/locks/${action}`, {
      post: op({ summary, tags, request: { body: jsonBody(LockFilterBody) }, responses: updated }, async (c) => {
        const r = lockRequest(c.req.valid("json"));
        return c.json(await store.planAndCommit(c.var.db, () => planLockAction(c.var.db, r, action, Date.now())));
      }),
    });
  }

  resource(app, "/locks/reservations", {
    post: op(
      {
        summary: "Reserve locked components (an admin's reservation, without a lapse time)",
        tags,
        request: { body: jsonBody(LockFilterBody) },
        responses: reservedAnswer,
      },
      async (c) => {
        const r = { ...lockRequest(c.req.valid("json")), duration: 0 };
        return c.json(await store.planAndCommit(c.var.db, () => planReserve(c.var.db, r, Date.now())));
      },
    ),
  });
  resource(app, "/locks/reservations/remove", {
    post: op(
      {
        summary: "Remove the reservations of components, whoever holds them",
        tags,
        request: { body: jsonBody(LockFilterBody) },
        responses: updated,
      },
      async (c) => {
        const r = lockRequest(c.req.valid("json"));
        return c.json(await store.planAndCommit(c.var.db, () => planRemove(c.var.db, r, Date.now())));
      },
    ),
  });
  for (const prefix of ["/locks/reservations", "/locks/service/reservations"]) {
    resource(app, `${prefix}/release`, {
      post: op(
        {
          summary: "Release reservations by their reservation keys",
          tags,
          request: { body: jsonBody(ReservationKeysBody) },
          responses: updated,
        },
        async (c) => {
          const r = keysRequest(c.req.valid("json"));
          return c.json(await store.planAndCommit(c.var.db, () => planRelease(c.var.db, r, Date.now())));
        },
      ),
    });
  }
  resource(app, "/locks/service/reservations", {
    post: op(
      {
        summary: "Reserve unlocked components for ReservationDuration minutes (a service's reservation)",
        tags,
        request: { body: jsonBody(LockFilterBody) },
        responses: reservedAnswer,
      },
      async (c) => {
        const r = lockRequest(c.req.valid("json"));
        if (r.duration <= 0) throw fail(ERR.durationPositive);
        return c.json(await store.planAndCommit(c.var.db, () => planReserve(c.var.db, r, Date.now())));
      },
    ),
  });
  resource(app, "/locks/service/reservations/renew", {
    post: op(
      {
        summary: "Renew service reservations for ReservationDuration minutes from now",
        tags,
        request: { body: jsonBody(ReservationKeysBody) },
        responses: updated,
      },
      async (c) => {
        const r = keysRequest(c.req.valid("json"));
        if (r.duration <= 0) throw fail(ERR.durationPositive);
        return c.json(await store.planAndCommit(c.var.db, () => planRenew(c.var.db, r, Date.now())));
      },
    ),
  });
  resource(app, "/locks/service/reservations/check", {
    post: op(
      {
        summary: "Check reservations by their deputy keys",
        tags,
        request: { body: jsonBody(DeputyKeysBody) },
        responses: { 200: json(ReservationResult, "the reservations found (without their reservation keys)"), ...bad },
      },
      async (c) => c.json(await check(c.var.db, deputyKeys(c.req.valid("json")), Date.now())),
    ),
  });

  resource(app, "/locks/status", {
    get: op(
      {
        summary: "Lock and reservation status of the components matching the query",
        tags,
        request: { query: StatusQuery },
        responses: { 200: json(LockStatus, "each component's status"), ...problems(400) },
      },
      async (c) => {
        const q = c.req.valid("query");
        const filter = lockFilter({
          Type: q.type,
          State: q.state,
          Role: q.role,
          Subrole: q.subrole,
          Locked: q.locked,
          ReservationDisabled: q.reservationdisabled,
        });
        return c.json({ Components: await status(c.var.db, filter, reservedOf(q.reserved), Date.now()) });
      },
    ),
    post: op(
      {
        summary: "Lock and reservation status of the components a filter names",
        description: "`NotFound` lists the ComponentIDs that name no component.",
        tags,
        request: { body: jsonBody(LockFilterBody) },
        responses: { 200: json(LockStatus, "each component's status"), ...problems(400) },
      },
      async (c) => {
        const b = c.req.valid("json");
        const { filter } = lockRequest(b);
        const rows = await status(c.var.db, filter, reservedOf(b.Reserved), Date.now());
        const seen = new Set(rows.map((row) => row.ID));
        const notFound = filter.id.include.filter((id) => !seen.has(id));
        return c.json(notFound.length ? { Components: rows, NotFound: notFound } : { Components: rows });
      },
    ),
  });
}
