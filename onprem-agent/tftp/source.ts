/**
 * The bytes one TFTP transfer sends, cut into blocks: from memory (generated content, cached
 * small files), or for large files from disk in chunks of whole blocks,
 * the first one as soon as the transfer is set up and each next one ahead of need, so a lock-step
 * transfer never waits on the disk and a block in memory is handed over synchronously (the hot
 * path of every ACK). Chunk buffers come from a pool shared by all transfers: fresh memory costs
 * a page fault per 4 KiB, which measured as a 4 ms pause before the first block.
 */
import type { FileHandle } from "node:fs/promises";

export interface Source {
  /** Bytes the client will receive (the tsize answer). */
  readonly size: number;
  /**
   * Copies the payload of block `n` (1-based) into `packet` at offset 4 and returns its length
   * (the last block is shorter than the block size, maybe empty) — or, when those bytes are still
   * being read, a promise to wait on before asking again.
   */
  copyBlock(n: number, packet: Buffer): number | Promise<unknown>;
  close(): Promise<void>;
}

/** Chunk buffers; blksize is at most 65464, so whole blocks always fit. */
export const CHUNK_BYTES = 256 * 1024;

export class ChunkBuffers {
  private idle: Buffer[] = [];
  constructor(private readonly maxIdle = 64) {}
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
    copyBlock: (n, packet) =>
      content.copy(packet, 4, Math.min((n - 1) * blockSize, content.length), Math.min(n * blockSize, content.length)),
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
  if (chunkBytes < size) load(1);
  let current = 0;
  /** The chunk being sent, once read: the per-block path touches no map. */
  let currentChunk: Buffer | undefined;
  return {
    size,
    copyBlock(n, packet) {
      const index = Math.floor((n - 1) / blocksPerChunk);
      if (index === current && currentChunk) {
        const start = (n - 1 - index * blocksPerChunk) * blockSize;
        return currentChunk.copy(packet, 4, Math.min(start, currentChunk.length), Math.min(start + blockSize, currentChunk.length));
      }
      if (index !== current) {
        currentChunk = undefined;
        // Moving on to the next chunk: the one before is done with, the one after is read ahead.
        for (let old = current; old < index; old++) if (Buffer.isBuffer(chunks.get(old))) drop(old);
        current = index;
        if ((index + 1) * chunkBytes < size) load(index + 1);
      }
      const chunk = load(index);
      if (!Buffer.isBuffer(chunk)) return chunk;
      currentChunk = chunk;
      const start = ((n - 1) % blocksPerChunk) * blockSize;
      return chunk.copy(packet, 4, Math.min(start, chunk.length), Math.min(start + blockSize, chunk.length));
    },
    async close() {
      closed = true;
      currentChunk = undefined;
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
