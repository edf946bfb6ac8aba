import type { RequestVariables } from "../../env";
import { fetchTransport, ScnDispatcher, type ScnPayload, subscribersOf } from "./dispatch";
import { listSubscriptions } from "./store";

/** The isolate's dispatcher (its outboxes are per isolate, as upstream's queue is per process). */
export const dispatcher = new ScnDispatcher(fetchTransport);

/** A change to announce: components and the values they took. */
export type ScnChange = ScnPayload;

/**
 * Announces component changes to the subscribers that asked for them, after the response: the
 * subscriptions are read and the notifications queued inside the request's `waitUntil`, so the
 * write that caused them waits for none of it. Changes with no components are skipped.
 */
export function notifyScn({ db, waiter }: Pick<RequestVariables, "db" | "waiter">, changes: ScnChange[]): void {
  const real = changes.filter((c) => c.Components.length > 0);
  if (real.length === 0) return;
  const work = (async () => {
    const subs = (await listSubscriptions(db)).map((s) => s.subscription);
    if (subs.length === 0) return;
    const senders: Array<Promise<void>> = [];
    for (const change of real) {
      const body = JSON.stringify(payloadJson(change));
      for (const url of subscribersOf(change, subs)) {
        const sender = dispatcher.enqueue(url, body);
        if (sender) senders.push(sender);
      }
    }
    await Promise.all(senders);
  })().catch((err) => console.error("SCN: could not queue notifications:", (err as Error).message));
  waiter?.waitUntil(work);
}

/** Upstream's field order; empty fields left out. */
function payloadJson(p: ScnPayload): ScnPayload {
  const out: ScnPayload = { Components: p.Components };
  if (p.Enabled !== undefined) out.Enabled = p.Enabled;
  if (p.Flag) out.Flag = p.Flag;
  if (p.Role) out.Role = p.Role;
  if (p.SubRole) out.SubRole = p.SubRole;
  if (p.SoftwareStatus) out.SoftwareStatus = p.SoftwareStatus;
  if (p.State) out.State = p.State;
  return out;
}

/**
 * The notifications a component POST or PUT makes, as upstream groups them: one per new State
 * value (new components, and existing ones a forced write moved to another state), and for new
 * components one per Enabled value, per non-empty SoftwareStatus and per Role/SubRole pair.
 * `before` holds the stored states of the components that existed; without `force` those were
 * left as they were.
 */
export function componentWriteChanges(
  rows: Array<{ id: string; state: string; enabled: boolean; softwareStatus: string; role: string; subRole: string }>,
  before: Map<string, { state: string }>,
  force: boolean,
): ScnChange[] {
  const groups = new Map<string, ScnChange>();
  const add = (key: string, id: string, make: () => Omit<ScnChange, "Components">) => {
    let g = groups.get(key);
    if (!g) {
      g = { Components: [], ...make() };
      groups.set(key, g);
    }
    g.Components.push(id);
  };
  for (const r of rows) {
    const old = before.get(r.id);
    if (old) {
      if (force && old.state !== r.state) add(`state:${r.state}`, r.id, () => ({ State: r.state }));
      continue;
    }
    add(`state:${r.state}`, r.id, () => ({ State: r.state }));
    add(`enabled:${r.enabled}`, r.id, () => ({ Enabled: r.enabled }));
    if (r.softwareStatus) add(`sw:${r.softwareStatus}`, r.id, () => ({ SoftwareStatus: r.softwareStatus }));
    add(`role:${r.role}.${r.subRole}`, r.id, () => ({ Role: r.role, SubRole: r.subRole }));
  }
  return [...groups.values()];
}
