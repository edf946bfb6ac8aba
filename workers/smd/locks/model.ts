import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { parseXname } from "../../../shared/xname";
import { goObject, opt } from "../../http/wire";
import { type ComponentFilter, componentFilter, componentFilterFields } from "../components/filter";

/**
 * SMD's component locks and reservations (upstream's CompLockV2): wire forms, upstream's
 * messages, and the rules every operation shares. A component is *locked* (no new service
 * reservation, no power action by convention), *reserved* (one holder, by key), or has
 * reservations *disabled* (neither lock nor reservation).
 */

// ----------------------------------------------------------------------------- messages

/** Upstream's errors, answered 400 with exactly this detail. */
export const ERR = {
  processingModel: "Invalid Processing Model",
  duration: "Invalid Reservation Duration",
  locked: "Component is Locked",
  unlocked: "Component is Unlocked",
  disabled: "Component reservations are disabled",
  reserved: "Component is Reserved",
  notFound: "Component not found",
  reservationKey: "Reservation Key required for operation",
  deputyKey: "Deputy Key required for operation",
  /** A key's ID that is no xname (upstream's generic invalid-type error). */
  badKeyId: "got HMSTypeInvalid instead of valid type",
  durationPositive: "ReservationDuration must be greater than 0",
} as const;

/** Per-component failure reasons (`Failure[].Reason`). */
export type Reason = "NotFound" | "Locked" | "Unlocked" | "Disabled" | "Reserved" | "ServerError";

export const fail = (detail: string) => new HttpProblem(400, detail);

export type ProcessingModel = "rigid" | "flexible";

/** `rigid` (default: all or nothing) or `flexible` (best effort), any case. */
export function processingModel(raw: string | null | undefined): ProcessingModel {
  const pm = (raw ?? "").toLowerCase() || "rigid";
  if (pm !== "rigid" && pm !== "flexible") throw fail(ERR.processingModel);
  return pm;
}

/** Minutes, at most 15 (upstream's cap); zero or less is checked by the operations that need it. */
function duration(raw: number | null | undefined): number {
  const d = raw ?? 0;
  if (d > 15) throw fail(ERR.duration);
  return d;
}

// ----------------------------------------------------------------------------- request bodies

const Minutes = opt(z.int({ error: "expected an integer" })).meta({ description: "minutes, 1 to 15", example: 1 });
const Model = opt(z.string()).meta({ description: "`rigid` (default): all or nothing; `flexible`: what can be done" });

/** A filter key's values as upstream names it in bodies, and its key in the component filter grammar. */
const FILTER_KEYS = {
  ComponentIDs: "id",
  NID: "nid",
  Type: "type",
  State: "state",
  Flag: "flag",
  Enabled: "enabled",
  SoftwareStatus: "softwarestatus",
  Role: "role",
  Subrole: "subrole",
  Subtype: "subtype",
  Arch: "arch",
  Class: "class",
  Group: "group",
  Partition: "partition",
  Locked: "locked",
  ReservationDisabled: "reservation_disabled",
} as const;

type FilterKey = keyof typeof FILTER_KEYS;

const filterFields = Object.fromEntries(
  Object.entries(FILTER_KEYS).map(([wire, key]) => [wire, componentFilterFields[key as keyof typeof componentFilterFields]]),
) as Record<FilterKey, (typeof componentFilterFields)["id"]>;

/** Which components (every filter key of GET /State/Components, upstream's names), how, and for how long. */
export const LockFilterBody = goObject(
  {
    ...filterFields,
    Reserved: componentFilterFields.id.meta({ description: "status only: true or false" }),
    ProcessingModel: Model,
    ReservationDuration: Minutes,
  },
  { id: "CompLockFilter", description: "components by the filter keys of GET /State/Components (all components when none is given)" },
  { notObject: "error decoding JSON: body: expected a JSON object" },
);

export type LockFilterWire = z.output<typeof LockFilterBody>;

/** The filter a body names, with upstream's wording (`Argument was not a valid xname ID`). */
export function lockFilter(b: Partial<Record<FilterKey, string[] | undefined>>): ComponentFilter {
  const values: Record<string, string[]> = {};
  for (const [wire, key] of Object.entries(FILTER_KEYS)) {
    const v = b[wire as FilterKey];
    if (v) values[key] = v;
  }
  try {
    return componentFilter(values);
  } catch (err) {
    // The component filter words query parameters; upstream's lock routes report the bare reason.
    if (err instanceof HttpProblem) throw fail((err.detail ?? "").replace(/^bad query param: /, ""));
    throw err;
  }
}

