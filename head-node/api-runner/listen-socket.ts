/**
 * The API's TCP listening socket, opened by the runner and handed to each API workerd it starts
 * (`--socket-fd`), so that:
 *  - the port stays the API's while its workerd restarts: nothing else can take it, and a client
 *    that connects in that second waits in the kernel's queue and is answered by the new process
 *    instead of being refused;
 *  - a stop can refuse new connections at once. workerd, told to stop (SIGTERM), stops accepting
 *    but keeps its listening socket open until the last request in flight has finished (each
 *    connection holds its listener), so connections made meanwhile wait unanswered and are reset
 *    when it exits. The runner shuts the socket down (shutdown(2) on a listening socket: the kernel
 *    refuses every new connection) as soon as workerd has stopped accepting; before that it must
 *    not, since workerd treats a failing accept() as fatal.
 *
 * Node cannot create a listening socket without accepting on it, so libc does, through koffi (as
 * the agent's DHCP sockets are made).
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import koffi from "koffi";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SHUT_RD = 0;
const EADDRINUSE = 98;
const EACCES = 13;
/** As Node's own servers: the kernel caps it at net.core.somaxconn. */
const BACKLOG = 511;

interface Libc {
  socket: (domain: number, type: number, protocol: number) => number;
  setsockopt: (fd: number, level: number, name: number, value: Buffer, len: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  listen: (fd: number, backlog: number) => number;
  shutdown: (fd: number, how: number) => number;
  close: (fd: number) => number;
  errno: () => number;
  strerror: (errnum: number) => string;
}

let libc: Libc | undefined;
function loadLibc(): Libc {
  if (libc) return libc;
  const lib = koffi.load("libc.so.6");
  const errnoLocation = lib.func("int *__errno_location(void)");
  libc = {
    socket: lib.func("int socket(int, int, int)"),
    setsockopt: lib.func("int setsockopt(int, int, int, const uint8_t *, uint32_t)"),
    bind: lib.func("int bind(int, const uint8_t *, uint32_t)"),
    listen: lib.func("int listen(int, int)"),
    shutdown: lib.func("int shutdown(int, int)"),
    close: lib.func("int close(int)"),
    errno: () => koffi.decode(errnoLocation(), "int") as number,
    strerror: lib.func("const char *strerror(int)"),
  };
  return libc;
}

/** struct sockaddr_in or sockaddr_in6 (family in host order, port and address in network order). */
function sockaddr(address: string, port: number): Buffer {
  if (isIP(address) === 4) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    for (const [i, octet] of address.split(".").entries()) b.writeUInt8(Number(octet), 4 + i);
    return b;
  }
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  // Expand "::" to the eight 16-bit groups.
  const [head, tail] = address.includes("::") ? address.split("::") : [address, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  for (const [i, g] of groups.entries()) b.writeUInt16BE(Number.parseInt(g, 16), 8 + 2 * i);
  return b;
}

export class ListenSocket {
  private closed = false;

  private constructor(
    readonly fd: number,
    readonly address: string,
    readonly port: number,
  ) {}

  /** Binds and listens on host:port; an error carries `code` (EADDRINUSE, EACCES) as Node's do. */
  static async open(host: string, port: number): Promise<ListenSocket> {
    const address = isIP(host) ? host : (await lookup(host)).address;
    if (address.includes("%")) throw new Error(`HOST ${host}: an IPv6 address with a zone is not supported`);
    const c = loadLibc();
    const family = isIP(address) === 4 ? AF_INET : AF_INET6;
    const fd = c.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const fail = (what: string) => {
      const errno = c.errno();
      if (fd >= 0) c.close(fd);
      const err: NodeJS.ErrnoException = new Error(`${what} ${address}:${port}: ${c.strerror(errno)}`);
      err.code = errno === EADDRINUSE ? "EADDRINUSE" : errno === EACCES ? "EACCES" : `errno ${errno}`;
      return err;
    };
    if (fd < 0) throw fail("socket()");
    const one = Buffer.alloc(4);
    one.writeInt32LE(1);
    // Binds again at once after a stop, while the last connections linger in TIME_WAIT.
    if (c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one, 4) < 0) throw fail("setsockopt(SO_REUSEADDR)");
    const addr = sockaddr(address, port);
    if (c.bind(fd, addr, addr.length) < 0) throw fail("bind");
    if (c.listen(fd, BACKLOG) < 0) throw fail("listen");
    return new ListenSocket(fd, address, port);
  }

  /** From now on the kernel refuses new connections; those it queued and nobody accepted are reset. */
  refuse(): void {
    if (!this.closed) loadLibc().shutdown(this.fd, SHUT_RD);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    loadLibc().close(this.fd);
  }
}
