/**
 * DHCPv4 option codes (RFC 2132 and later) and typed readers/writers for the ones the server uses.
 * Options travel as raw bytes in the packet (codec.ts); these helpers give them meaning.
 */
export const Opt = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DnsServers: 6,
  Hostname: 12,
  DomainName: 15,
  RootPath: 17,
  BroadcastAddress: 28,
  VendorSpecific: 43,
  RequestedAddress: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClassId: 60,
  ClientId: 61,
  TftpServerName: 66,
  BootfileName: 67,
  UserClass: 77,
  RelayAgentInfo: 82,
  ClientSystemArch: 93,
  ClientNdi: 94,
  ClientUuid: 97,
  DomainSearch: 119,
  IpxeEncapsulated: 175,
  End: 255,
} as const;

export enum MessageType {
  Discover = 1,
  Offer = 2,
  Request = 3,
  Decline = 4,
  Ack = 5,
  Nak = 6,
  Release = 7,
  Inform = 8,
}

export const messageTypeName: Record<number, string> = {
  1: "DISCOVER",
  2: "OFFER",
  3: "REQUEST",
  4: "DECLINE",
  5: "ACK",
  6: "NAK",
  7: "RELEASE",
  8: "INFORM",
};

// ---- encoders -------------------------------------------------------------------------------

/**
 * The addresses replies carry are the settings' few (server id, masks, routers, DNS): encoded
 * once, not per reply. Bounded, so odd callers cannot grow it; the buffers are shared, so never
 * written to.
 */
const encodedIps = new Map<string, Buffer>();
const encodedIpLists = new WeakMap<readonly string[], Buffer>();

export function ipBytes(ip: string): Buffer {
  let b = encodedIps.get(ip);
  if (!b) {
    b = Buffer.from(ip.split(".").map(Number));
    if (encodedIps.size < 256) encodedIps.set(ip, b);
  }
  return b;
}

export function ipListBytes(ips: readonly string[]): Buffer {
  let b = encodedIpLists.get(ips);
  if (!b) {
    b = Buffer.concat(ips.map(ipBytes));
    encodedIpLists.set(ips, b);
  }
  return b;
}

export function u8(v: number): Buffer {
  return Buffer.from([v & 0xff]);
}

export function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(Math.max(0, Math.min(0xffffffff, Math.floor(v))));
  return b;
}

export function text(s: string): Buffer {
  return Buffer.from(s, "utf8");
}

/** RFC 1035 §3.1 label encoding (option 119 domain search, no compression). */
export function domainList(domains: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const d of domains) {
    for (const label of d.split(".").filter(Boolean)) {
      const l = Buffer.from(label, "ascii");
      parts.push(Buffer.from([l.length]), l);
    }
    parts.push(Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

/** Sub-option TLVs for encapsulated spaces (43 PXE, 175 iPXE). */
export function subOptions(entries: ReadonlyArray<[number, Buffer]>, withEnd: boolean): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of entries) parts.push(Buffer.from([code, value.length]), value);
  if (withEnd) parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

// ---- decoders (return undefined when the bytes do not have the expected shape) ------------

export function readIp(b: Buffer | undefined): string | undefined {
  if (b?.length !== 4) return undefined;
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

export function readU8(b: Buffer | undefined): number | undefined {
  return b && b.length === 1 ? b[0] : undefined;
}

export function readU16(b: Buffer | undefined): number | undefined {
  return b && b.length === 2 ? b.readUInt16BE(0) : undefined;
}

export function readU32(b: Buffer | undefined): number | undefined {
  return b && b.length === 4 ? b.readUInt32BE(0) : undefined;
}

/** Printable text; NUL terminators (sent by some firmware) are cut. */
export function readText(b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString("latin1");
}

/** Option 93: a list of 16-bit architecture types (RFC 4578); the first is the client's. */
export function readArchList(b: Buffer | undefined): number[] | undefined {
  if (!b || b.length < 2 || b.length % 2 !== 0) return undefined;
  const out: number[] = [];
  for (let i = 0; i < b.length; i += 2) out.push(b.readUInt16BE(i));
  return out;
}

/**
 * Option 77 user classes. RFC 3004 frames each class as <len><bytes>; iPXE and most firmware send
 * one bare string instead ("iPXE"). A buffer that frames exactly is read as RFC 3004, otherwise as
 * one plain string.
 */
export function readUserClasses(b: Buffer | undefined): string[] {
  if (!b || b.length === 0) return [];
  const framed: string[] = [];
  let i = 0;
  while (i < b.length) {
    const len = b[i];
    if (len === 0 || i + 1 + len > b.length) break;
    framed.push(b.subarray(i + 1, i + 1 + len).toString("latin1"));
    i += 1 + len;
  }
  if (i === b.length && framed.length > 0) return [...framed, b.toString("latin1")];
  return [readText(b) ?? ""];
}
