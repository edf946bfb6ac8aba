/**
 * What a test or benchmark needs from the machine (root, programs, files, Python modules), what of
 * it is missing here, and which Debian packages provide it (scripts/system-deps.sh installs them as
 * root). Plain Node, no test runner: the benchmarks use it too; tests use requirements.ts.
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants, existsSync } from "node:fs";
import path from "node:path";

export interface Needs {
  /** Root: network namespaces, tap devices, mounts. */
  root?: boolean;
  /** Programs: a bare name is looked up on PATH, as spawning it would; an absolute path must be executable. */
  commands?: string[];
  /** Files that must exist (firmware ROMs, a static binary). */
  files?: string[];
  /** Modules /usr/bin/python3 must find (without importing them). */
  python?: string[];
}

/** The Debian package of each program, file and module the tests use. */
const PACKAGES: Record<string, string> = {
  apt: "apt",
  "apt-cache": "apt",
  "apt-get": "apt",
  atftp: "atftp",
  busybox: "busybox-static",
  chromium: "chromium",
  cloudinit: "cloud-init",
  conman: "conman",
  conmand: "conman",
  cpio: "cpio",
  curl: "curl",
  dhclient: "isc-dhcp-client",
  dnsmasq: "dnsmasq-base",
  "dpkg-deb": "dpkg",
  faketime: "faketime",
  "in.tftpd": "tftpd-hpa",
  ip: "iproute2",
  "ipxe.efi": "ipxe",
  mksquashfs: "squashfs-tools",
  mmdebstrap: "mmdebstrap",
  mount: "mount",
  nginx: "nginx",
  openssl: "openssl",
  pebble: "pebble",
  perfdhcp: "kea-admin",
  pm: "powerman",
  powermand: "powerman",
  ps: "procps",
  "pxe-e1000.rom": "ipxe-qemu",
  python3: "python3",
  "qemu-system-x86_64": "qemu-system-x86",
  script: "bsdutils",
  "snponly.efi": "ipxe",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  sysctl: "procps",
  tcpdump: "tcpdump",
  truncate: "coreutils",
  udhcpc: "udhcpc",
  "undionly.kpxe": "ipxe",
  unshare: "util-linux",
  wrk: "wrk",
};

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): boolean {
  if (name.includes("/")) return executable(name);
  return (process.env.PATH ?? "").split(path.delimiter).some((dir) => dir && executable(path.join(dir, name)));
}

const PYTHON = "/usr/bin/python3";
const SBIN = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

function pythonHas(module: string): boolean {
  const r = spawnSync(
    PYTHON,
    ["-c", `import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(${JSON.stringify(module)}) else 1)`],
    {
      stdio: "ignore",
      timeout: 30_000,
    },
  );
  return r.status === 0;
}

/** What is missing for `needs`, one entry each ("needs root", "perfdhcp", ...), and the packages that provide it. */
export function missingFor(needs: Needs): { missing: string[]; packages: string[] } {
  const missing: string[] = [];
  const packages = new Set<string>();
  const lack = (what: string, key: string) => {
    missing.push(what);
    if (PACKAGES[key]) packages.add(PACKAGES[key]);
  };
  if (needs.root && process.getuid?.() !== 0) missing.push("root");
  for (const c of needs.commands ?? []) {
    if (onPath(c)) continue;
    // Installed, but in an sbin directory an ordinary user's PATH leaves out: nothing to install.
    const sbin = c.includes("/") ? undefined : SBIN.find((dir) => executable(path.join(dir, c)));
    if (sbin) missing.push(`${c} (in ${sbin}, not on PATH)`);
    else lack(c, path.basename(c));
  }
  for (const f of needs.files ?? []) if (!existsSync(f)) lack(f, path.basename(f));
  if (needs.python?.length) {
    if (!executable(PYTHON)) lack(PYTHON, "python3");
    else for (const m of needs.python) if (!pythonHas(m)) lack(`Python module ${m}`, m);
  }
  return { missing, packages: [...packages] };
}

/** One line naming what is missing and how to get it, or undefined when nothing is. */
export function describeMissing(needs: Needs): string | undefined {
  const { missing, packages } = missingFor(needs);
  if (!missing.length) return undefined;
  const install = packages.length ? `; apt-get install ${packages.join(" ")} (or run scripts/system-deps.sh as root)` : "";
  return `needs ${missing.join(", ")}${install}`;
}

/** Throws, naming what is missing, unless everything in `needs` is here (for benchmarks). */
export function assertNeeds(what: string, needs: Needs): void {
  const reason = describeMissing(needs);
  if (reason) throw new Error(`${what} ${reason}`);
}
