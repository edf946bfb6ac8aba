/**
 * Small files served over TFTP (iPXE binaries: 70 KiB–1 MiB) kept in memory, shared by all
 * transfers. In a boot storm hundreds of nodes fetch the same two or three files; reading each
 * transfer's copy from disk through the thread pool measured as the main cost of a lock-step
 * transfer under load (stalls waiting for a chunk), more than the protocol itself.
 *
 * An entry is used only while the file's identity (device, inode, size, mtime) — from the stat
 * the request does anyway — is unchanged, so replacing a binary takes effect on the next request.
 */
import type { Stats } from "node:fs";
import { readFile } from "node:fs/promises";

interface Entry {
  key: string;
  content: Buffer;
}

export class FileCache {
  /** Map order is least recently used first. */
  private entries = new Map<string, Entry>();
  private loading = new Map<string, Promise<Buffer | undefined>>();
  private bytes = 0;

  constructor(
    private readonly maxFileBytes: number,
    private readonly maxTotalBytes: number,
  ) {}

  /** The file's bytes, or undefined when it is too large to cache (stream it instead). */
  async get(path: string, stats: Stats): Promise<Buffer | undefined> {
    if (stats.size > this.maxFileBytes || stats.size > this.maxTotalBytes) return undefined;
    const key = `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
    const hit = this.entries.get(path);
    if (hit?.key === key) {
      this.entries.delete(path);
      this.entries.set(path, hit);
      return hit.content;
    }
    const pending = this.loading.get(`${path}\0${key}`);
    if (pending) return pending;
    const load = readFile(path)
      .then((content) => {
        // Changed while being read: serve what was read, but do not keep it.
        if (content.length === stats.size) this.store(path, { key, content });
        return content;
      })
      .finally(() => this.loading.delete(`${path}\0${key}`));
    this.loading.set(`${path}\0${key}`, load);
    return load;
  }

  private store(path: string, entry: Entry) {
    const old = this.entries.get(path);
    if (old) {
      this.entries.delete(path);
      this.bytes -= old.content.length;
    }
    this.entries.set(path, entry);
    this.bytes += entry.content.length;
    for (const [oldest, e] of this.entries) {
      if (this.bytes <= this.maxTotalBytes) break;
      this.entries.delete(oldest);
      this.bytes -= e.content.length;
    }
  }
}
