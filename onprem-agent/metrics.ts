/**
 * Prometheus metrics (prom-client) on their own HTTP port: `GET /metrics`. One registry per agent
 * (tests run several agents in one process); every part of the agent registers its series on it
 * through `metricFactory`. All names start with `ochami_agent_<part>_`.
 */
import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { z } from "zod";
import { port } from "./config-types";

export const metricsConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default("127.0.0.1"),
    port: port.default(9464),
  })
  .prefault({});

export type MetricsConfig = z.infer<typeof metricsConfigSchema>;

export const METRIC_PREFIX = "ochami_agent_";

type MetricConfig<T extends string> = { name: string; help: string; labelNames?: readonly T[] };

/**
 * Metrics on a registry (none: kept but not exported, for a server started alone). A registry may
 * outlive one server (tests and restarts start several on it), so an existing metric of the same
 * name is reused instead of failing prom-client's duplicate-name check.
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
    /** A gauge read at scrape time. */
    probe(config: MetricConfig<never>, read: () => number | undefined): Gauge {
      return (
        existing<Gauge>(config.name) ??
        new Gauge({
          ...config,
          registers,
          collect() {
            const v = read();
            if (v !== undefined) this.set(v);
          },
        })
      );
    },
    histogram<T extends string>(config: MetricConfig<T> & { buckets: number[] }): Histogram<T> {
      return existing<Histogram<T>>(config.name) ?? new Histogram<T>({ ...config, registers });
    },
  };
}

/** Read at scrape time; the agent fills them in once its parts exist. */
export interface MetricProbes {
  inventorySize?: () => number;
  inventoryAgeSeconds?: () => number;
  bootEventsDropped?: () => number;
  bootEventsQueued?: () => number;
  dhcpPoolLeases?: () => number;
}

export interface AgentMetrics {
  registry: Registry;
  probes: MetricProbes;
  dhcpPackets: Counter<"type" | "decision">;
  dhcpErrors: Counter<"stage">;
  dhcpNewLeasesRefused: Counter<"source">;
  inventoryErrors: Counter;
}

export function createMetrics(): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const probes: MetricProbes = {};
  const m = metricFactory(registry);
  m.probe({ name: "ochami_agent_inventory_reservations", help: "MACs with an address in the SMD cache" }, () => probes.inventorySize?.());
  m.probe({ name: "ochami_agent_inventory_age_seconds", help: "Seconds since the last successful SMD refresh (-1: never)" }, () =>
    probes.inventoryAgeSeconds?.(),
  );
  m.probe({ name: "ochami_agent_boot_events_dropped", help: "Boot events dropped while the API was unreachable (since start)" }, () =>
    probes.bootEventsDropped?.(),
  );
  m.probe({ name: "ochami_agent_boot_events_queued", help: "Boot events waiting to be posted" }, () => probes.bootEventsQueued?.());
  m.probe({ name: "ochami_agent_dhcp_pool_leases", help: "Bootloop pool addresses offered or leased" }, () => probes.dhcpPoolLeases?.());
  return {
    registry,
    probes,
    dhcpPackets: m.counter({
      name: "ochami_agent_dhcp_packets_total",
      help: "DHCP packets received, by message type and decision (offer, ack, nak, drop, malformed, invalid_mac, pool_limited)",
      labelNames: ["type", "decision"] as const,
    }),
    dhcpNewLeasesRefused: m.counter({
      name: "ochami_agent_dhcp_new_leases_refused_total",
      help: "New bootloop pool leases refused because the relay (giaddr) or interface was over dhcp.bootloop.newLeasesPerMinute",
      labelNames: ["source"] as const,
    }),
    dhcpErrors: m.counter({ name: "ochami_agent_dhcp_errors_total", help: "DHCP send/encode failures", labelNames: ["stage"] as const }),
    inventoryErrors: m.counter({ name: "ochami_agent_inventory_refresh_errors_total", help: "Failed SMD refreshes" }),
  };
}

export async function serveMetrics(m: AgentMetrics, cfg: MetricsConfig): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
      m.registry.metrics().then(
        (body) => {
          res.writeHead(200, { "content-type": m.registry.contentType });
          res.end(body);
        },
        (err) => {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end(String(err));
        },
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" });
    res.end("not found; try /metrics\n");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(cfg.port, cfg.host, () => resolve());
  });
  return server;
}
