/**
 * Network namespaces and veth pairs for agent tests (root only; CI runs as root). Every name
 * starts with the caller's prefix, every address is in 10.61.0.0/16, and everything created is
 * removed by `destroy()` (and leftovers of a crashed run by the constructor's `reset()`).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";

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

export const isRoot = process.getuid?.() === 0;

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

/** Packets captured by tcpdump on an interface (in the head node's namespace or in `ns`). */
export class Capture {
  private proc?: ChildProcess;
  private out = "";
  constructor(
    private readonly iface: string,
    private readonly filter: string,
    private readonly ns?: string,
  ) {}

  async start(): Promise<void> {
    const args = ["-l", "-n", "-i", this.iface, "-e", this.filter];
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
    await new Promise((r) => setTimeout(r, 300));
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc!.once("exit", r));
      this.proc.kill("SIGINT");
      await exited;
    }
    return this.out.split("\n").filter(Boolean);
  }
}
