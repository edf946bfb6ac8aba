/**
 * Streams a byte range of an open file into an HTTP response.
 *
 * Hand-written instead of `fs.createReadStream().pipe(res)` (what `send` does), because on this
 * kind of machine that ran at about half of nginx's rate on a 1 GiB file: each chunk is a fresh
 * allocation (page faults on every buffer) and the read of chunk n+1 waits for chunk n to drain.
 * Here a few large buffers are reused, the next read starts as soon as one is free, and several
 * writes stay queued in the socket, which measured at or above nginx (bench/tftp-images.ts).
 *
 * Memory stays bounded under a boot storm: read-ahead buffers come from a pool with a byte
 * budget shared by all downloads; past the budget a download still gets one small buffer, so
 * 1000 concurrent downloads cost the budget plus 64 KiB each.
 */
import type { FileHandle } from "node:fs/promises";
import type { ServerResponse } from "node:http";

const SMALL_CHUNK_BYTES = 64 * 1024;

export class ChunkPool {
  private idle: Buffer[] = [];
  private lent = 0;

  constructor(
    readonly chunkBytes: number,
    private readonly budgetBytes: number,
  ) {}

  /**
   * A full-size buffer within the budget; past it, a small one when `first` (a download must
   * always make progress), else none.
   */
  take(first: boolean): Buffer | undefined {
    if ((this.lent + 1) * this.chunkBytes > this.budgetBytes) return first ? Buffer.allocUnsafeSlow(SMALL_CHUNK_BYTES) : undefined;
    this.lent++;
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(this.chunkBytes);
  }

  /** `reusable` false: the buffer may still be referenced (a write never confirmed), so drop it. */
  give(buf: Buffer, reusable: boolean): void {
    if (buf.length !== this.chunkBytes) return; // a small one, outside the budget
    this.lent--;
    if (reusable && (this.idle.length + this.lent) * this.chunkBytes < this.budgetBytes) this.idle.push(buf);
  }
}

export interface PumpResult {
  bytes: number;
  complete: boolean;
}

/** Writes bytes start..end (inclusive) of `handle` to `res`, then ends it; closes `handle` in all cases. */
export function pumpFile(
  res: ServerResponse,
  handle: FileHandle,
  start: number,
  end: number,
  pool: ChunkPool,
  depth: number,
): Promise<PumpResult> {
  return new Promise((resolve) => {
    let next = start;
    let sent = 0;
    let reading = false;
    let stopped = false;
    /** Buffers this download holds: being read into or queued in the socket. */
    const held = new Set<Buffer>();

    const release = (buf: Buffer, reusable: boolean) => {
      if (held.delete(buf)) pool.give(buf, reusable);
    };

    const stop = (complete: boolean) => {
      if (stopped) return;
      stopped = true;
      // Whatever the socket still holds is not confirmed written: not reused.
      for (const buf of [...held]) release(buf, false);
      void handle.close().catch(() => {});
      resolve({ bytes: sent, complete });
    };

    const fail = () => {
      res.destroy();
      stop(false);
    };

    const pump = () => {
      if (stopped || reading) return;
      if (next > end) return;
      if (held.size >= depth) return;
      const buf = pool.take(held.size === 0);
      if (!buf) return;
      held.add(buf);
      reading = true;
      const at = next;
      const length = Math.min(buf.length, end - at + 1);
      handle.read(buf, 0, length, at).then(({ bytesRead }) => {
        reading = false;
        if (stopped) return release(buf, true);
        // The file shrank under us: the promised Content-Length cannot be kept.
        if (bytesRead !== length) return fail();
        next += length;
        sent += length;
        const last = next > end;
        res.write(length === buf.length ? buf : buf.subarray(0, length), () => {
          release(buf, true);
          pump();
        });
        if (last) res.end();
        else pump();
      }, fail);
    };

    if (res.destroyed) return stop(false); // the client left before the body began
    res.once("close", () => stop(res.writableFinished));
    if (start > end)
      res.end(); // an empty file
    else pump();
  });
}
