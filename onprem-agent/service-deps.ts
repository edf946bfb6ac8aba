/**
 * What the agent's boot-traffic servers (TFTP, images, node proxy) are given by the process that
 * starts them: a logger, an optional metrics registry and an optional boot-event callback. Each
 * server takes these injected so it can be started alone in a test or a benchmark.
 */
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** The part of pino's interface the servers use: `log.info({ ip, file }, "message")`. */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export type BootEndpoint = "tftp" | "kernel" | "initrd" | "rootfs" | "image";

/** One step of a node's boot as seen by the agent; the caller maps `ip` to a node. */
export interface BootEvent {
  ip: string;
  endpoint: BootEndpoint;
  detail: string;
}

export interface ServiceDeps {
  log: Logger;
  /** Where this server registers its counters; without one they are kept but not exported. */
  metrics?: Registry;
  report?: (event: BootEvent) => void;
}

/** Calls `report`, keeping a throwing callback from breaking the transfer that triggered it. */
export function reportBootEvent(deps: ServiceDeps, event: BootEvent): void {
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

type MetricConfig<T extends string> = { name: string; help: string; labelNames?: readonly T[] };

/**
 * Metrics registered on the injected registry. A registry may outlive one server (tests and
 * restarts start several on it), so an existing metric of the same name is reused instead of
 * failing prom-client's duplicate-name check.
 */
export function metricFactory(registry: Registry | undefined) {
  const registers = registry ? [registry] : [];
  function existing<M>(name: string): M | undefined {
    return registry?.getSingleMetric(name) as M | undefined;
  }
  return {
    counter<T extends string>(config: MetricConfig<T>): Counter<T> {
      return existing<Counter<T>>(config.name) ?? new Counter<T>({ ...config, registers });
    },
    gauge<T extends string>(config: MetricConfig<T>): Gauge<T> {
      return existing<Gauge<T>>(config.name) ?? new Gauge<T>({ ...config, registers });
    },
    histogram<T extends string>(config: MetricConfig<T> & { buckets: number[] }): Histogram<T> {
      return existing<Histogram<T>>(config.name) ?? new Histogram<T>({ ...config, registers });
    },
  };
}
