/**
 * Prometheus metrics (prom-client) on their own HTTP port: `GET /metrics`. One registry per agent
 * so tests can run several; modules register their own series on it.
 */
import { createServer, type Server } from "node:http";
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
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

/** Read at scrape time; the agent fills them in once its parts exist. */
export interface MetricProbes {
  inventorySize?: () => number;
  inventoryAgeSeconds?: () => number;
  bootEventsDropped?: () => number;
  bootEventsQueued?: () => number;
}

export interface AgentMetrics {
  registry: Registry;
  probes: MetricProbes;
  dhcpPackets: Counter<"type" | "decision">;
  dhcpErrors: Counter<"stage">;
  inventorySize: Gauge;
  inventoryAge: Gauge;
  inventoryErrors: Counter;
  bootEventsDropped: Gauge;
  bootEventsQueued: Gauge;
}

export function createMetrics(): AgentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "ochami_agent_" });
  const probes: MetricProbes = {};
  const probe = (name: string, help: string, read: () => number | undefined) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v !== undefined) this.set(v);
      },
    });
  return {
    registry,
    probes,
    dhcpPackets: new Counter({
      name: "ochami_dhcp_packets_total",
      help: "DHCP packets received, by message type and decision (offer, ack, nak, drop, malformed)",
      labelNames: ["type", "decision"],
      registers: [registry],
    }),
    dhcpErrors: new Counter({ name: "ochami_dhcp_errors_total", help: "DHCP send/encode failures", labelNames: ["stage"], registers: [registry] }),
    inventorySize: probe("ochami_inventory_reservations", "MACs with an address in the SMD cache", () => probes.inventorySize?.()),
    inventoryAge: probe("ochami_inventory_age_seconds", "Seconds since the last successful SMD refresh (-1: never)", () => probes.inventoryAgeSeconds?.()),
    inventoryErrors: new Counter({ name: "ochami_inventory_refresh_errors_total", help: "Failed SMD refreshes", registers: [registry] }),
    bootEventsDropped: probe("ochami_boot_events_dropped", "Boot events dropped while the API was unreachable", () => probes.bootEventsDropped?.()),
    bootEventsQueued: probe("ochami_boot_events_queued", "Boot events waiting to be posted", () => probes.bootEventsQueued?.()),
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
