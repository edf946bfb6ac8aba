/**
 * One read transfer on its own socket (its own TID, RFC 1350 §4): optional OACK, then DATA in
 * windows of `windowSize` blocks (RFC 7440; 1 = classic lock-step), each window retransmitted
 * after `timeoutMs` at most `retries` times in a row before the transfer is given up.
 *
 * - The socket is `connect()`ed to the client, so the kernel drops datagrams from any other
 *   address or port: a stranger cannot ACK, abort or confuse the transfer.
 * - A duplicate ACK never triggers a retransmission (the Sorcerer's Apprentice bug, RFC 1123
 *   §4.2.3.1); only the timer does. An ACK for a block inside the window (a receiver that lost
 *   the rest) slides the window and resends from there, as RFC 7440 asks.
 * - Block numbers are 16 bits on the wire and roll over 65535 → 0, as tftpd-hpa, curl and atftp
 *   expect; internally blocks are counted without limit.
 */
import type { Socket } from "node:dgram";
import { ErrorCode, errorPacket, Opcode, oackPacket, parsePacket } from "./packet";
import type { Source } from "./source";

export type Outcome = "complete" | "timeout" | "aborted" | "error" | "closed";

export interface TransferParams {
  socket: Socket;
  source: Source;
  blockSize: number;
  windowSize: number;
  timeoutMs: number;
  retries: number;
  /** Accepted options; empty means start with DATA 1 (no OACK). */
  oack: Map<string, string>;
}

export interface TransferEvents {
  /** The first DATA block went out (the client did not just probe the size). */
  onFirstData(): void;
  onRetransmit(): void;
  /** A datagram from the client that is not a usable packet. */
  onDropped(reason: string): void;
  onEnd(outcome: Outcome, detail: string): void;
}

export class Transfer {
  private readonly totalBlocks: number;
  /** First block not yet acknowledged, and the next block to send. */
  private base = 1;
  private next = 1;
  /**
   * DATA packets of blocks base..next-1, kept for retransmission: block n lives in slot
   * n % windowSize, reused once n is acknowledged (so the client has it and no send of it is
   * pending). No allocation per block.
   */
  private readonly slots: Buffer[] = [];
  private readonly lengths: number[] = [];
  private waitingForOack: boolean;
  private timer: NodeJS.Timeout | undefined;
  private armedAt = 0;
  private failures = 0;
  private filling = false;
  private ended = false;
  bytesSent = 0;

