/**
 * DHCPv4 wire format (RFC 2131 §2, RFC 2132, RFC 3396): bytes ⇄ typed packet.
 *
 * Hand-written on purpose: the one npm DHCP package (`dhcp`, 0.2.x) crashes on real iPXE and nmap
 * requests, mis-parses PAD, decodes binary options as text and has no relay, NAK or INFORM support
 * (checked when this was written); nothing else on npm is maintained. The format is small and fixed, and
 * owning it lets every malformed packet become a typed error instead of an exception in a socket
 * handler.
 *
 * Options are kept as raw bytes keyed by code, in arrival order; unknown ones survive untouched.
 * Several instances of one code are concatenated (RFC 3396), and the sname/file fields are read
 * as option space when option 52 says so.
 */
import { Opt } from "./options";

export const MAGIC_COOKIE = 0x63825363;
const HEADER_LEN = 236;
/** A BOOTP message is at least 300 bytes (RFC 951); some relays and old clients drop shorter ones. */
export const MIN_REPLY_LEN = 300;
/** Smallest maximum message size a client may announce (RFC 2132 §9.10, includes IP+UDP). */
const MIN_MAX_MESSAGE = 576;
const IP_UDP_HEADERS = 28;

export interface DhcpPacket {
  op: 1 | 2;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** 16 bytes as on the wire; the MAC is the first `hlen`. */
  chaddr: Buffer;
  sname: string;
  file: string;
  options: Map<number, Buffer>;
}

export const BROADCAST_FLAG = 0x8000;

export class MalformedPacket extends Error {}

function ipAt(b: Buffer, off: number): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

function cString(b: Buffer): string {
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString("latin1");
}

/** Parses one option area into `into`; returns false when END was never seen (tolerated). */
function parseOptions(area: Buffer, into: Map<number, Buffer>, where: string): void {
  let i = 0;
  while (i < area.length) {
    const code = area[i];
    if (code === Opt.Pad) {
      i++;
      continue;
    }
    if (code === Opt.End) return;
    if (i + 1 >= area.length) throw new MalformedPacket(`option ${code} in ${where} has no length byte`);
    const len = area[i + 1];
    if (i + 2 + len > area.length) throw new MalformedPacket(`option ${code} in ${where} runs past the end (length ${len})`);
    const value = area.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, value]) : Buffer.from(value));
    i += 2 + len;
  }
}

