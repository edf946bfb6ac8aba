/**
 * The image the e2e node boots: Debian's kernel (from the linux-image .deb, unpacked into a cache
 * directory — no kernel is installed on this machine) and a tiny initramfs built here from
 * Debian's busybox-static, the kernel's e1000 module (QEMU's iPXE ROM drives an e1000; Debian
 * builds the driver as a module) and an init script. The init brings the network up with udhcpc
 * against our DHCP, fetches the NoCloud documents named by `ds=nocloud;s=<url>` on the kernel line
 * plus the group files vendor-data includes, prints each between markers on the serial console,
 * and powers off.
 *
 * Built once per set of inputs: the cache key is a hash of the kernel package version, busybox
 * and the scripts, under $TMPDIR/ochami-e2e-node/.
 *
 * busybox-static 1.35's `wget -T` segfaults (static glibc), so the init bounds each fetch with
 * `timeout` instead.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import type { Needs } from "../support/needs";

const exec = promisify(execFile);

/**
 * What building this image and booting it in the lab needs: the kernel comes from Debian's archive
 * (apt-get download, dpkg-deb), the initramfs is busybox-static packed with cpio, QEMU boots it on
 * taps in a namespace with the e1000 iPXE ROM; curl is the admin's client.
 */
export const NODE_IMAGE_NEEDS: Needs = {
  root: true,
  commands: ["ip", "sysctl", "qemu-system-x86_64", "cpio", "dpkg-deb", "apt-get", "apt-cache", "tar", "find", "curl"],
  files: ["/usr/lib/ipxe/qemu/pxe-e1000.rom", "/bin/busybox"],
};
const CACHE = path.join(tmpdir(), "ochami-e2e-node");

