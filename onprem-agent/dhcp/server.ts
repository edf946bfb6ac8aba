/**
 * The DHCP server: sockets on the configured interface, decode → decide → encode → send, and the
 * side effects (lease table, inventory refresh on a miss, logs, metrics, boot events).
 *
 * Sockets:
 *  - 0.0.0.0:67 bound to the interface (SO_BINDTODEVICE, netbind.ts): the clients' broadcasts from
 *    that interface only, and every broadcast reply leaves through it;
 *  - <serverAddress>:67: unicast to us — relay agents and renewing clients — from any interface
 *    (relays may sit behind a router on another interface);
 *  - in proxy mode, 0.0.0.0:4011 on the interface: the PXE boot-server port iPXE and firmware use
 *    for their ProxyDHCP REQUEST;
 *  - a raw ICMPv6 socket on the interface answering router solicitations (router-advert.ts), so
 *    iPXE does not wait for an IPv6 router before it fetches its boot file.
 * Replies go out through the socket the request came in on, except broadcasts, which always use
 * the interface socket. Decisions are synchronous (the inventory is in memory), so one packet is
 * fully answered before the next is read.
 *
 * What a client can make happen at will — malformed packets, broadcast/multicast/zero MACs, new
 * pool leases beyond the source's budget — is counted every time but logged at most once per
 * 10 s per kind (LogLimiter). Lease times, the new-lease budget and the log limits follow the
 * clock (a test passes its own).
 */
import type dgram from "node:dgram";
import type { ReportedBootEvent } from "../../shared/boot-events";
import { parseXname } from "../../shared/xname";
import { type Clock, realClock, type TimerHandle } from "../clock";
import type { InventoryView } from "../inventory/reservation";
import type { Logger } from "../log";
import { LogLimiter } from "../log-limit";
import type { AgentMetrics } from "../metrics";
import { type DhcpPacket, decodePacket, encodePacket } from "./codec";
import type { DhcpSettings } from "./config";
import { type Decision, decide } from "./decide";
import { LeaseTable } from "./leases";
import { openBoundSocket } from "./netbind";
import { NewLeaseLimit } from "./new-lease-limit";
import { MessageType, messageTypeName, Opt } from "./options";
import { RouterSolicitationResponder } from "./router-advert";

export interface DhcpServerDeps {
  settings: DhcpSettings;
  inventory: InventoryView & { onMiss?(mac: string): void; missRefresh?(mac: string): Promise<void> | undefined };
  log: Logger;
  metrics?: AgentMetrics;
  report?: (e: ReportedBootEvent) => void;
  /** "problems": log only drops, NAKs and errors at info; everything else at debug. */
  logDecisions?: "all" | "problems";
  clock?: Clock;
}

/** Room for about two seconds of a storm of several thousand packets a second (see netbind.ts). */
const RECEIVE_BUFFER = 8 << 20;
/** DISCOVERs from unknown MACs wait at most this long for an inventory refresh... */
const MISS_WAIT_MS = 2000;
/** ...and at most this many wait at once; beyond that they are answered from the current copy. */
const MAX_WAITING = 1000;

export class DhcpServer {
  readonly leases = new LeaseTable();
  readonly newLeases: NewLeaseLimit;
  private waiting = 0;
  private stopped = false;
  private sockets: dgram.Socket[] = [];
  private ifaceSocket?: dgram.Socket;
  private sweepTimer?: TimerHandle;
  private routerSolicitations?: RouterSolicitationResponder;
  private saveTimer?: NodeJS.Timeout;
  private readonly clock: Clock;
  private readonly quiet: LogLimiter;

  constructor(private readonly deps: DhcpServerDeps) {
    this.clock = deps.clock ?? realClock;
    this.quiet = new LogLimiter(this.clock);
    this.newLeases = new NewLeaseLimit(deps.settings.bootloop.newLeasesPerMinute);
    if (deps.metrics) deps.metrics.probes.dhcpPoolLeases = () => this.leases.inUse(this.now());
  }

  private now(): number {
    return this.clock.now();
  }

  get settings(): DhcpSettings {
    return this.deps.settings;
  }

