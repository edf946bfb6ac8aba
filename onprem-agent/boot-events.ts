/**
 * Boot-event reporting to the API (`POST /boot/v1/endpoint-history`). The boot path only calls
 * `report()`, which queues in memory and returns at once; a background flush posts batches at most
 * every `interval` (sooner once `batchSize` events wait). While the API is down the queue is bounded
 * and the oldest events are dropped (counted and logged), so a dead API never slows DHCP or TFTP.
 */
import { z } from "zod";
import type { ApiClient } from "../shared/api-client/client";
import { ENDPOINT_HISTORY_PATH, type ReportedBootEvent } from "../shared/boot-events";
import { type Clock, realClock, type TimerHandle } from "./clock";
import { seconds } from "./config-types";
import type { Logger } from "./log";

export const bootEventsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    interval: seconds.default(0.5),
    batchSize: z.int().min(1).default(500),
    maxQueued: z.int().min(1).default(50_000),
  })
  .prefault({});

export type BootEventsConfig = z.infer<typeof bootEventsConfigSchema>;

export class BootEventReporter {
  private queue: ReportedBootEvent[] = [];
  private timer?: TimerHandle;
  private flushing?: Promise<void>;
  private failing = false;
  private stopped = false;
  dropped = 0;
  posted = 0;
  failures = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly cfg: BootEventsConfig,
    private readonly log: Logger,
    private readonly clock: Clock = realClock,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  report(e: ReportedBootEvent): void {
    if (!this.cfg.enabled || this.stopped) return;
    this.queue.push(e);
    if (this.queue.length > this.cfg.maxQueued) {
      const n = this.queue.length - this.cfg.maxQueued;
      this.queue.splice(0, n);
      this.dropped += n;
      if (this.dropped === n || this.dropped % 1000 < n)
        this.log.warn({ dropped: this.dropped, maxQueued: this.cfg.maxQueued }, "boot events dropped: API unreachable and queue full");
    }
    if (this.queue.length >= this.cfg.batchSize && !this.flushing) this.schedule(0);
    else this.schedule(this.cfg.interval * 1000);
  }

  private schedule(ms: number): void {
    if (this.timer && ms > 0) return;
    this.clock.clear(this.timer);
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  /** Posts what is queued, batch by batch. Never throws. */
  flush(): Promise<void> {
    this.flushing ??= this.drain().finally(() => {
      this.flushing = undefined;
      if (this.queue.length && !this.stopped) this.schedule(this.cfg.interval * 1000);
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue.slice(0, this.cfg.batchSize);
      try {
        const res = await this.api.send("root", "POST", ENDPOINT_HISTORY_PATH, { body: { events: batch } });
        const body = res.text();
        if (res.status >= 500 || res.status === 401 || res.status === 403 || res.status === 404 || res.status === 429)
          throw new Error(`${res.status} ${body.slice(0, 200)}`);
        // Other 4xx: the API rejects this batch as such; retrying it would block the queue forever.
        if (res.status >= 300)
          this.log.warn({ status: res.status, body: body.slice(0, 200), events: batch.length }, "boot events rejected by the API");
        else this.posted += batch.length;
        this.queue.splice(0, batch.length);
        if (this.failing) this.log.info({ queued: this.queue.length }, "boot events: API reachable again");
        this.failing = false;
      } catch (err) {
        this.failures++;
        if (!this.failing)
          this.log.warn({ err: (err as Error).message, queued: this.queue.length }, "boot events: posting failed, keeping them queued");
        this.failing = true;
        return;
      }
    }
  }

  /** Stops the timer after one last attempt to post what is queued. */
  async close(): Promise<void> {
    this.clock.clear(this.timer);
    await this.flush();
    this.stopped = true;
    this.clock.clear(this.timer);
  }
}
