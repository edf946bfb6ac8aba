/**
 * The bytes one TFTP transfer sends, cut into blocks. A file is read in chunks of whole blocks
 * with the next chunk read ahead, so a lock-step transfer almost never waits on the disk and a
 * block that is already in memory is handed over synchronously (the hot path of every ACK).
 */
import type { FileHandle } from "node:fs/promises";

export interface Source {
  /** Bytes the client will receive (the tsize answer). */
  readonly size: number;
  /** Payload of block `n` (1-based); the last block is shorter than the block size, maybe empty. */
  block(n: number): Buffer | Promise<Buffer>;
  close(): Promise<void>;
}

const CHUNK_TARGET_BYTES = 256 * 1024;

export function bufferSource(content: Buffer, blockSize: number): Source {
  return {
    size: content.length,
    block: (n) => content.subarray((n - 1) * blockSize, n * blockSize),
    close: async () => {},
  };
}

export function fileSource(handle: FileHandle, size: number, blockSize: number): Source {
  const blocksPerChunk = Math.max(1, Math.floor(CHUNK_TARGET_BYTES / blockSize));
  const chunkBytes = blocksPerChunk * blockSize;
  const chunks = new Map<number, Buffer | Promise<Buffer>>();
  let closed = false;

  function load(index: number): Buffer | Promise<Buffer> {
    const have = chunks.get(index);
    if (have) return have;
    const offset = index * chunkBytes;
    const length = Math.max(0, Math.min(chunkBytes, size - offset));
    const pending = handle.read(Buffer.allocUnsafe(length), 0, length, offset).then(({ bytesRead, buffer }) => {
      // A file that shrank under us is sent as it is now, never padded with stale memory.
      const chunk = buffer.subarray(0, bytesRead);
      if (!closed && chunks.get(index) === pending) chunks.set(index, chunk);
      return chunk;
    });
    // A read that fails (file removed, I/O error) rejects the block() that waits on it; the
    // read-ahead copy of the promise must not become an unhandled rejection.
    pending.catch(() => chunks.delete(index));
    chunks.set(index, pending);
    return pending;
  }

  return {
    size,
    block(n) {
      const index = Math.floor((n - 1) / blocksPerChunk);
      for (const key of chunks.keys()) if (key < index - 1) chunks.delete(key);
      if ((index + 1) * chunkBytes < size) load(index + 1);
      const start = ((n - 1) % blocksPerChunk) * blockSize;
      const chunk = load(index);
      if (Buffer.isBuffer(chunk)) return chunk.subarray(start, start + blockSize);
      return chunk.then((c) => c.subarray(start, start + blockSize));
    },
    async close() {
      closed = true;
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
