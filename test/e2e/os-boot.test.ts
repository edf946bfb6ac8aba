/**
 * Issue 16: a real OS boots the seed's way through `npm start` alone, configured as an admin does
 * it with `ochami`.
 *
 * The node image is Debian bookworm built from Debian's packages (test/e2e/os-image.sh: systemd,
 * cloud-init, openssh-server, a dracut initramfs with dmsquash-live + livenet, a squashfs root),
 * served by the agent's image server as `debian/{vmlinuz,initramfs,rootfs}-KVER`. QEMU's iPXE ROM
 * does DHCP with the agent, chains the bootscript from BSS through the node proxy, downloads kernel
 * and initrd; dracut does DHCP again and fetches the squashfs (`root=live:http://…`); systemd
 * starts Debian's cloud-init, whose NoCloud datasource reads meta-data, user-data and vendor-data
 * from our API through the node proxy, and vendor-data's #include of the `compute` group file: a
 * `## template: jinja` cloud-config giving root the cluster's SSH key, writing a base64 file and
 * running a command. The test then logs in over SSH from the head node's side of the boot network
 * and checks what cloud-init did.
 *
 * Not part of `npm test` (minutes of TCG boot, and a cold image build): `npm run test:os`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { run } from "../agent/netlab";
import { cleanEnv } from "../head-node/auth-process";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import {
  createBootNetwork,
  destroyBootNetwork,
  type HeadNode,
  inNs,
  nsHttp,
  type Ochami,
  ochamiOnHead,
  startHeadNode,
  startVm,
  type Vm,
} from "./boot-lab";
import { buildOsImage, installOsImage, type OsImage } from "./os-image";
import {
  AGENT_YAML,
  CONSOLE,
  configureNode,
  GROUP_FILE,
  OS_NODE as NODE,
  NODE_PROXY_URL,
  OS_VM_MIB,
  RUNCMD_MARK,
  SerialClock,
} from "./os-lab";

const missing = requirements({
  root: true,
  commands: ["ip", "sysctl", "qemu-system-x86_64", "mmdebstrap", "mksquashfs", "apt-cache", "ssh", "ssh-keygen", "curl"],
  files: ["/usr/lib/ipxe/qemu/pxe-e1000.rom"],
});

const API = "http://127.0.0.1:8081";
/** Minutes under TCG on a busy 2-core machine; each wait ends as soon as its line appears. */
const BOOT_TIMEOUT = 25 * 60_000;

