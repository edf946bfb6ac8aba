/**
 * The bytes one TFTP transfer sends, cut into blocks. A file is read in chunks of whole blocks,
 * the first one as soon as the transfer is set up and each next one ahead of need, so a lock-step
 * transfer never waits on the disk and a block in memory is handed over synchronously (the hot
 * path of every ACK). Chunk buffers come from a pool shared by all transfers: fresh memory costs
 * a page fault per 4 KiB, which measured as a 4 ms pause before the first block.
 */
import type { FileHandle } from "node:fs/promises";

export interface Source {
  /** Bytes the client will receive (the tsize answer). */
  readonly size: number;
  /** Payload of block `n` (1-based); the last block is shorter than the block size, maybe empty. */
  block(n: number): Buffer | Promise<Buffer>;
  close(): Promise<void>;
}

/** Chunk buffers; blksize is at most 65464, so one block always fits. */
export const CHUNK_BYTES = 64 * 1024;

export class ChunkBuffers {
  private idle: Buffer[] = [];
  constructor(private readonly maxIdle = 256) {}
  take(): Buffer {
    return this.idle.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
  }
  give(buf: Buffer): void {
    if (this.idle.length < this.maxIdle) this.idle.push(buf);
  }
}

export function bufferSource(content: Buffer, blockSize: number): Source {
  return {
    size: content.length,
    block: (n) => content.subarray((n - 1) * blockSize, n * blockSize),
    close: async () => {},
  };
}

/**
 * Holds at most the chunk being sent and the next one: retransmissions resend DATA packets the
 * transfer keeps, never re-read.
 */
export function fileSource(handle: FileHandle, size: number, blockSize: number, buffers: ChunkBuffers): Source {
  const blocksPerChunk = Math.floor(CHUNK_BYTES / blockSize);
  const chunkBytes = blocksPerChunk * blockSize;
  const chunks = new Map<number, Buffer | Promise<Buffer>>();
  /** Pooled buffers in use (the map holds views of them). */
  const owned = new Map<number, Buffer>();
  let closed = false;

  function drop(index: number) {
    chunks.delete(index);
    const buf = owned.get(index);
    owned.delete(index);
    if (buf) buffers.give(buf);
  }

  function load(index: number): Buffer | Promise<Buffer> {
    const have = chunks.get(index);
    if (have) return have;
    const offset = index * chunkBytes;
    const length = Math.max(0, Math.min(chunkBytes, size - offset));
    const buf = buffers.take();
    owned.set(index, buf);
    const pending = handle.read(buf, 0, length, offset).then(({ bytesRead }) => {
      // A file that shrank under us is sent as it is now, never padded with stale memory.
      const chunk = buf.subarray(0, bytesRead);
      if (closed) buffers.give(buf);
      else if (chunks.get(index) === pending) chunks.set(index, chunk);
      return chunk;
    });
    // A failed read rejects the block() that waits on it; the read-ahead copy of the promise must
    // not become an unhandled rejection.
    pending.catch(() => {
      if (chunks.get(index) === pending) chunks.delete(index);
      owned.delete(index);
    });
    chunks.set(index, pending);
    return pending;
  }

  load(0);
  return {
    size,
    block(n) {
      const index = Math.floor((n - 1) / blocksPerChunk);
      for (const key of chunks.keys()) if (key < index && chunks.get(key) instanceof Buffer) drop(key);
      if ((index + 1) * chunkBytes < size) load(index + 1);
      const start = ((n - 1) % blocksPerChunk) * blockSize;
      const chunk = load(index);
      if (Buffer.isBuffer(chunk)) return chunk.subarray(start, start + blockSize);
      return chunk.then((c) => c.subarray(start, start + blockSize));
    },
    async close() {
      closed = true;
      for (const [index, chunk] of chunks) if (Buffer.isBuffer(chunk)) drop(index);
      chunks.clear();
      await handle.close().catch(() => {});
    },
  };
}

/** RFC 1350 netascii: every LF becomes CR LF and a bare CR becomes CR NUL. */
export function toNetascii(content: Buffer): Buffer {
  const out: number[] = [];
  for (const byte of content) {
    if (byte === 0x0a) out.push(0x0d, 0x0a);
    else if (byte === 0x0d) out.push(0x0d, 0x00);
    else out.push(byte);
  }
  return Buffer.from(out);
}
