/**
 * Every socket `npm start` listens on, what it is for and the setting that moves it: printed at
 * start-up (one line each), checked before anything starts (a port another process holds stops
 * `npm start` with one line naming the setting to change), and used to name the setting when a
 * listen fails anyway (a port taken in between).
 */
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import type { HeadNodePlan } from "./plan";

export interface Listener {
  /** What it is, as messages name it. */
  name: string;
  protocol: "tcp" | "udp";
  address: string;
  port: number;
  /** The environment variable (and the agent YAML key) that sets the port. */
  setting: string;
  why: string;
  /** DHCP only: the interface the socket is bound to. */
  device?: string;
  /**
   * Checked before start-up. DHCP's sockets are not: they share their port by design (SO_REUSEADDR,
   * one per interface), so binding them says nothing about a conflict.
   */
  probe: boolean;
}

const hostPort = (address: string, port: number) => `${address.includes(":") ? `[${address}]` : address}:${port}`;

/** The listeners a start with this plan opens (their ports as configured; 0 means any free port). */
export function plannedListeners(plan: HeadNodePlan, host: string, port: number): Listener[] {
  const out: Listener[] = [
    { name: "API", protocol: "tcp", address: host, port, setting: "PORT", why: "the API: admins, the CLI, the agent", probe: true },
  ];
  const tls = plan.tls;
  if (tls.enabled) {
    out.push({
      name: "HTTPS",
      protocol: "tcp",
      address: tls.host,
      port: tls.port,
      setting: "OCHAMI_TLS_PORT",
      why: "the API over TLS",
      probe: true,
    });
    if (tls.source.kind === "acme")
      out.push({
        name: "ACME",
        protocol: "tcp",
        address: tls.host,
        port: tls.source.httpPort,
        setting: "OCHAMI_TLS_ACME_HTTP_PORT",
        why: "http-01 challenge answers for the ACME server",
        probe: true,
      });
  }
  if (!plan.agentEnabled) return out;
  const a = plan.agent;
  if (a.images.enabled)
    out.push({
      name: "images",
      protocol: "tcp",
      address: a.images.address,
      port: a.images.port,
      setting: "OCHAMI_IMAGES_PORT (images.port)",
      why: "kernels, initrds and root images for booting nodes",
      probe: true,
    });
  if (a.metrics.enabled)
    out.push({
      name: "metrics",
      protocol: "tcp",
      address: a.metrics.host,
      port: a.metrics.port,
      setting: "OCHAMI_AGENT_METRICS_PORT (metrics.port)",
      why: "the agent's Prometheus metrics",
      probe: true,
    });
  if (a.nodeProxy.enabled)
    out.push({
      name: "node proxy",
      protocol: "tcp",
      address: a.nodeProxy.address,
      port: a.nodeProxy.port,
      setting: "OCHAMI_NODE_PROXY_PORT (nodeProxy.port)",
      why: "bootscripts and cloud-init for nodes, forwarded to the API",
      probe: true,
    });
  if (a.tftp.enabled)
    out.push({
      name: "TFTP",
      protocol: "udp",
      address: a.tftp.address,
      port: a.tftp.port,
      setting: "OCHAMI_TFTP_PORT (tftp.port)",
      why: "iPXE binaries for PXE firmware",
      probe: true,
    });
  if (a.dhcp.interface) {
    const dhcp = { protocol: "udp" as const, address: "0.0.0.0", device: a.dhcp.interface, probe: false };
    out.push({
      ...dhcp,
      name: "DHCP",
      port: a.dhcp.serverPort,
      setting: "OCHAMI_DHCP_PORT (dhcp.serverPort)",
      why: "addresses and boot files for nodes (and relays)",
    });
    if (a.dhcp.mode === "proxy" && a.dhcp.proxyPort)
      out.push({
        ...dhcp,
        name: "ProxyDHCP",
        port: a.dhcp.proxyPort,
        setting: "OCHAMI_DHCP_PROXY_PORT (dhcp.proxyPort)",
        why: "PXE boot-server requests (proxy mode)",
      });
  }
  return out;
}

/** One line: `  images      127.0.0.1:8080/tcp     OCHAMI_IMAGES_PORT (images.port)   kernels, ...`. */
export function describeListener(l: Listener): string {
  const where = `${hostPort(l.address, l.port)}/${l.protocol}${l.device ? ` on ${l.device}` : ""}`;
  return `  ${l.name.padEnd(11)} ${where.padEnd(26)} ${l.setting.padEnd(42)} ${l.why}`;
}

/** The line for a port another process holds. */
export function takenLine(l: Listener): string {
  return `port ${l.port}/${l.protocol} on ${l.address} (${l.name}) is already in use by another process: set ${l.setting} to a free port`;
}

/** Why a listener cannot be opened now (its port taken, or privileged), or undefined when it can. */
function probe(l: Listener): Promise<NodeJS.ErrnoException | undefined> {
  if (!l.probe || l.port === 0) return Promise.resolve(undefined);
  return new Promise((resolve) => {
    if (l.protocol === "tcp") {
      const server = createServer();
      server.once("error", (err: NodeJS.ErrnoException) => resolve(err));
      server.listen({ host: l.address, port: l.port, exclusive: true }, () => server.close(() => resolve(undefined)));
    } else {
      const socket = createSocket(l.address.includes(":") ? "udp6" : "udp4");
      socket.once("error", (err: NodeJS.ErrnoException) => {
        socket.close();
        resolve(err);
      });
      socket.bind({ address: l.address, port: l.port, exclusive: true }, () => socket.close(() => resolve(undefined)));
    }
  });
}

/** One line per listener that cannot be opened, naming the setting to change; empty when all can. */
export async function checkListeners(listeners: Listener[]): Promise<string[]> {
  const problems: string[] = [];
  for (const l of listeners) {
    const err = await probe(l);
    if (!err) continue;
    if (err.code === "EADDRINUSE") problems.push(takenLine(l));
    else if (err.code === "EACCES")
      problems.push(
        `port ${l.port}/${l.protocol} (${l.name}) needs root or CAP_NET_BIND_SERVICE: run as root, grant the capability, or set ${l.setting} to a port above 1023`,
      );
    else if (err.code === "EADDRNOTAVAIL") problems.push(`${l.name} cannot listen on ${l.address}: not an address of this machine`);
    else problems.push(`${l.name} cannot listen on ${hostPort(l.address, l.port)}/${l.protocol}: ${err.message}`);
  }
  return problems;
}

/**
 * The line for a listen error of the agent's, when it is a port another process took. Node's
 * errors and the DHCP sockets' (bound through libc, shared/libc-socket.ts) alike carry the code,
 * address and port.
 */
export function listenFailure(err: unknown, listeners: Listener[]): string | undefined {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  if (e?.code !== "EADDRINUSE") return undefined;
  const { address, port } = e;
  const l =
    listeners.find((x) => x.port === port && x.address === address) ??
    listeners.find((x) => x.port === port && x.name !== "API") ??
    listeners.find((x) => x.port === port);
  return l ? takenLine(l) : undefined;
}
