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
 * Node cannot create a listening socket without accepting on it, so libc does
 * (shared/libc-socket.ts, as for the agent's DHCP sockets).
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import {
  AF_INET,
  AF_INET6,
  check,
  int32,
  loadLibc,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  SOL_SOCKET,
  sockaddr,
} from "../../shared/libc-socket";

const SHUT_RD = 0;
/** As Node's own servers: the kernel caps it at net.core.somaxconn. */
const BACKLOG = 511;

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
    const at = { address, port };
    const fd = c.socket(isIP(address) === 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    check(fd, "socket() for", at);
    // Binds again at once after a stop, while the last connections linger in TIME_WAIT.
    check(c.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, int32(1), 4), "setsockopt(SO_REUSEADDR) for", at, fd);
    const addr = sockaddr(address, port);
    check(c.bind(fd, addr, addr.length), "bind", at, fd);
    check(c.listen(fd, BACKLOG), "listen", at, fd);
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
