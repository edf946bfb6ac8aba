/**
 * The real OS a node boots in test/e2e/os-boot.test.ts and bench/boot.ts: a Debian bookworm image
 * built by os-image.sh (mmdebstrap, dracut dmsquash-live + livenet, a squashfs root) from Debian's
 * archive only, laid out as the seed lays out its images.
 *
 * Built once per set of inputs and kept under ~/.cache/ochami-edge/os-image/<key>/ ($XDG_CACHE_HOME
 * if set): the key is a hash of os-image.sh (its package list, hooks and settings) and of the Debian
 * archive entries it builds from. A changed script builds a new image, and the old one is removed.
 * A cold build takes minutes (downloads ~120 MB of packages, runs dracut, mksquashfs): its output
 * goes to build.log beside the image.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, createWriteStream, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";

export const OS_IMAGE_SCRIPT = path.join(import.meta.dirname, "os-image.sh");
/** Where images are kept between runs. */
export const OS_IMAGE_CACHE = path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "ochami-edge", "os-image");

export interface OsImage {
  /** The cache directory holding the three files. */
  dir: string;
  /** The kernel release, e.g. 6.1.0-57-amd64: the files' suffix. */
  kver: string;
  files: { kernel: string; initrd: string; rootfs: string };
  /** Whether this call built it (else it came from the cache), and how long that took. */
  built: boolean;
  buildMs: number;
  key: string;
}

function runScript(args: string[], logFile?: string, timeoutMs = 3_600_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [OS_IMAGE_SCRIPT, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const log = logFile ? createWriteStream(logFile) : undefined;
    let out = "";
    let tail = "";
    const keep = (d: Buffer) => {
      log?.write(d);
      tail = (tail + d.toString()).slice(-4000);
    };
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      keep(d);
    });
    child.stderr.on("data", keep);
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      log?.end();
      if (code === 0) resolve(out);
      else
        reject(
          new Error(`os-image.sh ${args.join(" ")} failed (${signal ?? `exit ${code}`})${logFile ? `; log: ${logFile}` : ""}:\n${tail}`),
        );
    });
  });
}

const fileNames = (kver: string) => ({ kernel: `vmlinuz-${kver}`, initrd: `initramfs-${kver}.img`, rootfs: `rootfs-${kver}` });

function cached(dir: string, key: string): OsImage | undefined {
  const kernel = existsSync(dir) ? readdirSync(dir).find((f) => f.startsWith("vmlinuz-")) : undefined;
  if (!kernel) return undefined;
  const kver = kernel.slice("vmlinuz-".length);
  const names = fileNames(kver);
  const files = { kernel: path.join(dir, names.kernel), initrd: path.join(dir, names.initrd), rootfs: path.join(dir, names.rootfs) };
  if (!Object.values(files).every((f) => existsSync(f))) return undefined;
  return { dir, kver, files, built: false, buildMs: 0, key };
}

/** The image for the current inputs: from the cache, else built now (minutes; root only). */
export async function buildOsImage(): Promise<OsImage> {
  const sources = await runScript(["--sources"]);
  const key = createHash("sha256").update(readFileSync(OS_IMAGE_SCRIPT)).update(sources).digest("hex").slice(0, 16);
  const dir = path.join(OS_IMAGE_CACHE, key);
  const hit = cached(dir, key);
  if (hit) return hit;

  mkdirSync(OS_IMAGE_CACHE, { recursive: true });
  const t0 = Date.now();
  const staging = `${dir}.build-${process.pid}`;
  const logFile = `${staging}.log`;
  rmSync(staging, { recursive: true, force: true });
  await runScript([staging], logFile);
  // Another run may have finished the same image meanwhile: either copy is the same image.
  if (!cached(dir, key)) {
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
    renameSync(logFile, path.join(dir, "build.log"));
  }
  rmSync(staging, { recursive: true, force: true });
  rmSync(logFile, { force: true });
  // Images of other inputs are stale: this script no longer builds them.
  for (const entry of readdirSync(OS_IMAGE_CACHE))
    if (entry !== key && /^[0-9a-f]{16}$/.test(entry)) rmSync(path.join(OS_IMAGE_CACHE, entry), { recursive: true, force: true });
  const image = cached(dir, key);
  if (!image) throw new Error(`os-image.sh left no image in ${dir}`);
  return { ...image, built: true, buildMs: Date.now() - t0 };
}

/**
 * Puts the image where an image server serves it, as the seed does: `<root>/<name>/vmlinuz-KVER`,
 * `initramfs-KVER.img`, `rootfs-KVER` (hard links to the cache when on the same filesystem). Returns
 * the three paths relative to `root`.
 */
export function installOsImage(image: OsImage, root: string, name: string): { kernel: string; initrd: string; rootfs: string } {
  const names = fileNames(image.kver);
  mkdirSync(path.join(root, name), { recursive: true });
  for (const k of ["kernel", "initrd", "rootfs"] as const) {
    const to = path.join(root, name, names[k]);
    rmSync(to, { force: true });
    try {
      linkSync(image.files[k], to);
    } catch {
      copyFileSync(image.files[k], to);
    }
  }
  return { kernel: `${name}/${names.kernel}`, initrd: `${name}/${names.initrd}`, rootfs: `${name}/${names.rootfs}` };
}

/**
 * The kernel command line that boots it: dracut brings up the NIC with DHCP, fetches the squashfs
 * with curl and mounts it under a tmpfs overlay (`rd.live.overlay.overlayfs=1`: without systemd in
 * the initramfs, dracut mounts a root that is a bare squashfs only when told so; the overlay is
 * writable). cloud-init reads NoCloud from
 * `cloudInit`: Debian 12's cloud-init (22.4) takes an http seed only as `ds=nocloud-net`
 * (cloud-init 24.1 and later also take `ds=nocloud` with an http seed); network-config=disabled as
 * the seed sets. `init_on_alloc=0`: Debian's kernel zeroes every page it allocates, which under
 * QEMU's TCG (no KVM) stalled the boot for minutes in page clearing (soft lockups in systemd and
 * modprobe); nothing here needs it.
 */
export function osKernelParams(o: { rootfsUrl: string; cloudInit: string }): string {
  return [
    `root=live:${o.rootfsUrl}`,
    "rd.live.overlay.overlayfs=1",
    "ip=dhcp",
    "rd.neednet=1",
    `ds=nocloud-net;s=${o.cloudInit}`,
    "network-config=disabled",
    "console=ttyS0",
    "init_on_alloc=0",
  ].join(" ");
}
