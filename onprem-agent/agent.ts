/**
 * The agent process's parts wired together: API client, SMD inventory, boot-event reporter,
 * DHCP server, metrics. `startAgent` is what `npm run agent` runs and what tests and benchmarks
 * start in-process. TFTP and image serving are separate modules the agent will start here too.
 */
import type { Server } from "node:http";
import { ApiClient } from "./api-client";
import { BootEventReporter } from "./boot-events";
import type { AgentConfig } from "./config";
import { resolveDhcpSettings } from "./dhcp/config";
import { DhcpServer } from "./dhcp/server";
import { SmdInventory } from "./inventory";
import { createLogger, type Logger } from "./log";
import { createMetrics, serveMetrics, type AgentMetrics } from "./metrics";

export interface Agent {
  config: AgentConfig;
  log: Logger;
  metrics: AgentMetrics;
  inventory: SmdInventory;
  events: BootEventReporter;
  dhcp?: DhcpServer;
  metricsServer?: Server;
  stop(): Promise<void>;
}

export async function startAgent(config: AgentConfig, opts: { log?: Logger } = {}): Promise<Agent> {
  const log = opts.log ?? createLogger(config.log);
  const metrics = createMetrics();
  const api = new ApiClient(config.api);
  const events = new BootEventReporter(api, config.bootEvents, log.child({ mod: "boot-events" }));
  const invLog = log.child({ mod: "inventory" });
  const inventory = new SmdInventory(api, config.inventory, {
    onRefresh: (r) => {
      invLog.debug(r, "inventory refreshed");
    },
    onError: (err, reason) => {
      metrics.inventoryErrors.inc();
      invLog.warn({ err: err.message, reason, keeping: inventory.size }, "inventory refresh failed; serving the last good copy");
    },
  });
  metrics.probes.inventorySize = () => inventory.size;
  metrics.probes.inventoryAgeSeconds = () => (inventory.refreshedAt ? (Date.now() - inventory.refreshedAt) / 1000 : -1);
  metrics.probes.bootEventsDropped = () => events.dropped;
  metrics.probes.bootEventsQueued = () => events.queued;

  const agent: Agent = {
    config,
    log,
    metrics,
    inventory,
    events,
    async stop() {
      agent.dhcp?.stop();
      inventory.stop();
      await events.close();
      await new Promise<void>((r) => (agent.metricsServer ? agent.metricsServer.close(() => r()) : r()));
    },
  };
  try {
    if (config.metrics.enabled) agent.metricsServer = await serveMetrics(metrics, config.metrics);
    await inventory.start();
    log.info({ reservations: inventory.size, api: api.baseUrl }, "inventory loaded");
    if (config.dhcp.interface) {
      const settings = resolveDhcpSettings(config.dhcp, config.api.bootUrl ?? config.api.url);
      agent.dhcp = new DhcpServer({
        settings,
        inventory,
        log: log.child({ mod: "dhcp" }),
        metrics,
        report: (e) => events.report(e),
        logDecisions: config.log.dhcpDecisions,
      });
      await agent.dhcp.start();
    } else {
      log.info("DHCP is off (no dhcp.interface configured)");
    }
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return agent;
}
