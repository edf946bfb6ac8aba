import { z } from "zod";
import { HttpProblem } from "../../../shared/problem";
import { goObject, opt } from "../../http/wire";
import { canonicalValue } from "../hms-values";

/**
 * State change notification (SCN) subscriptions, as upstream SMD keeps them: a subscriber name, the
 * URL SMD POSTs notifications to, and its triggers (Enabled, Roles, SubRoles, SoftwareStatus,
 * States). Values are stored as the client wrote them and matched case-insensitively.
 */

/** A subscription as stored and answered (upstream's SCNPostSubscription, without the ID). */
export interface Subscription {
  Subscriber: string;
  Enabled?: boolean;
  Roles?: string[];
  SubRoles?: string[];
  SoftwareStatus?: string[];
  States?: string[];
  Url: string;
}

const list = (description: string, example: string[]) => opt(z.array(z.string())).meta({ description, example });

const TRIGGERS = {
  Enabled: opt(z.boolean()).meta({ description: "true: notify of Enabled changes" }),
  Roles: list("notify when a component takes one of these roles", ["Compute"]),
  SubRoles: list("… one of these subroles", ["Worker"]),
  SoftwareStatus: list("… one of these software statuses", ["AdminDown"]),
  States: list("… one of these states", ["Ready", "Off"]),
};

const NOT_OBJECT = { notObject: "error decoding JSON: body: expected a JSON object" };

export const SubscriptionBody = goObject(
  {
    Subscriber: opt(z.string()).meta({ description: "the subscriber's name", example: "hmnfd" }),
    ...TRIGGERS,
    Url: opt(z.string()).meta({ description: "where SMD POSTs notifications", example: "http://hmnfd.local/hmi/v1/scn" }),
  },
  { id: "SCNPostSubscription" },
  NOT_OBJECT,
);

export const PatchBody = goObject(
  { Op: opt(z.string()).meta({ description: "add, remove or replace (any case)", example: "add" }), ...TRIGGERS },
  { id: "SCNPatchSubscription" },
  NOT_OBJECT,
);

type Triggers = Pick<z.output<typeof SubscriptionBody>, keyof typeof TRIGGERS>;

/** Upstream's checks of a subscription's triggers; `missing` words the error for none at all. */
function checkTriggers(t: Triggers, missing: string): void {
  let found = t.Enabled === true;
  for (const r of t.Roles ?? []) if (!canonicalValue("Role", r)) throw new HttpProblem(400, `Invalid role '${r}'`);
  for (const r of t.SubRoles ?? []) if (!canonicalValue("SubRole", r)) throw new HttpProblem(400, `Invalid subRole '${r}'`);
  for (const s of t.SoftwareStatus ?? []) if (s === "") throw new HttpProblem(400, "SoftwareStatus can not be an empty string");
  for (const s of t.States ?? []) if (!canonicalValue("State", s)) throw new HttpProblem(400, `Invalid state '${s}'`);
  found ||= [t.Roles, t.SubRoles, t.SoftwareStatus, t.States].some((l) => (l?.length ?? 0) > 0);
  if (!found) throw new HttpProblem(400, missing);
}

/** A POST or PUT body as upstream checks it, in upstream's order. */
export function subscriptionOf(b: z.output<typeof SubscriptionBody>): Subscription {
  if (!b.Subscriber) throw new HttpProblem(400, "Missing name of subscriber");
  if (!b.Url) throw new HttpProblem(400, "Missing url");
  checkTriggers(b, "Missing trigger. Must subscribe to atleast one Enabled, Role, SubRole, SoftwareStatus, or State trigger.");
  return compact({ Subscriber: b.Subscriber, ...triggersOf(b), Url: b.Url });
}

export type PatchOp = "add" | "remove" | "replace";

