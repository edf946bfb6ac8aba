/**
 * UDP sockets bound to one network interface (SO_BINDTODEVICE), for a DHCP server on a
 * multi-homed head node.
 *
 * Why this exists: a DHCP server must receive the clients' 255.255.255.255 broadcasts, which on
 * Linux only a socket bound to 0.0.0.0 gets; such a socket hears every interface, and Node's dgram
 * has neither SO_BINDTODEVICE nor IP_PKTINFO to tell them apart or to choose where a broadcast
 * reply leaves. ISC dhcpd and dnsmasq solve this with SO_BINDTODEVICE; so do we.
 *
 * How: libc's socket/setsockopt/bind through koffi (shared/libc-socket.ts), and the finished
 * descriptor is handed to Node with the public `dgram` API `socket.bind({ fd })`. The socket is
 * bound to the device *before* bind(), so not one packet from another interface is ever queued
 * (setting the option on Node's own socket after bind() would leave a window). A native addon
 * built with node-gyp would do the same with a compiler at install time; a per-interface network
 * namespace or raw sockets would make deployment far heavier.
 */
import dgram from "node:dgram";
import { isIPv4 } from "node:net";
import {
  AF_INET,
  check,
  int32,
  loadLibc,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
  SOCK_NONBLOCK,
  SOL_SOCKET,
  sockaddr,
} from "../../shared/libc-socket";

const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const IFNAMSIZ = 16;

export interface BoundSocketOptions {
  address: string;
  port: number;
  /** Interface name; omit to receive from every interface (unicast sockets for relays). */
  device?: string;
  broadcast?: boolean;
  /**
   * Receive buffer in bytes. A boot storm sends thousands of packets a second, and each small
   * datagram costs the kernel 1-2 KB of buffer, so the usual 208 KB default overflows within a
   * 100 ms pause of the event loop (a GC, an inventory refresh). As root the limit
   * net.core.rmem_max is lifted with SO_RCVBUFFORCE; otherwise the kernel caps it.
   */
  receiveBuffer?: number;
}

/** Opens the descriptor with libc; exported for tests of the failure paths. */
export function openUdpDescriptor(opts: BoundSocketOptions): number {
  if (!isIPv4(opts.address)) throw new Error(`not an IPv4 address: ${opts.address}`);
  if (opts.device !== undefined && (opts.device.length === 0 || opts.device.length >= IFNAMSIZ))
    throw new Error(`interface name '${opts.device}' must have 1-${IFNAMSIZ - 1} characters`);
  const c = loadLibc();
  const at = { address: opts.address, port: opts.port };
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  check(fd, "socket() for", at);
  check(c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, int32(1), 4), "setsockopt(SO_REUSEADDR) for", at, fd);
  if (opts.broadcast) check(c.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, int32(1), 4), "setsockopt(SO_BROADCAST) for", at, fd);
  if (opts.device !== undefined) {
    const name = Buffer.alloc(IFNAMSIZ);
    name.write(opts.device, "ascii");
    check(c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, IFNAMSIZ), `setsockopt(SO_BINDTODEVICE, ${opts.device}) for`, at, fd);
  }
  if (opts.receiveBuffer) {
    if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int32(opts.receiveBuffer), 4) < 0)
      c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, int32(opts.receiveBuffer), 4); // best effort: capped by rmem_max
  }
  const addr = sockaddr(opts.address, opts.port);
  check(c.bind(fd, addr, addr.length), "bind", at, fd);
  return fd;
}

/** A Node dgram socket on a descriptor prepared as above; resolves once it is listening. */
export async function openBoundSocket(opts: BoundSocketOptions): Promise<dgram.Socket> {
  const fd = openUdpDescriptor(opts);
  const socket = dgram.createSocket({ type: "udp4" });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.bind({ fd }, () => {
      socket.off("error", reject);
      resolve();
    });
  });
  return socket;
}
