/**
 * Answers IPv6 router solicitations on the boot interface with a router advertisement that
 * configures nothing, so that iPXE stops waiting for one.
 *
 * Why: iPXE's autoboot starts every configuration method it was built with (DHCPv4 and, in builds
 * with IPv6, router discovery) and fetches the boot file only when all of them have finished.
 * IPv6 is in QEMU's iPXE ROMs and in every iPXE EFI build since November 2018. Router discovery
 * that nobody answers gives up when its retry timer runs out: after 0.25+0.5+1+2+4+8 = 15.75 s up
 * to iPXE 1.20, after 0.125+0.25+0.5+1+2 ≈ 3.9 s since iPXE 1.21. On an IPv4-only boot network
 * every node spent that time between its DHCP ACK and its bootscript request. iPXE takes the
 * first advertisement that arrives while it solicits and finishes router discovery at once.
 *
 * The advertisement: router lifetime 0 (RFC 4861 §4.2: not a default router), no M/O flags (no
 * DHCPv6), no options (no prefix, so no address is formed from it). A host that gets it changes
 * nothing. It goes unicast to the solicitor, as radvd does by default (RFC 7772 §5.1), after a
 * random delay of at most MAX_RA_DELAY_TIME, 0.5 s (RFC 4861 §6.2.6); a solicitation from the
 * unspecified address is answered to all nodes, at most once per MIN_DELAY_BETWEEN_RAS, 3 s.
 * Solicitations waiting for their answer are bounded; beyond that they are dropped and counted.
 *
 * Only solicitations from link-local (or unspecified) sources are answered: routers never forward
 * packets with a link-local source (RFC 4291 §2.5.6), so these come from the boot link itself.
 * That stands in for RFC 4861's hop-limit-255 check, which needs the packet's IPv6 header (raw
 * ICMPv6 sockets deliver the ICMPv6 message only). The kernel checks the ICMPv6 checksum.
 *
 * The socket: raw ICMPv6 through libc (koffi; Node has no raw sockets), bound to the interface,
 * filtered in the kernel to router solicitations, member of ff02::2 (all routers). Node cannot
 * watch such a descriptor, so it is read without blocking every POLL_MS; that delay is well
 * inside the random delay the RFC asks for anyway. A site whose boot network has its own IPv6
 * router turns this off (dhcp.answerRouterSolicitations), so iPXE waits for that router's
 * advertisement (and its prefix) instead of taking ours.
 */
import { isIPv6 } from "node:net";
import ipaddr from "ipaddr.js";
import koffi from "koffi";
import { AF_INET6, check, int32, loadLibc, SOCK_CLOEXEC, SOCK_NONBLOCK, SOL_SOCKET } from "../../shared/libc-socket";
import { type Clock, realClock, type TimerHandle } from "../clock";
import type { Logger } from "../log";
import { LogLimiter } from "../log-limit";
import type { AgentMetrics } from "../metrics";

const SOCK_RAW = 3;
const IPPROTO_IPV6 = 41;
const IPPROTO_ICMPV6 = 58;
const SO_BINDTODEVICE = 25;
const IPV6_UNICAST_HOPS = 16;
const IPV6_MULTICAST_IF = 17;
const IPV6_MULTICAST_HOPS = 18;
const IPV6_MULTICAST_LOOP = 19;
const IPV6_JOIN_GROUP = 20;
const ICMP6_FILTER = 1;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;

export const ROUTER_SOLICITATION = 133;
export const ROUTER_ADVERTISEMENT = 134;
/** RFC 4861 §10. */
const MAX_RA_DELAY_MS = 500;
const MIN_DELAY_BETWEEN_RAS_MS = 3000;
const POLL_MS = 50;
/** Packets read per poll at most; the kernel drops what does not fit its socket buffer. */
const READ_BURST = 256;
/** Distinct solicitors waiting for their answer at most (a spray from random sources is dropped). */
const MAX_PENDING = 1024;

/**
 * The advertisement (RFC 4861 §4.2): type 134, code 0, checksum (the kernel fills it in), current
 * hop limit 0 (unspecified), flags 0, router lifetime 0, reachable time 0, retransmission timer 0.
 */