/** Markers the test looks for on the serial console. */
export const MARK = {
  up: "E2E-INIT-UP",
  dhcp: "E2E-DHCP",
  begin: "E2E-BEGIN",
  end: "E2E-END",
  done: "E2E-DONE",
  failed: "E2E-FAILED",
};

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "${MARK.up} $(cut -d' ' -f1 /proc/uptime)"
fail() { echo "${MARK.failed} $*"; poweroff -f; }
insmod /lib/modules/e1000.ko || fail "insmod e1000"
ip link set lo up
ip link set eth0 up
udhcpc -i eth0 -s /udhcpc.script -q -f -n -t 10 -T 2 -x hostname:e2e-node || fail "no DHCP lease"
url=$(sed -n 's/.*ds=nocloud;s=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
[ -n "$url" ] || fail "no ds=nocloud;s= on the kernel line: $(cat /proc/cmdline)"
fetch() {
  echo "${MARK.begin} $1"
  timeout 20 wget -q -O - "$2" || echo "${MARK.failed} wget $2"
  echo ""
  echo "${MARK.end} $1"
}
for doc in meta-data user-data vendor-data; do fetch "$doc" "$url$doc"; done
for inc in $(timeout 20 wget -q -O - "\${url}vendor-data" | grep '^http'); do fetch "include $inc" "$inc"; done
echo "${MARK.done} $(cut -d' ' -f1 /proc/uptime)"
poweroff -f
`;

/** busybox udhcpc calls this with the lease in its environment. */
const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route add default via "\${router%% *}" dev "$interface"
    echo "${MARK.dhcp} ip=$ip mask=$mask hostname=$hostname domain=$domain server=$serverid" ;;
esac
exit 0
`;

async function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  try {
    return (await exec(cmd, args, { cwd, maxBuffer: 16 << 20, timeout: 300_000 })).stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(" ")}: ${(e.stderr || e.message).slice(0, 1500)}`);
  }
}

/** Debian's current kernel package for amd64 (what linux-image-amd64 depends on) and its version. */
async function kernelPackage(): Promise<{ name: string; version: string }> {
  const depends = await run("apt-cache", ["depends", "linux-image-amd64"]);
  const name = /Depends:\s*(linux-image-[0-9][^\s]*)/.exec(depends)?.[1];
  if (!name) throw new Error(`cannot tell the kernel package from 'apt-cache depends linux-image-amd64' (run apt-get update):\n${depends}`);
  const version = /^Version:\s*(\S+)/m.exec(await run("apt-cache", ["show", "--no-all-versions", name]))?.[1] ?? "unknown";
  return { name, version };
}

/** vmlinuz and e1000.ko of the kernel package, downloaded and unpacked once. */
async function kernelFiles(): Promise<{ vmlinuz: string; e1000: string; pkg: string }> {
  let pkg: { name: string; version: string };
  try {
    pkg = await kernelPackage();
  } catch {
    await run("apt-get", ["update", "-qq"]);
    pkg = await kernelPackage();
  }
  const dir = path.join(CACHE, "kernel", `${pkg.name}_${pkg.version}`.replace(/[^\w.+-]/g, "_"));
  const vmlinuz = path.join(dir, "vmlinuz");
  const e1000 = path.join(dir, "e1000.ko");
  if (existsSync(vmlinuz) && existsSync(e1000)) return { vmlinuz, e1000, pkg: `${pkg.name} ${pkg.version}` };
  const work = `${dir}.tmp-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  try {
    await run("apt-get", ["download", `${pkg.name}=${pkg.version}`], work).catch(async () => {
      await run("apt-get", ["update", "-qq"]);
      return run("apt-get", ["download", pkg.name], work);
    });
    const deb = readdirSync(work).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error(`apt-get download ${pkg.name} left no .deb`);
    await run("sh", ["-c", `dpkg-deb --fsys-tarfile "${deb}" | tar -x --wildcards './boot/vmlinuz-*' '*/e1000.ko*'`], work);
    const boot = readdirSync(path.join(work, "boot")).find((f) => f.startsWith("vmlinuz-"))!;
    const ko = (await run("find", [work, "-name", "e1000.ko*"])).trim().split("\n")[0];
    if (!ko.endsWith(".ko")) throw new Error(`e1000 module is compressed (${ko}); busybox insmod needs it plain`);
    mkdirSync(dir, { recursive: true });
    copyFileSync(ko, e1000);
    copyFileSync(path.join(work, "boot", boot), `${vmlinuz}.tmp`);
    renameSync(`${vmlinuz}.tmp`, vmlinuz);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return { vmlinuz, e1000, pkg: `${pkg.name} ${pkg.version}` };
}

function staticBusybox(): Buffer {
  const file = "/bin/busybox";
  if (!existsSync(file)) throw new Error("no /bin/busybox: install Debian's busybox-static (scripts/system-deps.sh)");
  const bin = readFileSync(file);
  // A dynamic binary names its loader near the start (PT_INTERP); it cannot run in the initramfs.
  if (bin.subarray(0, 4096).includes("ld-linux"))
    throw new Error("/bin/busybox is dynamically linked: install busybox-static instead of busybox");
  return bin;
}

export interface NodeImage {
  vmlinuz: string;
  initramfs: string;
  /** What it was built from, for the test's report. */
  describe: string;
}

export async function buildNodeImage(): Promise<NodeImage> {
  const kernel = await kernelFiles();
  const busybox = staticBusybox();
  const module = readFileSync(kernel.e1000);
  const key = createHash("sha256")
    .update(kernel.pkg)
    .update(busybox)
    .update(module)
    .update(INIT)
    .update(UDHCPC_SCRIPT)
    .digest("hex")
    .slice(0, 16);
  const dir = path.join(CACHE, "initramfs", key);
  const initramfs = path.join(dir, "initramfs.img");
  const describe = `${kernel.pkg}, busybox-static, initramfs ${key}`;
  if (existsSync(initramfs)) return { vmlinuz: kernel.vmlinuz, initramfs, describe };

  const root = `${dir}.root-${process.pid}`;
  rmSync(root, { recursive: true, force: true });
  for (const d of ["bin", "dev", "proc", "sys", "lib/modules", "usr/share/udhcpc"]) mkdirSync(path.join(root, d), { recursive: true });
  writeFileSync(path.join(root, "bin/busybox"), busybox, { mode: 0o755 });
  writeFileSync(path.join(root, "lib/modules/e1000.ko"), module);
  writeFileSync(path.join(root, "init"), INIT, { mode: 0o755 });
  writeFileSync(path.join(root, "udhcpc.script"), UDHCPC_SCRIPT, { mode: 0o755 });
  chmodSync(path.join(root, "init"), 0o755);
  try {
    const files = await run("sh", ["-c", "find . | LC_ALL=C sort"], root);
    const cpio = await new Promise<Buffer>((resolve, reject) => {
      const child = execFile(
        "cpio",
        ["-o", "-H", "newc", "--quiet", "--reproducible"],
        { cwd: root, encoding: "buffer", maxBuffer: 64 << 20 },
        (err, out) => (err ? reject(err) : resolve(out)),
      );
      child.stdin!.end(files);
    });
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${initramfs}.tmp`, gzipSync(cpio, { level: 6 }));
    renameSync(`${initramfs}.tmp`, initramfs);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return { vmlinuz: kernel.vmlinuz, initramfs, describe };
}
