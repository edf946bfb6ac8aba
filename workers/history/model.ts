import type { BootStep } from "../../shared/boot-events";

/**
 * Boot history: every step a node takes on its way up (shared/boot-events.ts), so an admin can
 * see which nodes reached which stage.
 */

export interface BootEvent {
  /** xname when the caller knows it; otherwise resolved from mac, then ip, through SMD. */
  name?: string;
  mac?: string;
  ip?: string;
  endpoint: BootStep;
  timeMs: number;
  detail?: string;
  /**
   * The address of the public request that caused the event (bootscript, cloud-init): its events
   * of requesters SMD does not know are limited per second (workers/history/client-rate.ts).
   * Unset for the on-prem agent's reports, which carry the node's address, not the reporter's.
   */
  client?: string;
  /**
   * The request's handler found the requester in SMD (the boot reader named its node): the
   * recorder then needs no lookup of its own before writing. In a storm every node asks once, so
   * without it each batch cost a database read first.
   */
  inSmd?: boolean;
}

/** An event with its node resolved through SMD, as it is written. */
export interface ResolvedEvent extends BootEvent {
  /** The given xname, else the component owning the MAC, else the one holding the IP; "" when none. */
  name: string;
  /** `name` is an SMD component. */
  known: boolean;
}

/** Row shapes as served by GET /endpoint-history. */
export interface LatestRow {
  name: string;
  mac: string;
  ip: string;
  endpoint: string;
  timeMs: number;
  detail: string;
}

/** Upstream's element `{name, endpoint, last_epoch}`, plus what we know beyond it. */
export function latestJson(r: LatestRow) {
  return {
    name: r.name,
    endpoint: r.endpoint,
    last_epoch: Math.floor(r.timeMs / 1000),
    last_epoch_ms: r.timeMs,
    mac: r.mac,
    ip: r.ip,
    detail: r.detail,
  };
}

export function eventJson(r: LatestRow & { id: number }) {
  return { id: r.id, name: r.name, endpoint: r.endpoint, epoch_ms: r.timeMs, mac: r.mac, ip: r.ip, detail: r.detail };
}
