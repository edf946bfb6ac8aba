/**
 * Following nodes' boots from the boot history (`GET /boot/v1/endpoint-history?history=true`),
 * polling with `after_id` so each step is printed once, as it happens. The seed tailed the logs of
 * coresmd, BSS and cloud-init in three windows; this is one stream per cluster, node by node:
 * dhcp → bootscript → kernel → initrd → meta-data …, with the time since the node's DHCP.
 */
import type { RecordedBootEvent } from "../shared/boot-events";
import type { ApiClient } from "./api-client";

export interface WatchFilter {
  /** xnames; empty: all. */
  nodes: string[];
  /** Steps (endpoint names); empty: all. */
  endpoints: string[];
  /** Only nodes in these SMD groups (resolved to members by the caller). */
  members?: Set<string>;
}

/** The node an event is about: its xname, else its MAC, else its address. */
export function subjectOf(e: RecordedBootEvent): string {
  return e.name || e.mac || e.ip || "?";
}

function clock(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/**
 * Turns events into lines. Keeps, per node, when its current boot began, so each step shows how
 * far into the boot it came. A boot begins with the firmware's DHCP, the one answered with a boot
 * file (`file=` in the detail); the booted OS's own DHCP later gets none and is a step within it.
 */
export class BootLineFormatter {
  private bootStart = new Map<string, number>();

  line(e: RecordedBootEvent): string {
    const who = subjectOf(e);
    if (e.endpoint === "dhcp" && (e.detail.includes("file=") || !this.bootStart.has(who))) this.bootStart.set(who, e.epoch_ms);
    const start = this.bootStart.get(who);
    const since = start === undefined ? "" : `+${((e.epoch_ms - start) / 1000).toFixed(1)}s`;
    return `${clock(e.epoch_ms)}  ${who.padEnd(17)}  ${e.endpoint.padEnd(16)}  ${since.padStart(7)}  ${e.detail}`.trimEnd();
  }
}

export function matches(e: RecordedBootEvent, f: WatchFilter): boolean {
  if (f.members && !f.members.has(e.name)) return false;
  if (f.endpoints.length && !f.endpoints.includes(e.endpoint)) return false;
  return true;
}

export interface FollowOptions {
  api: ApiClient;
  filter: WatchFilter;
  /** Start with events since this time (epoch ms). */
  sinceMs: number;
  pollMs: number;
  /**
   * Events are held this long and printed in time order: the agent posts its steps in batches
   * (every 0.5 s), the API records its own at once, so arrival order is not boot order.
   */
  reorderMs: number;
  /** Print what there is and return. */
  once: boolean;
  emit(e: RecordedBootEvent): void;
  signal?: AbortSignal;
  now?: () => number;
}

/** Polls the history; returns when `once`, or when `signal` aborts. API failures are retried. */
export async function follow(o: FollowOptions, onError: (err: Error) => void = () => {}): Promise<void> {
  const now = o.now ?? Date.now;
  let afterId: number | undefined;
  let failing = false;
  let held: RecordedBootEvent[] = [];
  const release = (upTo: number) => {
    const ready = held.filter((e) => e.epoch_ms <= upTo).sort((a, b) => a.epoch_ms - b.epoch_ms || a.id - b.id);
    held = held.filter((e) => e.epoch_ms > upTo);
    for (const e of ready) o.emit(e);
  };
  while (!o.signal?.aborted) {
    const q = new URLSearchParams({ history: "true" });
    for (const n of o.filter.nodes) q.append("name", n);
    for (const ep of o.filter.endpoints) q.append("endpoint", ep);
    // Until the first event arrives the query is "since"; from then on "after the last seen".
    if (afterId === undefined) q.set("since_ms", String(o.sinceMs));
    else q.set("after_id", String(afterId));
    try {
      const events = (await o.api.json("GET", `/boot/v1/endpoint-history?${q}`)) as RecordedBootEvent[];
      failing = false;
      for (const e of events) {
        afterId = Math.max(afterId ?? 0, e.id);
        if (matches(e, o.filter)) held.push(e);
      }
    } catch (err) {
      if (o.once) throw err;
      if (!failing) onError(err as Error);
      failing = true;
    }
    if (o.once) return release(Infinity);
    release(now() - o.reorderMs);
    await new Promise((r) => setTimeout(r, o.pollMs));
  }
  release(Infinity);
}
