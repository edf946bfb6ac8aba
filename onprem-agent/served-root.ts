/**
 * A directory the agent serves files from (TFTP root, image root), and the one place that decides
 * whether a requested name may be served: no `..`, no hidden names, no control characters, and —
 * after resolving symlinks — nothing outside the directory unless its target is explicitly allowed
 * (Debian's /usr/lib/ipxe/ipxe.efi is a symlink to /boot/ipxe.efi, for example).
 */

import type { Stats } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import path from "node:path";

export type Lookup =
  | { kind: "file"; path: string; stats: Stats }
  | { kind: "directory"; path: string }
  | { kind: "missing" }
  | { kind: "forbidden"; reason: string };

/**
 * Splits a relative name into path segments, or says why it must be refused. Leading and doubled
 * slashes and `.` segments are dropped, so `/undionly.kpxe` names the file at the root, as with
 * tftpd-hpa's `-s`.
 */
export function safeSegments(name: string): string[] | { refused: string } {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses.
  if (/[\x00-\x1f\x7f\\]/.test(name)) return { refused: "control character or backslash in name" };
  const segments: string[] = [];
  for (const segment of name.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") return { refused: "'..' in name" };
    if (segment.startsWith(".")) return { refused: "hidden name" };
    segments.push(segment);
  }
  return segments;
}

function isWithin(dir: string, candidate: string): boolean {
  if (candidate === dir) return true;
  return candidate.startsWith(dir.endsWith(path.sep) ? dir : dir + path.sep);
}

export class ServedRoot {
  private constructor(
    /** The directory with its own symlinks resolved. */
    readonly dir: string,
    private readonly allowedTargets: string[],
  ) {}

  /** Fails when `dir` is missing or not a directory, so a bad config stops the agent at start. */
  static async open(dir: string, allowedSymlinkTargets: readonly string[] = []): Promise<ServedRoot> {
    const real = await realpath(dir);
    if (!(await stat(real)).isDirectory()) throw new Error(`${dir} is not a directory`);
    const targets: string[] = [];
    for (const target of allowedSymlinkTargets) {
      // A target that does not exist on this machine is simply never matched.
      const resolved = await realpath(target).catch(() => undefined);
      if (resolved) targets.push(resolved);
    }
    return new ServedRoot(real, targets);
  }

  async lookup(segments: readonly string[]): Promise<Lookup> {
    const candidate = path.join(this.dir, ...segments);
    // Both at once (two thread-pool round trips in the time of one): stat follows the same
    // symlinks realpath resolves, and only the realpath decides what may be served.
    const [resolved, stated] = await Promise.allSettled([realpath(candidate), stat(candidate)]);
    if (resolved.status === "rejected") {
      const code = (resolved.reason as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR" || code === "ENAMETOOLONG") return { kind: "missing" };
      return { kind: "forbidden", reason: `cannot resolve: ${code ?? String(resolved.reason)}` };
    }
    const real = resolved.value;
    if (!isWithin(this.dir, real) && !this.allowedTargets.some((t) => isWithin(t, real))) {
      return { kind: "forbidden", reason: "symlink leads outside the served directory" };
    }
    if (stated.status === "rejected") {
      return { kind: "forbidden", reason: `cannot stat: ${(stated.reason as NodeJS.ErrnoException).code ?? String(stated.reason)}` };
    }
    const stats = stated.value;
    if (stats.isDirectory()) return { kind: "directory", path: real };
    if (!stats.isFile()) return { kind: "forbidden", reason: "not a regular file" };
    return { kind: "file", path: real, stats };
  }
}