export const EMPTY_ROUTER_ADVERTISEMENT: Buffer = Buffer.from([ROUTER_ADVERTISEMENT, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

/** Where the answer to one received ICMPv6 message goes: the solicitor, all nodes, or nowhere (with why). */
export function answerTo(icmp: Buffer, source: string): { to: string } | { drop: string } {
  if (icmp.length < 8) return { drop: `${icmp.length}-byte message is shorter than a router solicitation` };
  if (icmp[0] !== ROUTER_SOLICITATION) return { drop: `ICMPv6 type ${icmp[0]} is not a router solicitation` };
  if (icmp[1] !== 0) return { drop: `router solicitation with code ${icmp[1]}` };
  // Options (RFC 4861 §4.6): type, length in units of 8 bytes (0 is invalid), value.
  let sourceLinkLayer = false;
  for (let i = 8; i < icmp.length; ) {
    if (i + 2 > icmp.length || icmp[i + 1] === 0 || i + icmp[i + 1] * 8 > icmp.length)
      return { drop: "router solicitation with a malformed option" };
    if (icmp[i] === 1) sourceLinkLayer = true;
    i += icmp[i + 1] * 8;
  }
  if (!isIPv6(source)) return { drop: `source ${source} is not an IPv6 address` };
  const range = ipaddr.IPv6.parse(source).range();
  if (range === "unspecified") {
    if (sourceLinkLayer) return { drop: "router solicitation from :: with a source link-layer option" };
    return { to: "ff02::1" };
  }
  if (range !== "linkLocal") return { drop: `source ${source} is not link-local` };
  return { to: source };
}

interface RawLibc {
  recvfrom: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: Buffer) => number;
  sendto: (fd: number, buf: Buffer, len: number, flags: number, addr: Buffer, addrlen: number) => number;
  ifNameToIndex: (name: string) => number;
}

let raw: RawLibc | undefined;
function rawLibc(): RawLibc {
  if (raw) return raw;
  loadLibc();
  const lib = koffi.load("libc.so.6");
  raw = {
    recvfrom: lib.func("long recvfrom(int, uint8_t *buf, size_t, int, uint8_t *addr, uint32_t *addrlen)"),
    sendto: lib.func("long sendto(int, const uint8_t *, size_t, int, const uint8_t *, uint32_t)"),
    ifNameToIndex: lib.func("unsigned int if_nametoindex(const char *)"),
  };
  return raw;
}

/** struct sockaddr_in6 with a scope (interface index). */
function sockaddrIn6(address: string, scopeId: number): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  Buffer.from(ipaddr.IPv6.parse(address).toByteArray()).copy(b, 8);
  b.writeUInt32LE(scopeId, 24);
  return b;
}

export interface RouterSolicitationDeps {
  interface: string;
  log: Logger;
  metrics?: AgentMetrics;
  clock?: Clock;
  /** [0, 1): the share of MAX_RA_DELAY_TIME an answer waits. */
  random?: () => number;
}

export class RouterSolicitationResponder {
  private fd = -1;
  private ifindex = 0;
  private pollTimer?: TimerHandle;
  private readonly pending = new Map<string, TimerHandle>();
  private lastMulticast = Number.NEGATIVE_INFINITY;
  private readonly clock: Clock;
  private readonly quiet: LogLimiter;
  private readonly buf = Buffer.alloc(1500);
  private readonly from = Buffer.alloc(28);
  private readonly fromLen = Buffer.alloc(4);

  /** Advertisements sent. */
  answered = 0;

  constructor(private readonly deps: RouterSolicitationDeps) {
    this.clock = deps.clock ?? realClock;
    this.quiet = new LogLimiter(this.clock);
  }

