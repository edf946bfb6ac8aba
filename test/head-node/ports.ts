import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * Where the kernel takes ports for outgoing connections and for listeners on port 0. A port picked
 * there can be taken between the pick and the caller's bind: every connection the suite opens
 * (wrk, fetch, curl, workerd) gets such a local port, and a listener cannot bind one an open
 * connection holds (seen: a stack refusing to start, its metrics port "already in use").
 */
function ephemeralLow(): number {
  try {
    return Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]) || 32_768;
  } catch {
    return 32_768;
  }
}

/** Ports handed out below the ephemeral range: from here up to it. */
const FIRST = 10_000;
const handedOut = new Set<number>();

/**
 * A TCP port that is free on loopback right now, below the kernel's ephemeral range, and not
 * handed out before by this process. Random within the range, so parallel test workers seldom try
 * the same one; it is checked free by binding it.
 */
export async function freePort(): Promise<number> {
  const last = ephemeralLow() - 1;
  if (last - FIRST < 1_000) return kernelPort(); // a host whose ephemeral range starts low
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = FIRST + Math.floor(Math.random() * (last - FIRST + 1));
    if (handedOut.has(port) || !(await bindable(port))) continue;
    handedOut.add(port);
    return port;
  }
  return kernelPort();
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A port the kernel picks (its ephemeral range). */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
