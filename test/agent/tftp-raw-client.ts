/**
 * A TFTP client made of a bare UDP socket, for what curl and atftp cannot do on purpose: send
 * garbage, ACK twice, stop ACKing, drop a block, look at every packet the server sends.
 */
import dgram from "node:dgram";

export interface Received {
  msg: Buffer;
  port: number;
}

export type Decoded =
  | { op: "DATA"; block: number; payload: Buffer }
  | { op: "OACK"; options: Record<string, string> }
  | { op: "ERROR"; code: number; message: string }
  | { op: "OTHER"; opcode: number };

export function decode(msg: Buffer): Decoded {
  const opcode = msg.readUInt16BE(0);
  if (opcode === 3) return { op: "DATA", block: msg.readUInt16BE(2), payload: msg.subarray(4) };
  if (opcode === 5) return { op: "ERROR", code: msg.readUInt16BE(2), message: msg.subarray(4, msg.indexOf(0, 4)).toString() };
  if (opcode === 6) {
    const fields = msg
      .subarray(2, msg.length - 1)
      .toString("latin1")
      .split("\0");
    const options: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) options[fields[i]] = fields[i + 1];
    return { op: "OACK", options };
  }
  return { op: "OTHER", opcode };
}

export function request(op: 1 | 2, filename: string, mode = "octet", options: Record<string, string | number> = {}): Buffer {
  const fields = [filename, mode, ...Object.entries(options).flatMap(([k, v]) => [k, String(v)])];
  return Buffer.concat([Buffer.from([0, op]), Buffer.from(fields.map((f) => `${f}\0`).join(""), "latin1")]);
}

export const rrq = (filename: string, options: Record<string, string | number> = {}, mode = "octet") => request(1, filename, mode, options);

export function ack(block: number): Buffer {
  return Buffer.from([0, 4, (block >> 8) & 0xff, block & 0xff]);
}

export class RawTftp {
  private queue: Received[] = [];
  private sending = 0;
  private idle: Array<() => void> = [];
  private waiter: (() => void) | undefined;

  private constructor(readonly socket: dgram.Socket) {
    socket.on("message", (msg, rinfo) => {
      this.queue.push({ msg, port: rinfo.port });
      this.waiter?.();
    });
  }

  static async open(): Promise<RawTftp> {
    const socket = dgram.createSocket("udp4");
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    return new RawTftp(socket);
  }

  send(msg: Buffer, port: number): void {
    this.sending++;
    this.socket.send(msg, port, "127.0.0.1", () => {
      if (--this.sending === 0) for (const done of this.idle.splice(0)) done();
    });
  }

  /** Resolves once every datagram queued so far has left (on loopback: is in the server's queue). */
  async sent(): Promise<void> {
    if (this.sending > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** The next datagram from the server, or undefined after `timeoutMs` of silence (0: only one already here). */
  async receive(timeoutMs = 3000): Promise<Received | undefined> {
    const until = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      const left = until - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  /** Closes once every queued datagram has left (a send is asynchronous; close would cancel it). */
  async close(): Promise<void> {
    await this.sent();
    this.socket.close();
  }
}

/**
 * Returns once the server has handled every datagram that reached its request port before this
 * call: a write request from a socket of its own is refused at once (whatever the load or the
 * transfer limit) and the server takes its request port's datagrams in order, so the refusal
 * arrives only after everything queued before it was dealt with. Tests asserting that the server
 * did not answer something call this first, so the absence is a fact and not a pause.
 */
export async function requestPortCaughtUp(port: number): Promise<void> {
  const probe = await RawTftp.open();
  try {
    probe.send(request(2, "caught-up-probe"), port);
    const reply = await probe.receive(10_000);
    if (!reply) throw new Error(`the TFTP server on port ${port} did not refuse the caught-up probe within 10 s`);
    const packet = decode(reply.msg);
    if (packet.op !== "ERROR" || packet.code !== 2) throw new Error(`unexpected answer to the caught-up probe: ${JSON.stringify(packet)}`);
  } finally {
    await probe.close();
  }
}

export interface RawGetResult {
  data: Buffer;
  oack?: Record<string, string>;
  /** How many times each 16-bit block number arrived. */
  copies: Map<number, number>;
  error?: { code: number; message: string };
  /** Source ports the server answered from (one transfer = one port). */
  ports: Set<number>;
}

/**
 * A download done by hand, acting as an RFC 7440 receiver: ACK after each full window or the last
 * block, and on a gap ACK the last block received in order. `onData` lets a test misbehave per
 * DATA packet: return "drop" to pretend it was lost.
 */
export async function rawGet(
  serverPort: number,
  filename: string,
  options: Record<string, string | number> = {},
  hooks: { ackTwice?: boolean; onData?: (block: number, copy: number, transferPort: number, client: RawTftp) => "drop" | undefined } = {},
): Promise<RawGetResult> {
  const client = await RawTftp.open();
  const result: RawGetResult = { data: Buffer.alloc(0), copies: new Map(), ports: new Set() };
  const chunks: Buffer[] = [];
  try {
    client.send(rrq(filename, options), serverPort);
    let requestsSent = 1;
    let blockSize = 512;
    let windowSize = 1;
    let expected = 1; // 16-bit number of the next block we need
    let inWindow = 0;
    const sendAck = (block: number, port: number) => {
      client.send(ack(block), port);
      if (hooks.ackTwice) client.send(ack(block), port);
    };
    for (;;) {
      const got = await client.receive(1000);
      if (!got && result.ports.size === 0 && requestsSent < 3) {
        // Like real clients, resend an unanswered request (it may have been dropped under load).
        client.send(rrq(filename, options), serverPort);
        requestsSent++;
        continue;
      }
      if (!got) throw new Error(`no packet from server (waiting for block ${expected})`);
      result.ports.add(got.port);
      const packet = decode(got.msg);
      if (packet.op === "ERROR") {
        result.error = { code: packet.code, message: packet.message };
        break;
      }
      if (packet.op === "OACK") {
        result.oack = packet.options;
        blockSize = Number(packet.options.blksize ?? 512);
        windowSize = Number(packet.options.windowsize ?? 1);
        sendAck(0, got.port);
        continue;
      }
      if (packet.op !== "DATA") throw new Error(`unexpected opcode ${packet.opcode}`);
      const copy = (result.copies.get(packet.block) ?? 0) + 1;
      result.copies.set(packet.block, copy);
      if (hooks.onData?.(packet.block, copy, got.port, client) === "drop") continue;
      if (packet.block !== expected) {
        const ahead = ((packet.block - expected) & 0xffff) < 0x8000;
        if (ahead) {
          inWindow = 0;
          sendAck((expected - 1) & 0xffff, got.port);
        }
        continue;
      }
      chunks.push(Buffer.from(packet.payload));
      const last = packet.payload.length < blockSize;
      expected = (expected + 1) & 0xffff;
      if (last || ++inWindow >= windowSize) {
        inWindow = 0;
        sendAck(packet.block, got.port);
      }
      if (last) break;
    }
  } finally {
    await client.close();
  }
  result.data = Buffer.concat(chunks);
  return result;
}
