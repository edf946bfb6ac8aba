/**
 * libc's socket calls, for the sockets Node cannot make itself: the agent's DHCP sockets bound to
 * one interface (SO_BINDTODEVICE before bind) and the API's listening socket that `npm start`
 * holds and hands to workerd (listening without accepting). Both programs use this one binding.
 *
 * koffi is a maintained FFI with prebuilt binaries for every platform shipped through npm, so
 * nothing compiles at install time; a native addon built with node-gyp would need a compiler.
 */
import ipaddr from "ipaddr.js";
import koffi from "koffi";

export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_NONBLOCK = 0o4000;
export const SOCK_CLOEXEC = 0o2000000;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;

/** errno values a caller tells apart, named as Node names them in `err.code`. */
const ERRNO_CODES: Record<number, string> = { 13: "EACCES", 98: "EADDRINUSE", 99: "EADDRNOTAVAIL" };

export interface Libc {
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
export function loadLibc(): Libc {
  if (libc) return libc;
  if (process.platform !== "linux") throw new Error("these sockets are made through Linux's libc");
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

/** An int option value for setsockopt. */
export function int32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

/** struct sockaddr_in or sockaddr_in6: family in host order, port and address in network order. */
export function sockaddr(address: string, port: number): Buffer {
  const ip = ipaddr.parse(address);
  const v4 = ip.kind() === "ipv4";
  const b = Buffer.alloc(v4 ? 16 : 28);
  b.writeUInt16LE(v4 ? AF_INET : AF_INET6, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from(ip.toByteArray()).copy(b, v4 ? 4 : 8);
  return b;
}

/**
 * Throws when a libc call failed (rc < 0), closing `fd` if given. The error reads and carries what
 * Node's own socket errors do (`code`, `address`, `port`), so callers handle both alike.
 */
export function check(rc: number, what: string, at: { address: string; port: number }, fd?: number): void {
  if (rc >= 0) return;
  const c = loadLibc();
  const errno = c.errno();
  if (fd !== undefined && fd >= 0) c.close(fd);
  const err: NodeJS.ErrnoException & { address?: string; port?: number } = new Error(
    `${what} ${at.address}:${at.port}: ${c.strerror(errno)} (errno ${errno})`,
  );
  err.errno = errno;
  err.code = ERRNO_CODES[errno] ?? `errno ${errno}`;
  err.address = at.address;
  err.port = at.port;
  throw err;
}
