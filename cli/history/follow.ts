import { setTimeout as delay } from "node:timers/promises";
import type { ApiClient, Query } from "../../shared/api-client/client";
import type { RecordedBootEvent } from "../../shared/boot-events";

/**
 * Following the boot history's event log (`GET /boot/v1/endpoint-history?history=true`), polling
 * with `after_id` so each step is printed once, as it happens.
 */
export interface FollowOptions {
  api: ApiClient;
  /** The log's filters the API applies (`name`, `endpoint`, `limit`). */
  query: Query;
  /** Start after this event id. */
  afterId?: number;
  /** Start with events since this time (epoch ms). */
  sinceMs?: number;
  /** Only nodes these return (the members of SMD groups), asked again every MEMBERS_REFRESH_MS. */
  members?: () => Promise<Set<string>>;
  pollMs: number;
  /**
   * Events are held this long and printed in time order: the agent posts its steps in batches
   * (every 0.5 s), the API records its own at once, so arrival order is not boot order.
   */
  reorderMs: number;
  /** Print what there is and return (a failure then throws). */
  once: boolean;
  emit(e: RecordedBootEvent): void;
  /** A failed poll; the next one is tried after pollMs. Called once per run of failures. */
  onError(err: unknown): void;
  signal?: AbortSignal;
  clock?: Clock;
}

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

const realClock: Clock = {
  now: Date.now,
  sleep: (ms, signal) => delay(ms, undefined, { signal }).catch(() => {}),
};

/** Nodes added to a group later are followed too. */
export const MEMBERS_REFRESH_MS = 30_000;

/** Polls the log until `signal` aborts (or once); what is held is printed before it returns. */
export async function followHistory(o: FollowOptions): Promise<void> {
  const clock = o.clock ?? realClock;
  let members = await o.members?.();
  let membersAt = clock.now();
  let afterId = o.afterId;
  let failing = false;
  let held: RecordedBootEvent[] = [];
  const release = (upTo: number) => {
    const ready = held.filter((e) => e.epoch_ms <= upTo).sort((a, b) => a.epoch_ms - b.epoch_ms || a.id - b.id);
    held = held.filter((e) => e.epoch_ms > upTo);
    for (const e of ready) o.emit(e);
  };
  while (!o.signal?.aborted) {
    if (o.members && clock.now() - membersAt >= MEMBERS_REFRESH_MS) {
      membersAt = clock.now();
      members = await o.members().catch(() => members);
    }
    try {
      const events: RecordedBootEvent[] = await o.api.json("bss", "GET", "/endpoint-history", {
        auth: false,
        query: { ...o.query, history: "true", since_ms: o.sinceMs, after_id: afterId },
      });
      failing = false;
      for (const e of events) {
        afterId = Math.max(afterId ?? 0, e.id);
        if (!members || members.has(e.name)) held.push(e);
      }
    } catch (err) {
      if (o.once) throw err;
      if (!failing) o.onError(err);
      failing = true;
    }
    if (o.once) break;
    release(clock.now() - o.reorderMs);
    await clock.sleep(o.pollMs, o.signal);
  }
  release(Number.POSITIVE_INFINITY);
}
