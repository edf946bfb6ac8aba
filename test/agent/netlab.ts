/**
 * Network namespaces and veth pairs for agent tests (root only: tests using them declare it with
 * test/support/requirements.ts; CI runs as root). Every name
 * starts with the caller's prefix, every address is in 10.61.0.0/16, and everything created is
 * removed by `destroy()` (and leftovers of a crashed run by the constructor's `reset()`).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { waitFor } from "../support/wait";

const exec = promisify(execFile);

export async function run(
  cmd: string,
  args: string[],
  opts: { allowFail?: boolean; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await exec(cmd, args, { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 64 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    if (!opts.allowFail) throw new Error(`${cmd} ${args.join(" ").slice(0, 300)} failed: ${(e.stderr || e.message).slice(0, 2000)}`);
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? e.message };
  }
}

export class NetLab {
  private namespaces = new Set<string>();
  private hostLinks = new Set<string>();

  /** ip netns exec <ns> cmd args */
  inNs(ns: string, cmd: string, args: string[], opts?: { allowFail?: boolean; timeoutMs?: number }) {
    return run("ip", ["netns", "exec", ns, cmd, ...args], opts);
  }

  spawnInNs(ns: string, cmd: string, args: string[]): ChildProcess {
    return spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  }

  async ns(name: string): Promise<void> {
    await run("ip", ["netns", "del", name], { allowFail: true });
    await run("ip", ["netns", "add", name]);
    this.namespaces.add(name);
    await this.inNs(name, "ip", ["link", "set", "lo", "up"]);
  }

  /**
   * A veth pair: `outer` stays in `outerNs` (undefined: the test's own namespace, i.e. the head
   * node), `inner` goes into `innerNs`. IPv6 is off on both so only our traffic flows.
   */
  async veth(o: {
    outer: string;
    outerNs?: string;
    outerCidr?: string;
    inner: string;
    innerNs: string;
    innerCidr?: string;
    innerMac?: string;
  }): Promise<void> {
    if (!this.namespaces.has(o.innerNs)) await this.ns(o.innerNs);
    if (o.outerNs && !this.namespaces.has(o.outerNs)) await this.ns(o.outerNs);
    await run("ip", ["link", "del", o.outer], { allowFail: true });
    await run("ip", ["link", "add", o.outer, "type", "veth", "peer", "name", o.inner]);
    if (!o.outerNs) this.hostLinks.add(o.outer);
    await run("ip", ["link", "set", o.inner, "netns", o.innerNs]);
    if (o.outerNs) await run("ip", ["link", "set", o.outer, "netns", o.outerNs]);
    const outer = (cmd: string[]) => (o.outerNs ? this.inNs(o.outerNs, cmd[0], cmd.slice(1)) : run(cmd[0], cmd.slice(1)));
    const inner = (cmd: string[]) => this.inNs(o.innerNs, cmd[0], cmd.slice(1));
    await outer(["sysctl", "-qw", `net.ipv6.conf.${o.outer}.disable_ipv6=1`]);
    await inner(["sysctl", "-qw", `net.ipv6.conf.${o.inner}.disable_ipv6=1`]);
    if (o.outerCidr) await outer(["ip", "addr", "add", o.outerCidr, "dev", o.outer]);
    if (o.innerMac) await inner(["ip", "link", "set", o.inner, "address", o.innerMac]);
    if (o.innerCidr) await inner(["ip", "addr", "add", o.innerCidr, "dev", o.inner]);
    await outer(["ip", "link", "set", o.outer, "up"]);
    await inner(["ip", "link", "set", o.inner, "up"]);
  }

  async destroy(): Promise<void> {
    for (const l of this.hostLinks) await run("ip", ["link", "del", l], { allowFail: true });
    for (const n of this.namespaces) await run("ip", ["netns", "del", n], { allowFail: true });
    this.hostLinks.clear();
    this.namespaces.clear();
  }
}

const PEER = path.join(import.meta.dirname, "udp-peer.mjs");
const MARKER_MAC = "02:00:00:00:00:fe";

/** 10.61.2.1/24 → 10.61.2.254: the last host address of the interface's subnet (free in our labs). */
function lastHost(cidr: string): string {
  const [addr, bits] = cidr.split("/");
  const n = addr.split(".").reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  const last = n - (n % size) + size - 2;
  return [24, 16, 8, 0].map((s) => Math.floor(last / 2 ** s) % 256).join(".");
}

/**
 * Packets captured by tcpdump on an interface (in the head node's namespace or in `ns`).
 *
 * stop() first sends a marker datagram out of the interface (from its address to port 9 of an
 * unused address in its subnet, with a static neighbour entry so it leaves without ARP) and waits
 * until the capture prints it. Packets leave an interface in order, so anything sent there before
 * the marker has been captured by then: a test asserting that nothing matching was sent asserts
 * it on a capture shown to be live and caught up, not after a pause. The marker is left out of
 * what stop() returns.
 */
export class Capture {
  private proc?: ChildProcess;
  private out = "";
  private source = "";
  private marker = "";
  constructor(
    private readonly iface: string,
    private readonly filter: string,
    private readonly ns?: string,
  ) {}

  private run(cmd: string, args: string[], opts?: { allowFail?: boolean }) {
    return this.ns ? run("ip", ["netns", "exec", this.ns, cmd, ...args], opts) : run(cmd, args, opts);
  }

  private get markerLine(): string {
    return `> ${this.marker}.9:`;
  }

  async start(): Promise<void> {
    const cidr = /inet (\S+)/.exec((await this.run("ip", ["-4", "-o", "addr", "show", "dev", this.iface])).stdout)?.[1];
    if (!cidr) throw new Error(`${this.iface} has no IPv4 address to send the capture's marker from`);
    this.source = cidr.split("/")[0];
    this.marker = lastHost(cidr);
    await this.run("ip", ["neigh", "replace", this.marker, "lladdr", MARKER_MAC, "dev", this.iface, "nud", "permanent"]);
    const filter = `(${this.filter}) or (udp and dst host ${this.marker} and dst port 9)`;
    const args = ["-l", "-n", "--immediate-mode", "-i", this.iface, "-e", filter];
    this.proc = this.ns
      ? spawn("ip", ["netns", "exec", this.ns, "tcpdump", ...args], { stdio: ["ignore", "pipe", "pipe"] })
      : spawn("tcpdump", args, { stdio: ["ignore", "pipe", "pipe"] });
    this.proc.stdout!.on("data", (d: Buffer) => (this.out += d.toString()));
    // tcpdump says "listening on" on stderr once the capture is live.
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("tcpdump did not start")), 10_000);
      this.proc!.stderr!.on("data", (d: Buffer) => {
        if (d.toString().includes("listening on")) {
          clearTimeout(t);
          resolve();
        }
      });
      this.proc!.on("exit", () => reject(new Error("tcpdump exited")));
    });
  }

  async stop(): Promise<string[]> {
    const spec = { bind: { address: this.source, port: 0 }, to: { address: this.marker, port: 9 }, packets: ["6d61726b6572"], waitMs: 0 };
    await this.run(process.execPath, [PEER, JSON.stringify(spec)]);
    await waitFor(
      () => this.out.includes(this.markerLine),
      10_000,
      () => `the marker packet in the capture on ${this.iface}:\n${this.out}`,
    );
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc!.once("exit", r));
      this.proc.kill("SIGINT");
      await exited;
    }
    await this.run("ip", ["neigh", "del", this.marker, "dev", this.iface], { allowFail: true });
    return this.out.split("\n").filter((l) => l && !l.includes(this.markerLine));
  }
}
