import type { Clock, TimerHandle } from "../../onprem-agent/clock";

interface Pending {
  at: number;
  every?: number;
  fn: () => void;
  seq: number;
}

/**
 * A clock that moves only when the test says: `advance(ms)` runs, in time order and each at its
 * due time, every timer that falls due (including ones those callbacks set), and returns how many
 * ran, so "nothing ran" is a fact the test can assert rather than hope for.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers = new Map<TimerHandle, Pending>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = {};
    this.timers.set(handle, { at: this.t + Math.max(0, ms), fn, seq: this.seq++ });
    return handle;
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    const handle = {};
    const every = Math.max(1, ms);
    this.timers.set(handle, { at: this.t + every, every, fn, seq: this.seq++ });
    return handle;
  }

  clear(timer: TimerHandle | undefined): void {
    if (timer) this.timers.delete(timer);
  }

  /** Due times of the pending timers, in ms from now, soonest first. */
  pending(): number[] {
    return [...this.timers.values()].map((p) => p.at - this.t).sort((a, b) => a - b);
  }

  advance(ms: number): number {
    const until = this.t + ms;
    let ran = 0;
    for (;;) {
      let next: [TimerHandle, Pending] | undefined;
      for (const entry of this.timers)
        if (entry[1].at <= until && (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[1].seq < next[1].seq)))
          next = entry;
      if (!next) break;
      const [handle, p] = next;
      this.t = p.at;
      if (p.every) this.timers.set(handle, { ...p, at: p.at + p.every, seq: this.seq++ });
      else this.timers.delete(handle);
      ran++;
      p.fn();
    }
    this.t = until;
    return ran;
  }
}