  async start(): Promise<void> {
    const s = this.deps.settings;
    const log = this.deps.log;
    if (s.bootloop.leaseFile) {
      const n = this.leases.load(s.bootloop.leaseFile, this.now());
      if (n) log.info({ leases: n, file: s.bootloop.leaseFile }, "bootloop leases restored");
    }
    try {
      this.ifaceSocket = await openBoundSocket({
        address: "0.0.0.0",
        port: s.serverPort,
        device: s.interface,
        broadcast: true,
        receiveBuffer: RECEIVE_BUFFER,
      });
      this.listen(this.ifaceSocket, s.serverPort);
      try {
        this.listen(await openBoundSocket({ address: s.serverId, port: s.serverPort, receiveBuffer: RECEIVE_BUFFER }), s.serverPort);
      } catch (err) {
        log.warn(
          { err: (err as Error).message, address: s.serverId },
          "no unicast DHCP socket (relays and unicast renewals will not reach us)",
        );
      }
      if (s.mode === "proxy" && s.proxyPort)
        this.listen(await openBoundSocket({ address: "0.0.0.0", port: s.proxyPort, device: s.interface, broadcast: true }), s.proxyPort);
    } catch (err) {
      this.stop();
      throw err;
    }
    if (s.answerRouterSolicitations) {
      this.routerSolicitations = new RouterSolicitationResponder({
        interface: s.interface,
        log,
        metrics: this.deps.metrics,
        clock: this.clock,
      });
      this.routerSolicitations.start();
    }
    this.sweepTimer = this.clock.setInterval(() => {
      this.leases.sweep(this.now());
      this.newLeases.sweep(this.now());
    }, 60_000);
    log.info(
      {
        interface: s.interface,
        serverId: s.serverId,
        mode: s.mode,
        port: s.serverPort,
        subnets: s.subnets.length,
        unknownClients: s.unknownClients,
      },
      "DHCP server listening",
    );
  }

