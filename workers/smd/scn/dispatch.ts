import type { Subscription } from "./model";

/**
 * Delivery of state change notifications, off the write that caused them and bounded whatever a
 * subscriber does.
 *
 * Each subscriber URL has an outbox in the isolate: notifications queue there (at most
 * QUEUE_LIMIT; beyond it the oldest is dropped) and one sender posts them in order, each up to
 * ATTEMPTS times, each attempt cut at ATTEMPT_TIMEOUT_MS. A notification that fails every attempt
 * is dropped; after SUSPEND_AFTER such failures in a row the subscriber is suspended for
 * SUSPEND_MS: its queue is emptied and new notifications for it are dropped (counted, logged once)
 * until a later one probes it again. So a dead subscriber costs at most a few requests a minute,
 * and its queue never grows past QUEUE_LIMIT.
 *
 * workerd ties a promise to the request that created it, so requests share only plain data here:
 * the request that finds no sender running starts one and keeps it alive with its own
 * `waitUntil`; later requests only add to the queue. A sender that made no progress for STUCK_MS
 * belonged to a request the runtime cancelled, and the next notification starts a new one.
 * Notifications still queued when the isolate ends are lost, as in upstream's in-memory queue.
 */

/** A notification: the components and what they changed to (upstream's SCNPayload). */
export interface ScnPayload {
  Components: string[];
  Enabled?: boolean;
  Flag?: string;
  Role?: string;
  SubRole?: string;
  SoftwareStatus?: string;
  State?: string;
}

export const LIMITS = {
  QUEUE_LIMIT: 200,
  ATTEMPTS: 3,
  RETRY_DELAY_MS: 1_000,
  ATTEMPT_TIMEOUT_MS: 5_000,
  SUSPEND_AFTER: 3,
  SUSPEND_MS: 60_000,
  STUCK_MS: 60_000,
  /** Outboxes kept; an idle one beyond this is forgotten (its counters with it). */
  SUBSCRIBERS_LIMIT: 1_000,
};

/**
 * The subscribers' URLs a notification goes to, once each. Upstream picks one trigger per
 * notification, the first it carries of State, Role, SubRole, SoftwareStatus and Enabled, and
 * sends it to every subscription listing that value (any case); an Enabled change goes to the
 * subscriptions with Enabled true.
 */
export function subscribersOf(p: ScnPayload, subs: Subscription[]): string[] {
  const pick = (list: string[] | undefined, value: string) => (list ?? []).some((v) => v.toLowerCase() === value.toLowerCase());
  const match: (s: Subscription) => boolean = p.State
    ? (s) => pick(s.States, p.State!)
    : p.Role
      ? (s) => pick(s.Roles, p.Role!)
      : p.SubRole
        ? (s) => pick(s.SubRoles, p.SubRole!)
        : p.SoftwareStatus
          ? (s) => pick(s.SoftwareStatus, p.SoftwareStatus!)
          : p.Enabled !== undefined
            ? (s) => s.Enabled === true
            : () => false;
  return [...new Set(subs.filter(match).map((s) => s.Url))];
}

export interface Transport {
  /** POSTs `body` to `url`; true when the subscriber took it (a 2xx answer). */
  post(url: string, body: string, timeoutMs: number): Promise<boolean>;
  sleep(ms: number): Promise<void>;
  now(): number;
}

interface Outbox {
  queue: string[];
  /** When the running sender last made progress; 0 when none runs. */
  sending: number;
  failuresInARow: number;
  suspendedUntil: number;
  delivered: number;
  dropped: number;
}

export interface OutboxStats {
  queued: number;
  delivered: number;
  dropped: number;
  suspended: boolean;
}

export class ScnDispatcher {
  private readonly outboxes = new Map<string, Outbox>();

  constructor(
    private readonly transport: Transport,
    private readonly limits = LIMITS,
    private readonly log: (line: string) => void = (line) => console.warn(line),
  ) {}

  /**
   * Queues `body` for `url`. Returns the sender the caller must keep alive (its request's
   * `waitUntil`) when this call started one, else undefined.
   */
  enqueue(url: string, body: string): Promise<void> | undefined {
    const now = this.transport.now();
    const box = this.outbox(url);
    if (box.suspendedUntil > now) {
      box.dropped++;
      return undefined;
    }
    if (box.queue.length >= this.limits.QUEUE_LIMIT) {
      box.queue.shift();
      box.dropped++;
    }
    box.queue.push(body);
    if (box.sending !== 0 && now - box.sending < this.limits.STUCK_MS) return undefined;
    box.sending = now;
    return this.send(url, box);
  }

  stats(url: string): OutboxStats {
    const box = this.outboxes.get(url);
    if (!box) return { queued: 0, delivered: 0, dropped: 0, suspended: false };
    return {
      queued: box.queue.length,
      delivered: box.delivered,
      dropped: box.dropped,
      suspended: box.suspendedUntil > this.transport.now(),
    };
  }

  private outbox(url: string): Outbox {
    let box = this.outboxes.get(url);
    if (!box) {
      if (this.outboxes.size >= this.limits.SUBSCRIBERS_LIMIT) this.forgetIdle();
      box = { queue: [], sending: 0, failuresInARow: 0, suspendedUntil: 0, delivered: 0, dropped: 0 };
      this.outboxes.set(url, box);
    }
    return box;
  }

  private forgetIdle(): void {
    for (const [url, box] of this.outboxes) if (box.sending === 0 && box.queue.length === 0) this.outboxes.delete(url);
  }

  private async send(url: string, box: Outbox): Promise<void> {
    try {
      for (let body = box.queue.shift(); body !== undefined; body = box.queue.shift()) {
        if (await this.attempt(url, body, box)) {
          box.delivered++;
          box.failuresInARow = 0;
          continue;
        }
        box.dropped++;
        box.failuresInARow++;
        if (box.failuresInARow >= this.limits.SUSPEND_AFTER) {
          box.dropped += box.queue.length;
          box.queue = [];
          box.suspendedUntil = this.transport.now() + this.limits.SUSPEND_MS;
          box.failuresInARow = 0;
          this.log(
            `SCN: subscriber ${url} failed ${this.limits.SUSPEND_AFTER} notifications in a row; dropping its notifications for ${this.limits.SUSPEND_MS / 1000} s`,
          );
        }
      }
    } finally {
      box.sending = 0;
    }
  }

  private async attempt(url: string, body: string, box: Outbox): Promise<boolean> {
    for (let i = 0; i < this.limits.ATTEMPTS; i++) {
      if (i > 0) await this.transport.sleep(this.limits.RETRY_DELAY_MS * i);
      box.sending = this.transport.now();
      try {
        if (await this.transport.post(url, body, this.limits.ATTEMPT_TIMEOUT_MS)) return true;
      } catch {
        // A refused connection or a timeout: another attempt.
      }
    }
    return false;
  }
}

/** The runtime's transport: fetch with a deadline, timers, the wall clock. */
export const fetchTransport: Transport = {
  async post(url, body, timeoutMs) {
    const res = await fetch(url, {
      method: "POST",
      body,
      headers: { "content-type": "application/json", "user-agent": "smd" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    return res.ok;
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => Date.now(),
};
