/**
 * The e2e test's head node: a network namespace with a bridge (the boot network) and tap devices
 * for QEMU, in which `npm start` (its entry point, with the agent) runs exactly as an admin starts
 * it. The test reaches the API from outside the namespace with curl run inside it, as an admin on
 * the head node would. Names start with `e2`, addresses are in 10.64.0.0/16.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import path from "node:path";
import { repoRoot } from "../../shared/head-node-state";
import { run } from "../agent/netlab";
import { ProcessOutput } from "../support/output";

export const NS = "e2-boot";
export const BRIDGE = "e2-br0";
export const HEAD_IP = "10.64.1.1";

export const inNs = (cmd: string, args: string[], opts?: { allowFail?: boolean; timeoutMs?: number }) =>
  run("ip", ["netns", "exec", NS, cmd, ...args], opts);

export async function createBootNetwork(taps: string[]): Promise<void> {
  await run("ip", ["netns", "del", NS], { allowFail: true });
  await run("ip", ["netns", "add", NS]);
  await inNs("ip", ["link", "set", "lo", "up"]);
  await inNs("ip", ["link", "add", BRIDGE, "type", "bridge", "forward_delay", "0"]);
  // The bridge keeps IPv6, as a head node's boot interface does: the agent answers iPXE's router
  // solicitations from its link-local address (else iPXE waits 16 s for a router after DHCP). No
  // duplicate address detection: the bridge gets carrier only when the first VM starts, and the
  // address must be usable at once.
  await inNs("sysctl", ["-qw", `net.ipv6.conf.${BRIDGE}.accept_dad=0`]);
  await inNs("ip", ["addr", "add", `${HEAD_IP}/24`, "dev", BRIDGE]);
  await inNs("ip", ["link", "set", BRIDGE, "up"]);
  for (const tap of taps) {
    await inNs("ip", ["tuntap", "add", tap, "mode", "tap"]);
    await inNs("sysctl", ["-qw", `net.ipv6.conf.${tap}.disable_ipv6=1`]);
    await inNs("ip", ["link", "set", tap, "master", BRIDGE]);
    await inNs("ip", ["link", "set", tap, "up"]);
  }
}

export async function destroyBootNetwork(): Promise<void> {
  await run("ip", ["netns", "del", NS], { allowFail: true });
}

export interface HeadNode {
  proc: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/** `npm start`'s entry point inside the namespace, until the agent reports what it serves. */
export async function startHeadNode(env: NodeJS.ProcessEnv, logFile: string, timeoutMs = 90_000): Promise<HeadNode> {
  const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");
  const proc = spawn("ip", ["netns", "exec", NS, tsx, "head-node/start.ts"], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  const log = createWriteStream(logFile);
  for (const s of [proc.stdout!, proc.stderr!]) s.on("data", (d: Buffer) => log.write(d));
  const output = new ProcessOutput(proc);
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    log.end();
    return proc.exitCode;
  };
  try {
    await output.until(/^agent: /m, timeoutMs, "npm start's agent line");
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, output: () => output.text, stop };
}

/** One HTTP exchange made by curl inside the namespace. */
export async function nsHttp(
  method: string,
  url: string,
  opts: { body?: unknown; token?: string } = {},
): Promise<{ status: number; text: string; json(): any }> {
  const args = ["-sS", "-X", method, "-w", "\n%{http_code}", "--max-time", "30"];
  if (opts.token) args.push("-H", `Authorization: Bearer ${opts.token}`);
  if (opts.body !== undefined) args.push("-H", "Content-Type: application/json", "--data-binary", JSON.stringify(opts.body));
  const r = await inNs("curl", [...args, url]);
  const i = r.stdout.lastIndexOf("\n");
  const text = r.stdout.slice(0, i);
  return { status: Number(r.stdout.slice(i + 1)), text, json: () => JSON.parse(text) };
}

export interface Vm {
  proc: ChildProcess;
  serial(): string;
  exited: Promise<number | null>;
  kill(): void;
}

/**
 * A diskless x86 VM on a tap: QEMU's e1000 with its iPXE option ROM (Debian's ipxe-qemu) boots
 * from the network. TCG unless the machine offers KVM.
 */
export function startVm(o: { tap: string; mac: string; serialLog: string; reboot: boolean; memoryMb?: number }): Vm {
  const args = [
    "-machine",
    "pc,accel=tcg",
    "-m",
    String(o.memoryMb ?? 512),
    "-smp",
    "1",
    "-display",
    "none",
    "-monitor",
    "none",
    "-nodefaults",
    "-vga",
    "none",
    "-serial",
    `file:${o.serialLog}`,
    "-boot",
    "n",
    "-netdev",
    `tap,id=n0,ifname=${o.tap},script=no,downscript=no`,
    "-device",
    `e1000,netdev=n0,mac=${o.mac}`,
  ];
  if (!o.reboot) args.push("-no-reboot");
  const proc = spawn("ip", ["netns", "exec", NS, "qemu-system-x86_64", ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  return {
    proc,
    exited,
    serial: () => {
      try {
        return readFileSync(o.serialLog, "latin1").replace(/\r/g, "") + (stderr ? `\n[qemu stderr] ${stderr}` : "");
      } catch {
        return stderr;
      }
    },
    kill: () => void proc.kill("SIGKILL"),
  };
}

export type Ochami = (args: string[]) => Promise<string>;

/** `ochami` as the admin runs it on the head node, in the boot network's namespace: no configuration; it finds `npm start` through the state directory. */
export function ochamiOnHead(dir: string, stateDir: string): Ochami {
  return async (args) => {
    const r = await inNs(
      "env",
      [
        "-i",
        `PATH=${process.env.PATH}`,
        `HOME=${path.join(dir, "admin-home")}`,
        `OCHAMI_SYSTEM_CONFIG=${path.join(dir, "admin-home", "etc-ochami.yaml")}`,
        `OCHAMI_STATE_DIR=${stateDir}`,
        process.execPath,
        "bin/ochami.mjs",
        ...args,
      ],
      { allowFail: true, timeoutMs: 60_000 },
    );
    if (r.code !== 0) throw new Error(`ochami ${args.join(" ")} failed (exit ${r.code}): ${r.stderr}`);
    return r.stdout;
  };
}