export function patchOf(b: z.output<typeof PatchBody>): { op: PatchOp; triggers: Omit<Subscription, "Subscriber" | "Url"> } {
  if (!b.Op) throw new HttpProblem(400, "Missing Patch Op");
  const op = b.Op.toLowerCase();
  if (op !== "add" && op !== "remove" && op !== "replace") throw new HttpProblem(400, `Invalid Patch Op - ${b.Op}`);
  checkTriggers(b, "Missing trigger. Subscriptions must have atleast one Enabled, Role, SubRole, SoftwareStatus, or State trigger.");
  return { op, triggers: triggersOf(b) };
}

function triggersOf(t: Triggers) {
  return {
    Enabled: t.Enabled ?? undefined,
    Roles: t.Roles ?? undefined,
    SubRoles: t.SubRoles ?? undefined,
    SoftwareStatus: t.SoftwareStatus ?? undefined,
    States: t.States ?? undefined,
  };
}

/** Empty lists and an unset Enabled are left out, as upstream's omitempty fields. */
function compact(s: Subscription): Subscription {
  const out: Subscription = { Subscriber: s.Subscriber, Url: s.Url };
  if (s.Enabled !== undefined) out.Enabled = s.Enabled;
  for (const k of ["Roles", "SubRoles", "SoftwareStatus", "States"] as const) if (s[k]?.length) out[k] = s[k];
  // Upstream's field order.
  return {
    Subscriber: out.Subscriber,
    ...(out.Enabled !== undefined && { Enabled: out.Enabled }),
    ...(out.Roles && { Roles: out.Roles }),
    ...(out.SubRoles && { SubRoles: out.SubRoles }),
    ...(out.SoftwareStatus && { SoftwareStatus: out.SoftwareStatus }),
    ...(out.States && { States: out.States }),
    Url: out.Url,
  };
}

const LISTS = ["States", "Roles", "SubRoles", "SoftwareStatus"] as const;

/**
 * A PATCH applied as upstream applies it: `add` appends values not yet there and turns Enabled
 * on; `remove` drops the first equal value of each and turns Enabled off when the patch names it
 * true; `replace` sets the lists and Enabled the patch gives.
 */
export function patched(sub: Subscription, op: PatchOp, p: Omit<Subscription, "Subscriber" | "Url">): Subscription {
  const out: Subscription = { ...sub };
  for (const k of LISTS) {
    const have = [...(sub[k] ?? [])];
    const given = p[k] ?? [];
    if (op === "add") for (const v of given) if (!have.includes(v)) have.push(v);
    if (op === "remove")
      for (const v of given) {
        const i = have.indexOf(v);
        if (i >= 0) have.splice(i, 1);
      }
    out[k] = op === "replace" ? (given.length ? given : have) : have;
  }
  if (op === "add" && p.Enabled === true && sub.Enabled === false) out.Enabled = true;
  if (op === "remove" && p.Enabled === true && sub.Enabled === true) out.Enabled = false;
  if (op === "replace" && p.Enabled !== undefined) out.Enabled = p.Enabled;
  return compact(out);
}

export const SubscriptionWire = z
  .object({
    ID: z.int(),
    Subscriber: z.string(),
    Enabled: z.boolean().optional(),
    Roles: z.array(z.string()).optional(),
    SubRoles: z.array(z.string()).optional(),
    SoftwareStatus: z.array(z.string()).optional(),
    States: z.array(z.string()).optional(),
    Url: z.string(),
  })
  .meta({ id: "SCNSubscription" });

export const subscriptionJson = (id: number, s: Subscription) => ({ ID: id, ...s });

/** A subscription ID in a path: a positive integer, else upstream's 400. */
export const IdParam = z.object({
  id: z
    .string()
    .meta({ description: "the subscription's ID", example: "1" })
    .transform((raw, ctx) => {
      const n = /^[+-]?[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!Number.isSafeInteger(n) || n < 1) {
        ctx.addIssue({ code: "custom", message: `Invalid id - ${raw}`, input: raw });
        return z.NEVER;
      }
      return n;
    }),
});
