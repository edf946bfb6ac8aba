/**
 * UDP sockets bound to one network interface (SO_BINDTODEVICE), for a DHCP server on a
 * multi-homed head node.
 *
 * Why this exists: a DHCP server must receive the clients' 255.255.255.255 broadcasts, which on
 * Linux only a socket bound to 0.0.0.0 gets; such a socket hears every interface, and Node's dgram
 * has neither SO_BINDTODEVICE nor IP_PKTINFO to tell them apart or to choose where a broadcast
 * reply leaves. ISC dhcpd and dnsmasq solve this with SO_BINDTODEVICE; so do we.
 *
 * How: koffi (a maintained FFI with prebuilt binaries for every platform shipped through npm, so
 * nothing compiles at install time) calls libc's socket/setsockopt/bind, and the finished
 * descriptor is handed to Node with the public `dgram` API `socket.bind({ fd })`. The socket is
 * bound to the device *before* bind(), so not one packet from another interface is ever queued
 * (setting the option on Node's own socket after bind() would leave a window). A native addon
 * built with node-gyp would do the same with a compiler at install time; a per-interface network
 * namespace or raw sockets would make deployment far heavier.
 */
import dgram from "node:dgram";
import { isIPv4 } from "node:net";
import koffi from "koffi";

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_BROADCAST = 6;
const SO_BINDTODEVICE = 25;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const IFNAMSIZ = 16;

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: Buffer, len: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  close: (fd: number) => number;
  errno: () => number;
  strerror: (errnum: number) => string;
}

let libc: Libc | undefined;
function loadLibc(): Libc {
  if (libc) return libc;
  if (process.platform !== "linux") throw new Error("binding a socket to an interface needs Linux (SO_BINDTODEVICE)");
  const lib = koffi.load("libc.so.6");
  const errnoLocation = lib.func("int *__errno_location(void)");
  libc = {
    socket: lib.func("int socket(int, int, int)"),
    setsockopt: lib.func("int setsockopt(int, int, int, const uint8_t *, uint32_t)"),
    bind: lib.func("int bind(int, const uint8_t *, uint32_t)"),
    close: lib.func("int close(int)"),
    errno: () => koffi.decode(errnoLocation(), "int") as number,
    strerror: lib.func("const char *strerror(int)"),
  };
  return libc;
}

function check(c: Libc, rc: number, what: string, fd?: number): void {
  if (rc >= 0) return;
  const errno = c.errno();
  if (fd !== undefined) c.close(fd);
  throw new Error(`${what}: ${c.strerror(errno)} (errno ${errno})`);
}

function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

/** struct sockaddr_in (16 bytes): family (host order), port and address (network order). */
function sockaddrIn(address: string, port: number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  b.writeUInt16BE(port, 2);
  for (const [i, octet] of address.split(".").entries()) b.writeUInt8(Number(octet), 4 + i);
  return b;
}

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
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  check(c, fd, "socket()");
  check(c, c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, int32(1), 4), "setsockopt(SO_REUSEADDR)", fd);
  if (opts.broadcast) check(c, c.setsockopt(fd, SOL_SOCKET, SO_BROADCAST, int32(1), 4), "setsockopt(SO_BROADCAST)", fd);
  if (opts.device !== undefined) {
    const name = Buffer.alloc(IFNAMSIZ);
    name.write(opts.device, "ascii");
    check(c, c.setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, IFNAMSIZ), `bind to interface ${opts.device}`, fd);
  }
  if (opts.receiveBuffer) {
    if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int32(opts.receiveBuffer), 4) < 0)
      c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, int32(opts.receiveBuffer), 4); // best effort: capped by rmem_max
  }
  check(c, c.bind(fd, sockaddrIn(opts.address, opts.port), 16), `bind ${opts.address}:${opts.port}`, fd);
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