export function decodePacket(buf: Buffer): DhcpPacket {
  if (buf.length < HEADER_LEN + 4) throw new MalformedPacket(`packet too short (${buf.length} bytes)`);
  const op = buf[0];
  if (op !== 1 && op !== 2) throw new MalformedPacket(`bad op ${op}`);
  const hlen = buf[2];
  if (hlen > 16) throw new MalformedPacket(`bad hlen ${hlen}`);
  if (buf.readUInt32BE(HEADER_LEN) !== MAGIC_COOKIE) throw new MalformedPacket("no DHCP magic cookie (plain BOOTP)");
  const options = new Map<number, Buffer>();
  parseOptions(buf.subarray(HEADER_LEN + 4), options, "options");
  const overload = options.get(Opt.Overload);
  const snameField = buf.subarray(44, 108);
  const fileField = buf.subarray(108, 236);
  let sname = cString(snameField);
  let file = cString(fileField);
  if (overload) {
    if (overload.length !== 1 || overload[0] < 1 || overload[0] > 3) throw new MalformedPacket("bad option overload (52)");
    // RFC 3396 §7: options, then file, then sname.
    if (overload[0] & 1) {
      parseOptions(fileField, options, "file");
      file = "";
    }
    if (overload[0] & 2) {
      parseOptions(snameField, options, "sname");
      sname = "";
    }
  }
  return {
    op,
    htype: buf[1],
    hlen,
    hops: buf[3],
    xid: buf.readUInt32BE(4),
    secs: buf.readUInt16BE(8),
    flags: buf.readUInt16BE(10),
    ciaddr: ipAt(buf, 12),
    yiaddr: ipAt(buf, 16),
    siaddr: ipAt(buf, 20),
    giaddr: ipAt(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname,
    file,
    options,
  };
}

function writeIp(b: Buffer, off: number, ip: string): void {
  const parts = ip.split(".");
  for (let k = 0; k < 4; k++) b[off + k] = Number(parts[k]) & 0xff;
}

/** Bytes one option takes as TLVs, split into 255-byte pieces when longer (RFC 3396). */
function optionLength(value: Buffer): number {
  return value.length === 0 ? 2 : value.length + 2 * Math.ceil(value.length / 255);
}

/** Writes one option at `off` (see optionLength); returns the offset after it. */
function writeOption(b: Buffer, off: number, code: number, value: Buffer): number {
  if (value.length === 0) {
    b[off] = code;
    b[off + 1] = 0;
    return off + 2;
  }
  for (let i = 0; i < value.length; i += 255) {
    const n = Math.min(255, value.length - i);
    b[off] = code;
    b[off + 1] = n;
    value.copy(b, off + 2, i, i + n);
    off += 2 + n;
  }
  return off;
}

export interface EncodeLimits {
  /** Client's option 57 value (whole IP datagram), when it sent one. */
  maxMessageSize?: number;
  /** Option codes that may be left out, least important first, when the reply must shrink. */
  droppable?: readonly number[];
}

/**
 * Encodes a packet. Option 53 goes first and 82 last (RFC 3046 §2.2), others in map order; the
 * reply is padded to 300 bytes. When the client announced a maximum size (option 57) that the
 * reply would exceed, droppable options are removed one by one; if that is not enough, an error
 * is thrown and the caller drops the reply.
 */
export function encodePacket(p: DhcpPacket, limits: EncodeLimits = {}): Buffer {
  const maxTotal = limits.maxMessageSize !== undefined ? Math.max(limits.maxMessageSize, MIN_MAX_MESSAGE) - IP_UDP_HEADERS : Infinity;
  let options = p.options;
  let droppable = limits.droppable ?? [];
  for (;;) {
    const length = encodedLength(options);
    if (length <= maxTotal) return encodeOnce(p, options, length);
    const [next, ...rest] = droppable;
    if (next === undefined) throw new MalformedPacket(`reply of ${length} bytes exceeds the client's maximum of ${maxTotal}`);
    // Only a reply that must shrink pays for a copy of its options.
    if (options === p.options) options = new Map(options);
    options.delete(next);
    droppable = rest;
  }
}

/** Not encoded: 53 and 82 have fixed places, PAD and END are not options. */
function placedApart(code: number): boolean {
  return code === Opt.MessageType || code === Opt.RelayAgentInfo || code === Opt.Pad || code === Opt.End;
}

/** The size of the encoded packet, padded to MIN_REPLY_LEN. */
function encodedLength(options: Map<number, Buffer>): number {
  let n = HEADER_LEN + 4 + 1; // header, cookie, END
  for (const [code, value] of options) if (code !== Opt.Pad && code !== Opt.End) n += optionLength(value);
  return Math.max(n, MIN_REPLY_LEN);
}

/** Written straight into one buffer: a reply costs one allocation, not one per option. */
function encodeOnce(p: DhcpPacket, options: Map<number, Buffer>, length: number): Buffer {
  const b = Buffer.alloc(length);
  b[0] = p.op;
  b[1] = p.htype;
  b[2] = p.hlen;
  b[3] = p.hops;
  b.writeUInt32BE(p.xid >>> 0, 4);
  b.writeUInt16BE(p.secs & 0xffff, 8);
  b.writeUInt16BE(p.flags & 0xffff, 10);
  writeIp(b, 12, p.ciaddr);
  writeIp(b, 16, p.yiaddr);
  writeIp(b, 20, p.siaddr);
  writeIp(b, 24, p.giaddr);
  p.chaddr.copy(b, 28, 0, Math.min(16, p.chaddr.length));
  b.write(p.sname.slice(0, 63), 44, "latin1");
  b.write(p.file.slice(0, 127), 108, "latin1");
  b.writeUInt32BE(MAGIC_COOKIE, HEADER_LEN);
  let off = HEADER_LEN + 4;
  const mt = options.get(Opt.MessageType);
  if (mt) off = writeOption(b, off, Opt.MessageType, mt);
  for (const [code, value] of options) if (!placedApart(code)) off = writeOption(b, off, code, value);
  const relay = options.get(Opt.RelayAgentInfo);
  if (relay) off = writeOption(b, off, Opt.RelayAgentInfo, relay);
  b[off] = Opt.End;
  return b;
}

/** The client's hardware address in lower-case colon form (Ethernet: 6 bytes). */
export function clientMac(p: DhcpPacket): string {
  const parts: string[] = [];
  for (let i = 0; i < p.hlen; i++) parts.push(p.chaddr[i].toString(16).padStart(2, "0"));
  return parts.join(":");
}
