/**
 * What the agent's boot-traffic servers (TFTP, images, node proxy) are given by the process that
 * starts them: a logger, an optional metrics registry and an optional callback for what they
 * served. Each server takes these injected so it can be started alone in a test or a benchmark;
 * the agent (agent.ts) maps a served event's IP to its node and reports it as a boot event.
 */
import type { Registry } from "prom-client";
import type { BootStep } from "../shared/boot-events";
import type { Logger } from "./log";

export type ServedEndpoint = Extract<BootStep, "tftp" | "kernel" | "initrd" | "rootfs" | "image">;

/** One file served to a node, known by its address only; the agent maps `ip` to a node. */
export interface ServedEvent {
  ip: string;
  endpoint: ServedEndpoint;
  detail: string;
}

export interface ServiceDeps {
  log: Logger;
  /** Where this server registers its counters; without one they are kept but not exported. */
  metrics?: Registry;
  report?: (event: ServedEvent) => void;
}

/** Calls `report`, keeping a throwing callback from breaking the transfer that triggered it. */
export function reportBootEvent(deps: ServiceDeps, event: ServedEvent): void {
  if (!deps.report) return;
  try {
    deps.report(event);
  } catch (err) {
    deps.log.warn({ err, event }, "boot event callback failed");
  }
}

/** `::ffff:10.1.2.3` (an IPv4 client on a dual-stack socket) → `10.1.2.3`. */
export function plainIp(address: string | undefined): string {
  if (!address) return "";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
