/**
 * What test/e2e/os-boot.test.ts and bench/boot.ts share: the node, the admin's setup of it with
 * `ochami` (inventory, boot parameters, cloud-init defaults and the `compute` group), and a clock
 * on the node's serial console.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HEAD_IP, type Ochami, type Vm } from "./boot-lab";
import { osKernelParams } from "./os-image";

export const OS_NODE = { xname: "x1000c0s0b0n0", nid: 1, mac: "52:54:00:64:03:01", ip: "10.64.1.31", tap: "e2-tap0" };
export const IMAGES_URL = `http://${HEAD_IP}:8080`;
export const NODE_PROXY_URL = `http://${HEAD_IP}:8082`;
/** Memory of the VM: dracut keeps the downloaded squashfs in RAM, under a tmpfs overlay. */
export const OS_VM_MIB = 1024;

/** What the group file writes, base64-encoded in the cloud-config, and where. */
export const GROUP_FILE = {
  path: "/etc/ochami/hello.txt",
  content: "written by cloud-init from the compute group\n",
  owner: "nobody:nogroup",
  mode: "640",
};
export const RUNCMD_MARK = "/run/ochami-runcmd";

/** The agent's settings for the boot network of boot-lab.ts. */
export const AGENT_YAML = `dhcp:
  interface: e2-br0
  domain: cluster.test
inventory: {refreshInterval: 10s, missRefreshInterval: 0.5s}
bootEvents: {interval: 0.2s}
log: {level: info}
`;

const NODES_YAML = `bmcs:
- name: bmc${OS_NODE.nid}
  xname: ${OS_NODE.xname.replace(/n\d+$/, "")}
  mac: 52:54:00:64:04:01
  ip: 10.64.2.31
nodes:
- name: node${OS_NODE.nid}
  nid: ${OS_NODE.nid}
  xname: ${OS_NODE.xname}
  groups: [compute]
  interfaces:
  - mac_addr: ${OS_NODE.mac}
    ip_addrs:
    - name: internal
      ip_addr: ${OS_NODE.ip}
`;

/**
 * The compute group's cloud-config as the OpenCHAMI tutorial writes it: root gets the cluster's
 * SSH keys from the meta-data (`instance_data.v1.public_keys`, from the cluster defaults), plus a
 * base64 file with owner and mode, and a command whose line is rendered by Jinja too.
 */
export const COMPUTE_CONFIG = `## template: jinja
#cloud-config
merge_how:
- name: list
  settings: [append]
- name: dict
  settings: [no_replace, recurse_list]
users:
  - name: root
    ssh_authorized_keys: {{ ds.meta_data.instance_data.v1.public_keys }}
disable_root: false
write_files:
- path: ${GROUP_FILE.path}
  encoding: b64
  content: ${Buffer.from(GROUP_FILE.content).toString("base64")}
  owner: ${GROUP_FILE.owner}
  permissions: '0${GROUP_FILE.mode}'
runcmd:
- echo "runcmd on {{ v1.local_hostname }}" > ${RUNCMD_MARK}
`;

/**
 * The admin's setup of the node with `ochami`, as the seed's tutorial does it: the node into SMD
 * (`discover static`), its boot parameters (kernel, initrd, `root=live:` rootfs on the image
 * server), the cluster defaults (short name, NID width, the admin's SSH public key) and the
 * `compute` group with its cloud-config file.
 */
export async function configureNode(
  ochami: Ochami,
  dir: string,
  files: { kernel: string; initrd: string; rootfs: string },
  publicKey: string,
): Promise<void> {
  writeFileSync(path.join(dir, "nodes.yaml"), NODES_YAML);
  await ochami(["discover", "static", "-d", `@${path.join(dir, "nodes.yaml")}`]);
  await ochami([
    "bss",
    "boot",
    "params",
    "add",
    "-m",
    OS_NODE.mac,
    "--kernel",
    `${IMAGES_URL}/${files.kernel}`,
    "--initrd",
    `${IMAGES_URL}/${files.initrd}`,
    "--params",
    osKernelParams({ rootfsUrl: `${IMAGES_URL}/${files.rootfs}`, cloudInit: `${NODE_PROXY_URL}/cloud-init/` }),
  ]);
  await ochami([
    "cloud-init",
    "defaults",
    "set",
    "-d",
    JSON.stringify({ "cluster-name": "e2e", "short-name": "nid", "nid-length": 3, "public-keys": [publicKey] }),
  ]);
  const groups = `- name: compute
  description: compute nodes
  file:
    encoding: plain
    content: |
${COMPUTE_CONFIG.replace(/^(?=.)/gm, "      ")}`;
  writeFileSync(path.join(dir, "groups.yaml"), groups);
  await ochami(["cloud-init", "group", "set", "-f", "yaml", "-d", `@${path.join(dir, "groups.yaml")}`]);
}

/** Lines that mean the node cannot go on booting. */
const FATAL = /Kernel panic|dracut Warning: Can't mount root|Dropping to debug shell|Entering emergency mode|Failed to start .*cloud-init/;

/**
 * The node's serial console, read every 100 ms: when each pattern was first seen (host clock, ms),
 * and waiting for one. A wait fails at once on a line that means the boot cannot go on.
 */
export class SerialClock {
  private readonly seen = new Map<RegExp, { at: number; match: RegExpExecArray }>();
  private readonly watched: RegExp[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly vm: Vm,
    private readonly file: string,
  ) {
    this.timer = setInterval(() => this.look(), 100);
  }

  private text(): string {
    try {
      return readFileSync(this.file, "latin1").replace(/\r/g, "");
    } catch {
      return "";
    }
  }

  private look(): string {
    const text = this.text();
    const now = Date.now();
    for (const p of this.watched) {
      if (this.seen.has(p)) continue;
      const m = p.exec(text);
      if (m) this.seen.set(p, { at: now, match: m });
    }
    return text;
  }

  /** Starts timing `pattern` (before the boot reaches it, so its time is when it appeared). */
  watch(...patterns: RegExp[]): void {
    this.watched.push(...patterns);
  }

  /** When `pattern` first appeared. */
  at(pattern: RegExp): number | undefined {
    return this.seen.get(pattern)?.at;
  }

  /** Resolves with the match once `pattern` is on the console (and records when). */
  until(what: string, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    if (!this.watched.includes(pattern)) this.watch(pattern);
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const check = () => {
        const text = this.look();
        const got = this.seen.get(pattern);
        if (got) return resolve(got.match);
        const fatal = FATAL.exec(text);
        if (fatal)
          return reject(
            new Error(`the node cannot boot (${fatal[0]}) while waiting for ${what}; serial:\n${this.vm.serial().slice(-4000)}`),
          );
        if (this.vm.proc.exitCode !== null)
          return reject(new Error(`QEMU exited while waiting for ${what}; serial:\n${this.vm.serial().slice(-4000)}`));
        if (Date.now() > deadline)
          return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; serial:\n${this.vm.serial().slice(-4000)}`));
        setTimeout(check, 250);
      };
      check();
    });
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Console lines that mark a boot's phases. */
export const CONSOLE = {
  kernel: /Linux version \d/,
  rootfsFetch: /dracut: fetching http:\/\/\S+\/rootfs-/,
  systemd: /Welcome to .*Debian GNU\/Linux 12/,
  cloudInitDone: /Cloud-init v\. \S+ finished at .*Datasource (\S+)/,
};