  constructor(
    private readonly p: TransferParams,
    private readonly events: TransferEvents,
  ) {
    // The last block is always shorter than blockSize, so a file of exact multiple size ends
    // with an empty block.
    this.totalBlocks = Math.floor(p.source.size / p.blockSize) + 1;
    this.waitingForOack = p.oack.size > 0;
    p.socket.on("message", (msg) => this.onMessage(msg));
    // ICMP port unreachable on a connected socket: the client has gone away.
    p.socket.on("error", (err) => this.end("aborted", `socket error: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  }

  start(): void {
    if (this.waitingForOack) {
      this.send(oackPacket(this.p.oack));
      this.arm();
    } else {
      this.fill();
    }
  }

  /** Stops the transfer without telling the client (server shutdown, client restarted). */
  close(detail: string): void {
    this.end("closed", detail);
  }

  private onMessage(msg: Buffer): void {
    if (this.ended) return;
    // The hot path, once per block: an ACK, read without building a packet object.
    if (msg.length >= 4 && msg[0] === 0 && msg[1] === Opcode.ACK) {
      this.onAck(msg.readUInt16BE(2));
      return;
    }
    const packet = parsePacket(msg);
    switch (packet.kind) {
      case "ack":
        this.onAck(packet.block);
        break;
      case "error":
        // Clients routinely answer an OACK with an error after a tsize-only probe.
        this.end("aborted", `client sent error ${packet.code}: ${packet.message}`);
        break;
      case "malformed":
        this.events.onDropped(packet.reason);
        break;
      default:
        this.sendError(ErrorCode.ILLEGAL_OPERATION, "only ACK and ERROR are expected during a read");
        this.end("error", `client sent opcode ${packet.kind === "other" ? packet.opcode : packet.op} during a read`);
    }
  }

  private onAck(block: number): void {
    if (this.waitingForOack) {
      if (block !== 0) return;
      this.waitingForOack = false;
      this.failures = 0;
      this.fill();
      return;
    }
    // Which outstanding block does this 16-bit number name? Anything else (the previous ACK
    // repeated, a block not sent yet) is ignored.
    const acked = this.base + ((block - this.base) & 0xffff);
    if (acked >= this.next) return;
    const partial = acked < this.next - 1;
    this.base = acked + 1;
    this.failures = 0;
    if (this.base > this.totalBlocks) {
      this.end("complete", `${this.bytesSent} bytes`);
      return;
    }
    if (partial) this.resendWindow();
    this.fill();
  }

  /**
   * Sends new blocks until the window is full. Synchronous while the blocks are in memory (the
   * common case: one ACK in, one DATA out, no promise or timer allocated); waits only for a chunk
   * still being read from disk.
   */
  private fill(): void {
    if (this.filling) return;
    const { source, blockSize, windowSize } = this.p;
    while (!this.ended && this.next <= this.totalBlocks && this.next < this.base + windowSize) {
      const n = this.next;
      const slot = n % windowSize;
      this.slots[slot] ??= Buffer.allocUnsafe(4 + blockSize);
      const packet = this.slots[slot];
      const got = source.copyBlock(n, packet);
      if (typeof got !== "number") {
        this.filling = true;
        got.then(
          () => {
            this.filling = false;
            this.fill();
          },
          (err: Error) => {
            this.filling = false;
            this.sendError(ErrorCode.NOT_DEFINED, "read error");
            this.end("error", `read failed: ${err.message}`);
          },
        );
        break;
      }
      packet[0] = 0;
      packet[1] = Opcode.DATA;
      packet.writeUInt16BE(n & 0xffff, 2);
      this.lengths[slot] = 4 + got;
      this.next = n + 1;
      this.bytesSent += got;
      this.sendSlot(slot);
      if (n === 1) this.events.onFirstData();
    }
    this.arm();
  }

  private sendSlot(slot: number): void {
    const packet = this.slots[slot];
    const length = this.lengths[slot];
    this.send(length === packet.length ? packet : packet.subarray(0, length));
  }

  private resendWindow(): void {
    for (let n = this.base; n < this.next; n++) this.sendSlot(n % this.p.windowSize);
  }

  /**
   * (Re)starts the retransmission clock. Progress only records the time (this runs once per
   * block); the one pending timer, when it fires early, sleeps again for the rest.
   */
  private arm(): void {
    if (this.ended) return;
    this.armedAt = Date.now();
    this.timer ??= setTimeout(() => this.onTimer(), this.p.timeoutMs);
  }

  private onTimer(): void {
    this.timer = undefined;
    if (this.ended) return;
    const left = this.armedAt + this.p.timeoutMs - Date.now();
    if (left > 0) {
      this.timer = setTimeout(() => this.onTimer(), left);
      return;
    }
    this.onTimeout();
  }

  private onTimeout(): void {
    if (this.failures >= this.p.retries) {
      this.sendError(ErrorCode.NOT_DEFINED, "timed out waiting for ACK");
      const waitingFor = this.waitingForOack ? "the OACK" : `block ${this.base} of ${this.totalBlocks}`;
      this.end("timeout", `no ACK for ${waitingFor} after ${this.p.retries} retransmissions`);
      return;
    }
    this.failures++;
    this.events.onRetransmit();
    if (this.waitingForOack) this.send(oackPacket(this.p.oack));
    else this.resendWindow();
    this.arm();
  }

  private send(packet: Buffer): void {
    if (this.ended) return;
    // No callback: a send that completes at once then costs no nextTick. A client that has gone
    // shows as ICMP port unreachable, reported by the receive that follows (the "error" event).
    this.p.socket.send(packet);
  }

  private sendError(code: number, message: string): void {
    this.send(errorPacket(code, message));
  }

  private end(outcome: Outcome, detail: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    const { socket, source } = this.p;
    // Let an error packet queued just before leave the socket before it closes.
    setImmediate(() => {
      try {
        socket.close();
      } catch {
        // already closed
      }
    });
    void source.close();
    this.events.onEnd(outcome, detail);
  }
}