  /**
   * Opens the socket. Never throws: without IPv6 on the interface (or without root) nothing can be
   * answered, which costs each iPXE node its router-discovery timeout, so it says that and goes on.
   */
  start(): boolean {
    const dev = this.deps.interface;
    const at = { address: `ICMPv6 on ${dev}`, port: 0 };
    try {
      const c = loadLibc();
      const r = rawLibc();
      this.ifindex = r.ifNameToIndex(dev);
      if (!this.ifindex) throw new Error(`no interface ${dev}`);
      const fd = c.socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
      check(fd, "socket(AF_INET6, SOCK_RAW, ICMPv6) for", at);
      const name = Buffer.alloc(16);
      name.write(dev, "ascii");
      check(c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, 16), "setsockopt(SO_BINDTODEVICE) for", at, fd);
      // Linux's ICMP6_FILTER: a set bit blocks that type; pass router solicitations only.
      const filter = Buffer.alloc(32, 0xff);
      filter.writeUInt32LE((0xffffffff & ~(1 << (ROUTER_SOLICITATION & 31))) >>> 0, (ROUTER_SOLICITATION >> 5) * 4);
      check(c.setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, filter, 32), "setsockopt(ICMP6_FILTER) for", at, fd);
      // Receivers drop neighbor discovery messages whose hop limit is not 255 (RFC 4861 §6.1.2).
      check(c.setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, int32(255), 4), "setsockopt(IPV6_UNICAST_HOPS) for", at, fd);
      check(c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, int32(255), 4), "setsockopt(IPV6_MULTICAST_HOPS) for", at, fd);
      check(c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, int32(this.ifindex), 4), "setsockopt(IPV6_MULTICAST_IF) for", at, fd);
      check(c.setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, int32(0), 4), "setsockopt(IPV6_MULTICAST_LOOP) for", at, fd);
      const group = Buffer.alloc(20);
      Buffer.from(ipaddr.IPv6.parse("ff02::2").toByteArray()).copy(group, 0);
      group.writeInt32LE(this.ifindex, 16);
      check(c.setsockopt(fd, IPPROTO_IPV6, IPV6_JOIN_GROUP, group, 20), "joining ff02::2 (is IPv6 disabled on the interface?) for", at, fd);
      this.fd = fd;
    } catch (err) {
      this.deps.log.warn(
        { interface: dev, err: (err as Error).message },
        "cannot answer IPv6 router solicitations: iPXE builds with IPv6 wait 4-16 s for a router advertisement before they fetch the boot file (enable IPv6 on the boot interface, or run a router advertisement daemon there)",
      );
      return false;
    }
    this.pollTimer = this.clock.setInterval(() => this.poll(), POLL_MS);
    this.deps.log.info({ interface: dev }, "answering IPv6 router solicitations (router lifetime 0, no prefix)");
    return true;
  }

  stop(): void {
    this.clock.clear(this.pollTimer);
    this.pollTimer = undefined;
    for (const t of this.pending.values()) this.clock.clear(t);
    this.pending.clear();
    if (this.fd >= 0) loadLibc().close(this.fd);
    this.fd = -1;
  }

  /** Reads what the kernel queued, without blocking. */
  private poll(): void {
    const r = rawLibc();
    for (let i = 0; i < READ_BURST && this.fd >= 0; i++) {
      this.fromLen.writeUInt32LE(this.from.length);
      const n = Number(r.recvfrom(this.fd, this.buf, this.buf.length, MSG_DONTWAIT, this.from, this.fromLen));
      if (n < 0) {
        const errno = loadLibc().errno();
        if (errno !== EAGAIN) this.problem("receive", `recvfrom failed: ${loadLibc().strerror(errno)}`);
        return;
      }
      const source = ipaddr.fromByteArray([...this.from.subarray(8, 24)]).toString();
      this.received(Buffer.from(this.buf.subarray(0, n)), source);
    }
  }

  /** One ICMPv6 message from `source`; public so a test can feed it. */
  received(icmp: Buffer, source: string): void {
    const a = answerTo(icmp, source);
    if ("drop" in a) {
      this.count("drop");
      this.problem("drop", a.drop, source);
      return;
    }
    if (this.pending.has(a.to)) return; // one answer covers every solicitation waiting for it
    if (this.pending.size >= MAX_PENDING) {
      this.count("limited");
      this.problem("limited", `more than ${MAX_PENDING} solicitors waiting for an answer`, source);
      return;
    }
    let delay = (this.deps.random ?? Math.random)() * MAX_RA_DELAY_MS;
    if (a.to === "ff02::1") delay = Math.max(delay, this.lastMulticast + MIN_DELAY_BETWEEN_RAS_MS - this.clock.now());
    this.pending.set(
      a.to,
      this.clock.setTimeout(() => this.send(a.to), delay),
    );
  }

  private send(to: string): void {
    this.pending.delete(to);
    if (this.fd < 0) return;
    const addr = sockaddrIn6(to, this.ifindex);
    const n = Number(rawLibc().sendto(this.fd, EMPTY_ROUTER_ADVERTISEMENT, EMPTY_ROUTER_ADVERTISEMENT.length, 0, addr, addr.length));
    if (n < 0) {
      const c = loadLibc();
      this.count("error");
      this.problem("send", `router advertisement to ${to} not sent: ${c.strerror(c.errno())}`);
      return;
    }
    if (to === "ff02::1") this.lastMulticast = this.clock.now();
    this.answered++;
    this.count("ra");
    this.deps.log.debug({ to }, "router advertisement sent");
  }

  private count(decision: string): void {
    this.deps.metrics?.dhcpPackets.inc({ type: "ICMPV6-RS", decision });
  }

  private problem(kind: string, reason: string, source?: string): void {
    const suppressed = this.quiet.admit(`rs-${kind}`);
    if (suppressed !== undefined)
      this.deps.log.warn({ interface: this.deps.interface, source, reason, suppressed }, "router solicitation not answered");
  }
}
