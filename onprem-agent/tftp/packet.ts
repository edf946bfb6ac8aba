/**
 * TFTP packets (RFC 1350, options RFC 2347): bytes ⇄ typed values. Pure; never throws on input
 * from the network — a packet that does not parse comes back as `{ kind: "malformed" }`.
 */

export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

export const ErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

/** Requests longer than this are not TFTP (RFC 2347 allows 512; leave room for odd clients). */
const MAX_REQUEST_BYTES = 1500;

export interface Request {
  kind: "request";
  op: "RRQ" | "WRQ";
  filename: string;
  mode: string;
  /** Option names lower-cased (RFC 2347: case-insensitive); the first of a repeated name wins. */
  options: Map<string, string>;
}

export type Packet =
  | Request
  | { kind: "ack"; block: number }
  | { kind: "error"; code: number; message: string }
  | { kind: "other"; opcode: number }
  | { kind: "malformed"; reason: string };

export function parsePacket(buf: Buffer): Packet {
  if (buf.length < 4) return { kind: "malformed", reason: `${buf.length}-byte packet` };
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return parseRequest(buf, opcode === Opcode.RRQ ? "RRQ" : "WRQ");
    case Opcode.ACK:
      // Some clients pad ACKs; the block number is all that counts.
      return { kind: "ack", block: buf.readUInt16BE(2) };
    case Opcode.ERROR: {
      const end = buf.indexOf(0, 4);
      return { kind: "error", code: buf.readUInt16BE(2), message: printable(buf.subarray(4, end < 0 ? buf.length : end)) };
    }
    case Opcode.DATA:
    case Opcode.OACK:
      return { kind: "other", opcode };
    default:
      return { kind: "malformed", reason: `unknown opcode ${opcode}` };
  }
}

function parseRequest(buf: Buffer, op: "RRQ" | "WRQ"): Packet {
  if (buf.length > MAX_REQUEST_BYTES) return { kind: "malformed", reason: `${buf.length}-byte request` };
  if (buf[buf.length - 1] !== 0) return { kind: "malformed", reason: "request not NUL-terminated" };
  // latin1 maps every byte to one character, so a hostile name cannot hide behind UTF-8 decoding.
  const fields = buf
    .subarray(2, buf.length - 1)
    .toString("latin1")
    .split("\0");
  const [filename, mode, ...rest] = fields;
  if (!filename || mode === undefined || mode === "") return { kind: "malformed", reason: "request without filename or mode" };
  const options = new Map<string, string>();
  // An odd trailing field (an option without a value) is ignored rather than failing the request.
  for (let i = 0; i + 1 < rest.length; i += 2) {
    const name = rest[i].toLowerCase();
    if (name && !options.has(name)) options.set(name, rest[i + 1]);
  }
  return { kind: "request", op, filename, mode: mode.toLowerCase(), options };
}

/** Message text from the wire, with control characters made visible for logs. */
function printable(bytes: Buffer): string {
  return bytes
    .toString("latin1")
    .replace(/[^\x20-\x7e]/g, "?")
    .slice(0, 200);
}

export function oackPacket(options: ReadonlyMap<string, string>): Buffer {
  const parts = [Buffer.from([0, Opcode.OACK])];
  for (const [name, value] of options) parts.push(Buffer.from(`${name}\0${value}\0`, "latin1"));
  return Buffer.concat(parts);
}

export function errorPacket(code: number, message: string): Buffer {
  const text = Buffer.from(message.replace(/[^\x20-\x7e]/g, "?"), "latin1");
  const packet = Buffer.alloc(5 + text.length);
  packet.writeUInt16BE(Opcode.ERROR, 0);
  packet.writeUInt16BE(code, 2);
  text.copy(packet, 4);
  return packet;
}