describe.skipIf(missing)("a Debian image boots the seed's way through npm start and runs cloud-init", () => {
  // Made in beforeAll, not at collection: a skipped suite must leave nothing behind.
  let dir = "";
  let image: OsImage;
  let head: HeadNode;
  let vm: Vm;
  let serial: SerialClock;
  let ochami: Ochami;
  let publicKey = "";
  const timings: Record<string, number> = {};

  /** A command on the node over SSH as root, from the head node's side of the boot network. */
  const ssh = (command: string, opts: { allowFail?: boolean } = {}) =>
    inNs(
      "ssh",
      [
        ...[
          "-i",
          path.join(dir, "id_ed25519"),
          "-o",
          "StrictHostKeyChecking=no",
          "-o",
          `UserKnownHostsFile=${path.join(dir, "known_hosts")}`,
        ],
        ...["-o", "BatchMode=yes", "-o", "ConnectTimeout=10", `root@${NODE.ip}`, command],
      ],
      { allowFail: opts.allowFail, timeoutMs: 60_000 },
    );

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "e2-os-"));
    const stateDir = path.join(dir, "state");
    mkdirSync(path.join(dir, "admin-home"), { recursive: true });
    image = await buildOsImage();
    timings.imageBuild = image.buildMs;
    await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "admin@head", "-f", path.join(dir, "id_ed25519")]);
    publicKey = readFileSync(path.join(dir, "id_ed25519.pub"), "utf8").trim();

    const t = Date.now();
    await destroyBootNetwork();
    await createBootNetwork([NODE.tap]);
    const files = installOsImage(image, path.join(stateDir, "images"), "debian");
    writeFileSync(path.join(dir, "agent.yaml"), AGENT_YAML);
    head = await startHeadNode(
      cleanEnv({ OCHAMI_STATE_DIR: stateDir, OCHAMI_AGENT_CONFIG: path.join(dir, "agent.yaml") }),
      path.join(dir, "npm-start.log"),
    );
    timings.start = Date.now() - t;
    ochami = ochamiOnHead(dir, stateDir);
    await configureNode(ochami, dir, files, publicKey);
  }, 3_600_000);

  afterAll(async () => {
    serial?.stop();
    vm?.kill();
    const code = await head?.stop();
    await destroyBootNetwork();
    console.log(
      `os boot timings (ms): ${JSON.stringify(timings)}; image ${image?.key} (${image?.kver}, ${image?.built ? "built" : "cached"}); npm start exit ${code}`,
    );
    if (process.env.E2E_KEEP) console.log(`kept ${dir}`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("boots to cloud-init done; the node is what the API and the group file say; root logs in with the cluster's key", async () => {
    const t0 = Date.now();
    const serialLog = path.join(dir, "node.serial");
    vm = startVm({ tap: NODE.tap, mac: NODE.mac, serialLog, reboot: false, memoryMb: OS_VM_MIB });
    serial = new SerialClock(vm, serialLog);
    serial.watch(CONSOLE.kernel, CONSOLE.rootfsFetch, CONSOLE.systemd);
    const finished = await serial.until("cloud-init's final stage", CONSOLE.cloudInitDone, BOOT_TIMEOUT);
    timings.kernel = serial.at(CONSOLE.kernel)! - t0;
    timings.systemd = serial.at(CONSOLE.systemd)! - t0;
    timings.cloudInitDone = serial.at(CONSOLE.cloudInitDone)! - t0;
    expect(finished[1], "cloud-init found no datasource").toBe("DataSourceNoCloudNet");

    // sshd starts beside cloud-init; root's key is there once cloud-init's init stage ran.
    const who = await waitFor(
      async () => {
        const r = await ssh("id -un", { allowFail: true });
        return r.code === 0 && r.stdout.trim();
      },
      120_000,
      () => `an SSH login as root with the cluster's key; serial:\n${vm.serial().slice(-2000)}`,
      { everyMs: 2000 },
    );
    timings.ssh = Date.now() - t0;
    expect(who).toBe("root");

    // The hostname our meta-data gives (NID 1, short name nid, 3 digits), as the admin reads it.
    const metaData = parse(await ochami(["cloud-init", "node", "get", "meta-data", NODE.xname, "-F", "yaml"]));
    const localHostname = (Array.isArray(metaData) ? metaData[0] : metaData)["local-hostname"];
    expect(localHostname).toBe("nid001");
    expect((await ssh("hostname")).stdout.trim()).toBe(localHostname);

    // The base64 file decoded, with its owner and mode; runcmd ran, its Jinja rendered.
    expect((await ssh(`cat ${GROUP_FILE.path}`)).stdout).toBe(GROUP_FILE.content);
    expect((await ssh(`stat -c '%U:%G %a' ${GROUP_FILE.path}`)).stdout.trim()).toBe(`${GROUP_FILE.owner} ${GROUP_FILE.mode}`);
    expect((await ssh(`cat ${RUNCMD_MARK}`)).stdout.trim()).toBe("runcmd on nid001");
    // Root's key came from the cluster defaults through the template, and nothing else.
    expect((await ssh("cat /root/.ssh/authorized_keys")).stdout.trim()).toBe(publicKey);

    // cloud-init's own verdict: done, seeded from our API through the node proxy, no errors.
    const status = (await ssh("cloud-init status --long", { allowFail: true })).stdout;
    expect(status).toMatch(/^status: done$/m);
    expect(status).toContain(`${NODE_PROXY_URL}/cloud-init/`);
    const result = JSON.parse((await ssh("cat /run/cloud-init/result.json")).stdout);
    expect(result.v1.errors).toEqual([]);
  });

  it("the boot history shows every step, the rootfs download included", async () => {
    const events = await waitFor(
      async () => {
        const h = (await nsHttp("GET", `${API}/boot/v1/endpoint-history?name=${NODE.xname}&history=true`)).json() as any[];
        return h.some((e) => e.endpoint === "cloud-init-group") ? h : undefined;
      },
      10_000,
      "the cloud-init-group step in the history",
      { everyMs: 250 },
    );
    const ordered = [...events].sort((a, b) => a.epoch_ms - b.epoch_ms || a.id - b.id);
    const sequence = ordered.map((e) => e.endpoint).filter((ep, i, all) => ep !== all[i - 1]);
    // Firmware DHCP, iPXE's bootscript and downloads, dracut's DHCP and the root image, then
    // cloud-init. systemd-networkd's DHCP (the same lease again) may come anywhere after the root.
    const rootfsAt = sequence.indexOf("rootfs");
    const core = sequence.filter((ep, i) => ep !== "dhcp" || i < rootfsAt).filter((ep, i, all) => ep !== all[i - 1]);
    expect(core, sequence.join(" → ")).toEqual([
      "dhcp",
      "bootscript",
      "kernel",
      "initrd",
      "dhcp",
      "rootfs",
      "meta-data",
      "user-data",
      "vendor-data",
      "cloud-init-group",
    ]);
    expect(ordered.every((e) => e.name === NODE.xname && e.ip === NODE.ip)).toBe(true);
    expect(ordered.find((e) => e.endpoint === "rootfs")).toMatchObject({ detail: `/debian/rootfs-${image.kver}` });

    // What the admin watching sees.
    const watch = await ochami(["bss", "history", "--follow", "--once", "-x", NODE.xname]);
    expect(watch).toMatch(new RegExp(`${NODE.xname}\\s+rootfs\\s+\\+\\d+\\.\\ds\\s+/debian/rootfs-${image.kver.replaceAll(".", "\\.")}`));
  });
});