  stop(): void {
    this.stopped = true;
    this.clock.clear(this.sweepTimer);
    this.routerSolicitations?.stop();
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveLeases();
    }
    for (const sock of this.sockets) {
      try {
        sock.close();
      } catch {
        // already closed
      }
    }
    this.sockets = [];
  }

  private listen(sock: dgram.Socket, localPort: number): void {
    this.sockets.push(sock);
    sock.on("message", (msg, rinfo) => this.handle(msg, rinfo, sock, localPort));
    sock.on("error", (err: NodeJS.ErrnoException & { address?: string }) => {
      // A reply's send that failed after the call returned arrives here (sends take no callback).
      if (err.syscall === "send") {
        this.deps.metrics?.dhcpErrors.inc({ stage: "send" });
        this.deps.log.warn({ to: err.address, err: err.message }, "DHCP reply not sent");
        return;
      }
      this.deps.log.error({ err: err.message }, "DHCP socket error");
    });
  }

  /** Never throws: every failure is a logged drop. */
  handle(msg: Buffer, rinfo: { address: string; port: number }, sock: dgram.Socket, localPort: number): void {
    const { log, metrics } = this.deps;
    let packet: DhcpPacket;
    try {
      packet = decodePacket(msg);
    } catch (err) {
      metrics?.dhcpPackets.inc({ type: "unknown", decision: "malformed" });
      const suppressed = this.quiet.admit("malformed");
      if (suppressed !== undefined)
        log.warn(
          { from: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, reason: (err as Error).message, suppressed },
          "DHCP packet malformed, dropped",
        );
      return;
    }
    this.process(packet, rinfo, sock, localPort, false);
  }

  /**
   * A DISCOVER from a MAC the cache does not know waits (briefly) for a fresh copy of SMD, so a
   * node added a moment ago gets its reserved address on its first DISCOVER, not its second.
   */
  private waitForInventory(
    packet: DhcpPacket,
    rinfo: { address: string; port: number },
    sock: dgram.Socket,
    localPort: number,
    mac: string,
  ): boolean {
    if (this.waiting >= MAX_WAITING || packet.options.get(Opt.MessageType)?.[0] !== MessageType.Discover) return false;
    const refresh = this.deps.inventory.missRefresh?.(mac);
    if (!refresh) return false;
    this.waiting++;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((r) => (timer = setTimeout(r, MISS_WAIT_MS)));
    void Promise.race([refresh, timeout]).then(() => {
      clearTimeout(timer);
      this.waiting--;
      this.process(packet, rinfo, sock, localPort, true);
    });
    return true;
  }

  private process(
    packet: DhcpPacket,
    rinfo: { address: string; port: number },
    sock: dgram.Socket,
    localPort: number,
    retried: boolean,
  ): void {
    if (this.stopped) return; // a DISCOVER that waited for the inventory while we shut down
    const { log, metrics } = this.deps;
    let d: Decision;
    try {
      d = decide(
        { packet, localPort, source: rinfo },
        { settings: this.deps.settings, inventory: this.deps.inventory, leases: this.leases, now: this.now(), newLeases: this.newLeases },
      );
    } catch (err) {
      metrics?.dhcpErrors.inc({ stage: "decide" });
      log.error({ err: (err as Error).stack, from: rinfo.address }, "DHCP decision failed, packet dropped");
      return;
    }
    if (d.inventoryMiss && d.info && !retried && this.waitForInventory(packet, rinfo, sock, localPort, d.info.mac)) return;
    this.applyLeaseOps(d);
    const type = d.info?.type ?? messageTypeName[packet.options.get(Opt.MessageType)?.[0] ?? 0] ?? "unknown";
    if (d.inventoryMiss && d.info) this.deps.inventory.onMiss?.(d.info.mac);
    if (d.action === "drop") {
      if (d.ignored) {
        this.ignored(d, type);
        return;
      }
      metrics?.dhcpPackets.inc({ type, decision: "drop" });
      log.info({ ...d.info, decision: "drop", reason: d.reason }, "DHCP drop");
      return;
    }
    if (d.newLeaseFrom) this.newLeases.spend(d.newLeaseFrom, this.now());
    let bytes: Buffer;
    try {
      bytes = encodePacket(d.reply, { maxMessageSize: d.maxMessageSize, droppable: d.droppable });
    } catch (err) {
      metrics?.dhcpErrors.inc({ stage: "encode" });
      log.warn({ ...d.info, reason: (err as Error).message }, "DHCP reply could not be encoded, dropped");
      return;
    }
    const out = d.to.broadcast && this.ifaceSocket ? this.ifaceSocket : sock;
    try {
      // No callback: one less closure and tick per reply at storm rates; a send that fails
      // later is reported by the socket's "error" event (listen()).
      out.send(bytes, d.to.port, d.to.address);
    } catch (err) {
      metrics?.dhcpErrors.inc({ stage: "send" });
      log.warn({ ...d.info, to: d.to.address, err: (err as Error).message }, "DHCP reply not sent");
      return;
    }
    metrics?.dhcpPackets.inc({ type, decision: d.kind.toLowerCase() });
    const entry = { ...d.info, decision: d.kind, reason: d.reason, to: `${d.to.address}:${d.to.port}` };
    if (this.deps.logDecisions === "problems" && d.kind !== "NAK") log.debug(entry, "DHCP reply");
    else log.info(entry, "DHCP reply");
    if (this.deps.report && (d.kind === "ACK" || d.info.bootloop)) {
      const detail = `${d.info.bootloop ? "bootloop " : ""}${d.kind}${d.info.ip && d.kind !== "NAK" ? ` ${d.info.ip}` : ""}${d.info.bootfile ? ` file=${d.info.bootfile}` : ""}${d.kind === "NAK" ? `: ${d.reason}` : ""}`;
      // The history API takes xnames only; SMD IDs that are not (some sites use opaque IDs) are left out.
      const name = d.info.xname && parseXname(d.info.xname) ? d.info.xname : undefined;
      this.deps.report({ mac: d.info.mac, ip: d.info.ip, name, endpoint: "dhcp", epoch_ms: this.now(), detail });
    }
  }

  /** A drop a client can cause at will: always counted, logged at most once per interval per kind. */
  private ignored(d: Extract<Decision, { action: "drop" }>, type: string): void {
    const { log, metrics } = this.deps;
    const ignored = d.ignored!;
    const kind = "invalidMac" in ignored ? "invalid_mac" : "pool_limited";
    metrics?.dhcpPackets.inc({ type, decision: kind });
    if ("poolLimited" in ignored) metrics?.dhcpNewLeasesRefused.inc({ source: ignored.poolLimited });
    const suppressed = this.quiet.admit("poolLimited" in ignored ? `${kind} ${ignored.poolLimited}` : kind);
    if (suppressed !== undefined) log.warn({ ...d.info, decision: kind, reason: d.reason, suppressed }, "DHCP packet ignored");
  }

  private applyLeaseOps(d: Decision): void {
    if (!d.leaseOps.length) return;
    for (const op of d.leaseOps) this.leases.apply(op);
    if (this.deps.settings.bootloop.leaseFile && !this.saveTimer) {
      this.saveTimer = setTimeout(() => {
        this.saveTimer = undefined;
        this.saveLeases();
      }, 1000);
      this.saveTimer.unref();
    }
  }

  private saveLeases(): void {
    const file = this.deps.settings.bootloop.leaseFile;
    if (!file) return;
    try {
      this.leases.save(file);
    } catch (err) {
      this.deps.log.warn({ err: (err as Error).message, file }, "could not save bootloop leases");
    }
  }
}
