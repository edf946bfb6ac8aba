/**
 * Client packets for DHCP tests, written byte by byte from the RFC 2131 §2 layout (independent of
 * the codec under test), plus a reader for the bits of replies the tests check.
 */
export interface ClientPacketSpec {
  type: number;
  mac: string;
  xid?: number;
  flags?: number;
  ciaddr?: string;
  giaddr?: string;
  /** Options in wire order: [code, bytes]. Option 53 is added first from `type`. */
  options?: Array<[number, Buffer | number[] | string]>;
  /** Leave out the END option. */
  noEnd?: boolean;
  hops?: number;
}

function ip(s: string): number[] {
  return s.split(".").map(Number);
}

export function clientPacket(spec: ClientPacketSpec): Buffer {
  const b = Buffer.alloc(236);
  b[0] = 1; // BOOTREQUEST
  b[1] = 1; // Ethernet
  b[2] = 6;
  b[3] = spec.hops ?? 0;
  b.writeUInt32BE(spec.xid ?? 0x12345678, 4);
  b.writeUInt16BE(spec.flags ?? 0, 10);
  Buffer.from(ip(spec.ciaddr ?? "0.0.0.0")).copy(b, 12);
  Buffer.from(ip(spec.giaddr ?? "0.0.0.0")).copy(b, 24);
  Buffer.from(spec.mac.split(":").map((h) => parseInt(h, 16))).copy(b, 28);
  const opts: number[] = [0x63, 0x82, 0x53, 0x63, 53, 1, spec.type];
  for (const [code, value] of spec.options ?? []) {
    const bytes = typeof value === "string" ? [...Buffer.from(value, "latin1")] : [...value];
    opts.push(code, bytes.length, ...bytes);
  }
  if (!spec.noEnd) opts.push(255);
  return Buffer.concat([b, Buffer.from(opts)]);
}

export const ipOpt = (s: string) => ip(s);

/** Minimal independent reply reader: header fields and options (no overload handling). */
export function readReply(buf: Buffer) {
  const opts = new Map<number, Buffer>();
  let i = 240;
  while (i < buf.length && buf[i] !== 255) {
    if (buf[i] === 0) {
      i++;
      continue;
    }
    const code = buf[i];
    const len = buf[i + 1];
    const v = buf.subarray(i + 2, i + 2 + len);
    opts.set(code, opts.has(code) ? Buffer.concat([opts.get(code)!, v]) : v);
    i += 2 + len;
  }
  const ipAt = (o: number) => `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`;
  const cstr = (a: number, z: number) => {
    const s = buf.subarray(a, z);
    const n = s.indexOf(0);
    return s.subarray(0, n < 0 ? s.length : n).toString("latin1");
  };
  return {
    op: buf[0],
    xid: buf.readUInt32BE(4),
    flags: buf.readUInt16BE(10),
    ciaddr: ipAt(12),
    yiaddr: ipAt(16),
    siaddr: ipAt(20),
    giaddr: ipAt(24),
    sname: cstr(44, 108),
    file: cstr(108, 236),
    type: opts.get(53)?.[0],
    opts,
    text: (code: number) => opts.get(code)?.toString("latin1"),
    ipOf: (code: number) => {
      const v = opts.get(code);
      return v && v.length >= 4 ? `${v[0]}.${v[1]}.${v[2]}.${v[3]}` : undefined;
    },
    u32: (code: number) => opts.get(code)?.readUInt32BE(0),
    length: buf.length,
  };
}
