/**
 * The agent process's parts wired together: API client, SMD inventory, boot-event reporter, DHCP,
 * TFTP, image server, node proxy, metrics. `startAgent` is what `npm run agent` and `npm start`
 * run and what tests and benchmarks start in-process. Every part logs through one logger (child
 * per part) and registers its metrics on one registry; what TFTP and the image server serve is
 * mapped from the client's address to its node (SMD reservation, else the DHCP pool lease) and
 * reported to the boot history.
 */
import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import { ApiClient } from "../shared/api-client/client";
import { ApiError } from "../shared/api-client/errors";
import { ClientCredentialsTokens } from "../shared/api-client/tokens";
import { parseXname } from "../shared/xname";
import { BootEventReporter } from "./boot-events";
import { type Clock, realClock } from "./clock";
import type { AgentConfig, ApiConfig } from "./config";
import { resolveDhcpSettings } from "./dhcp/config";
import { DhcpServer } from "./dhcp/server";
import { type ImageServer, startImageServer } from "./images";
import { SmdInventory } from "./inventory";
import { type AgentLogger, createLogger } from "./log";
import { type AgentMetrics, createMetrics, serveMetrics } from "./metrics";
import { type NodeProxy, startNodeProxy } from "./node-proxy";
import type { ServedEvent, ServiceDeps } from "./service-deps";
import { startTftpServer, type TftpServer } from "./tftp";

export interface Agent {
  config: AgentConfig;
  log: AgentLogger;
  metrics: AgentMetrics;
  inventory: SmdInventory;
  events: BootEventReporter;
  dhcp?: DhcpServer;
  tftp?: TftpServer;
  images?: ImageServer;
  nodeProxy?: NodeProxy;
  metricsServer?: Server;
  stop(): Promise<void>;
}

/** The client of the `api` section: one API root for every service, client-credentials tokens when `auth` is set. */
export function apiClientOf(api: ApiConfig): ApiClient {
  const timeoutMs = api.timeout * 1000;
  const auth = api.auth;
  const tokens =
    auth &&
    new ClientCredentialsTokens(
      {
        tokenUrl: auth.tokenUrl ?? `${api.url}/token`,
        clientId: auth.clientId,
        secret: auth.clientSecret ?? readFileSync(auth.clientSecretFile!, "utf8").trim(),
        scope: auth.scope,
      },
      { timeoutMs },
    );
  return new ApiClient({ baseUrl: () => api.url, tokens, timeoutMs });
}

/**
 * `clock`: the time the inventory's refreshes and the boot-event reporter's flushes follow (a
 * test's own clock lets it move time instead of waiting for it).
 */
export async function startAgent(config: AgentConfig, opts: { log?: AgentLogger; clock?: Clock } = {}): Promise<Agent> {
  const log = opts.log ?? createLogger(config.log);
  const clock = opts.clock ?? realClock;
  const metrics = createMetrics();
  const api = apiClientOf(config.api);
  const events = new BootEventReporter(api, config.bootEvents, log.child({ mod: "boot-events" }), clock);
  const invLog = log.child({ mod: "inventory" });
  const inventory = new SmdInventory(
    api,
    config.inventory,
    {
      onRefresh: (r) => {
        invLog.debug(r, "inventory refreshed");
      },
      onError: (err, reason) => {
        metrics.inventoryErrors.inc();
        const url = err instanceof ApiError ? err.url : undefined;
        invLog.warn({ err: err.message, url, reason, keeping: inventory.size }, "inventory refresh failed; serving the last good copy");
      },
    },
    clock,
  );
  metrics.probes.inventorySize = () => inventory.size;
  metrics.probes.inventoryAgeSeconds = () => (inventory.refreshedAt ? (clock.now() - inventory.refreshedAt) / 1000 : -1);
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
      await Promise.all([agent.tftp?.close(), agent.images?.close(), agent.nodeProxy?.close()]);
      inventory.stop();
      await events.close();
      await new Promise<void>((r) => (agent.metricsServer ? agent.metricsServer.close(() => r()) : r()));
    },
  };

  /** A file served to `ip`, reported under the node that holds that address. */
  const reportServed = (e: ServedEvent) => {
    const reservation = inventory.lookupIp(e.ip);
    const mac = reservation?.mac ?? agent.dhcp?.leases.holderOf(e.ip) ?? "";
    const name = reservation?.xname && parseXname(reservation.xname) ? reservation.xname : undefined;
    events.report({ mac, ip: e.ip, name, endpoint: e.endpoint, epoch_ms: Date.now(), detail: e.detail });
  };
  const deps = (mod: string): ServiceDeps => ({ log: log.child({ mod }), metrics: metrics.registry, report: reportServed });

  try {
    if (config.metrics.enabled) agent.metricsServer = await serveMetrics(metrics, config.metrics);
    await inventory.start();
    log.info({ reservations: inventory.size, api: config.api.url }, "inventory loaded");
    // Files before DHCP: a node answered by DHCP fetches its boot file at once.
    const { enabled: tftpOn, ...tftp } = config.tftp;
    const { enabled: imagesOn, ...images } = config.images;
    const { enabled: proxyOn, ...proxy } = config.nodeProxy;
    [agent.tftp, agent.images, agent.nodeProxy] = await Promise.all([
      tftpOn ? startTftpServer(tftp, deps("tftp")) : undefined,
      imagesOn ? startImageServer(images, deps("images")) : undefined,
      proxyOn ? startNodeProxy({ ...proxy, apiUrl: proxy.apiUrl ?? config.api.url }, deps("node-proxy")) : undefined,
    ]);
    if (config.dhcp.interface) {
      const settings = resolveDhcpSettings(config.dhcp, config.api.bootUrl ?? config.api.url);
      agent.dhcp = new DhcpServer({
        settings,
        inventory,
        log: log.child({ mod: "dhcp" }),
        metrics,
        report: (e) => events.report(e),
        logDecisions: config.log.dhcpDecisions,
        clock,
      });
      await agent.dhcp.start();
    } else {
      log.info({}, "DHCP is off (no dhcp.interface configured)");
    }
  } catch (err) {
    await agent.stop();
    throw err;
  }
  return agent;
}