/** A lock operation's request: its model, duration and components. */
export interface LockRequest {
  model: ProcessingModel;
  duration: number;
  filter: ComponentFilter;
}

/** Upstream's order of checks: processing model, duration, then the filter's values. */
export function lockRequest(b: LockFilterWire): LockRequest {
  const model = processingModel(b.ProcessingModel);
  const d = duration(b.ReservationDuration);
  return { model, duration: d, filter: lockFilter(b) };
}

const Key = goObject({
  ID: opt(z.string()).meta({ example: "x1000c0s0b0n0" }),
  Key: opt(z.string()).meta({ example: "x1000c0s0b0n0:rk:6b4d2d8c-6a0b-4f55-9c3c-3b6f7a4e1b2a" }),
});

export interface KeyPair {
  id: string;
  key: string;
}

/** Keys as upstream normalises them: the ID an xname (else upstream's invalid-type error), the key lower-case. */
function keyPairs(keys: Array<z.output<typeof Key>> | null | undefined): KeyPair[] {
  return (keys ?? []).map((k) => {
    const x = parseXname(k.ID ?? "");
    if (!x) throw fail(ERR.badKeyId);
    return { id: x.id, key: (k.Key ?? "").toLowerCase() };
  });
}

export const ReservationKeysBody = goObject(
  {
    ReservationKeys: opt(z.array(Key)).meta({ description: "each reservation's component and reservation key" }),
    ProcessingModel: Model,
    ReservationDuration: Minutes,
  },
  { id: "CompLockReservationFilter" },
  { notObject: "error decoding JSON: body: expected a JSON object" },
);

export interface KeysRequest {
  model: ProcessingModel;
  duration: number;
  keys: KeyPair[];
}

export function keysRequest(b: z.output<typeof ReservationKeysBody>): KeysRequest {
  const model = processingModel(b.ProcessingModel);
  const d = duration(b.ReservationDuration);
  return { model, duration: d, keys: keyPairs(b.ReservationKeys) };
}

export const DeputyKeysBody = goObject(
  { DeputyKeys: opt(z.array(Key)).meta({ description: "each reservation's component and deputy key" }) },
  { id: "CompLockDeputyKeys" },
  { notObject: "error decoding JSON: body: expected a JSON object" },
);

export const deputyKeys = (b: z.output<typeof DeputyKeysBody>) => keyPairs(b.DeputyKeys);

// ----------------------------------------------------------------------------- answers

const Failure = z.object({ ID: z.string(), Reason: z.string().meta({ example: "Reserved" }) });

export const UpdateResult = z
  .object({
    Counts: z.object({ Total: z.int(), Success: z.int(), Failure: z.int() }),
    Success: z.object({ ComponentIDs: z.array(z.string()) }),
    Failure: z.array(Failure),
  })
  .meta({ id: "CompLockUpdateResult" });

export const ReservationResult = z
  .object({
    Success: z.array(
      z.object({
        ID: z.string(),
        DeputyKey: z.string(),
        ReservationKey: z.string().optional(),
        CreationTime: z.string().optional(),
        ExpirationTime: z.string().optional(),
      }),
    ),
    Failure: z.array(Failure),
  })
  .meta({ id: "CompLockReservationResult" });

export const LockStatus = z
  .object({
    Components: z.array(
      z.object({
        ID: z.string(),
        Locked: z.boolean(),
        Reserved: z.boolean(),
        CreationTime: z.string().optional(),
        ExpirationTime: z.string().optional(),
        ReservationDisabled: z.boolean(),
      }),
    ),
    NotFound: z.array(z.string()).optional(),
  })
  .meta({ id: "CompLockStatus" });

export interface Failed {
  ID: string;
  Reason: Reason;
}

/** Upstream's update answer: the successes, the failures and their counts. */
export function updateResult(success: string[], failure: Failed[]) {
  return {
    Counts: { Total: success.length + failure.length, Success: success.length, Failure: failure.length },
    Success: { ComponentIDs: success },
    Failure: failure,
  };
}

/** RFC 3339 to the second, as upstream formats reservation times. */
export const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.[0-9]{3}Z$/, "Z");
