import { describe, expect, it } from "vitest";
import { type DhcpPacket, decodePacket, encodePacket, MalformedPacket } from "../../onprem-agent/dhcp/codec";
import { Opt, readUserClasses } from "../../onprem-agent/dhcp/options";
import { seededRandom } from "../support/random";
import { clientPacket, readReply } from "./dhcp-packets";

const MAC = "52:54:00:12:34:56";

describe("DHCP codec", () => {
  it("decodes the RFC 2131 header and options of a DISCOVER", () => {
    const p = decodePacket(
      clientPacket({
        type: 1,
        mac: MAC,
        xid: 0xdeadbeef,
        flags: 0x8000,
        options: [
          [55, [1, 3, 6, 12, 67]],
          [93, [0, 7]],
          [77, "iPXE"],
        ],
      }),
    );
    expect(p.op).toBe(1);
    expect(p.xid).toBe(0xdeadbeef);
    expect(p.flags).toBe(0x8000);
    expect(p.chaddr.subarray(0, 6).toString("hex")).toBe("525400123456");
    expect([...p.options.get(Opt.ParameterRequestList)!]).toEqual([1, 3, 6, 12, 67]);
    expect(p.options.get(Opt.MessageType)![0]).toBe(1);
    expect(p.options.get(Opt.ClientSystemArch)!.readUInt16BE(0)).toBe(7);
  });

  it("skips PAD, stops at END, keeps unknown options raw", () => {
    const buf = clientPacket({ type: 1, mac: MAC, options: [[250, [1, 2, 3]]] });
    // Insert two PADs after the cookie.
    const padded = Buffer.concat([buf.subarray(0, 240), Buffer.from([0, 0]), buf.subarray(240), Buffer.from([7, 7, 7])]);
    const p = decodePacket(padded);
    expect([...p.options.get(250)!]).toEqual([1, 2, 3]);
    expect(p.options.has(7)).toBe(false);
  });

  it("concatenates split long options (RFC 3396) and reads overloaded file/sname (option 52)", () => {
    const buf = clientPacket({
      type: 1,
      mac: MAC,
      options: [
        [43, "abc"],
        [52, [3]],
        [43, "def"],
      ],
    });
    // file field (108..235) carries option 43 "ghi" and option 12 "host"; sname (44..107) carries 15 "dom".
    Buffer.from([43, 3, ...Buffer.from("ghi"), 12, 4, ...Buffer.from("host"), 255]).copy(buf, 108);
    Buffer.from([15, 3, ...Buffer.from("dom"), 255]).copy(buf, 44);
    const p = decodePacket(buf);
    expect(p.options.get(43)!.toString()).toBe("abcdefghi");
    expect(p.options.get(12)!.toString()).toBe("host");
    expect(p.options.get(15)!.toString()).toBe("dom");
    expect(p.file).toBe("");
    expect(p.sname).toBe("");
  });

  it("rejects truncated and malformed packets with a typed error", () => {
    const good = clientPacket({ type: 1, mac: MAC, options: [[12, "node"]] });
    expect(() => decodePacket(good.subarray(0, 100))).toThrow(MalformedPacket);
    expect(() => decodePacket(good.subarray(0, good.length - 3))).toThrow(/runs past the end/);
    const noCookie = Buffer.from(good);
    noCookie.writeUInt32BE(0, 236);
    expect(() => decodePacket(noCookie)).toThrow(/magic cookie/);
    const badOp = Buffer.from(good);
    badOp[0] = 9;
    expect(() => decodePacket(badOp)).toThrow(/bad op/);
    const badOverload = clientPacket({ type: 1, mac: MAC, options: [[52, [7]]] });
    expect(() => decodePacket(badOverload)).toThrow(/overload/);
    // A missing END is tolerated.
    expect(decodePacket(clientPacket({ type: 1, mac: MAC, noEnd: true })).options.get(53)![0]).toBe(1);
  });

  it("never throws anything but MalformedPacket on random and mutated input", () => {
    const rnd = seededRandom(42);
    const base = clientPacket({
      type: 3,
      mac: MAC,
      options: [
        [50, [10, 0, 0, 5]],
        [54, [10, 0, 0, 1]],
        [55, [1, 3, 6]],
        [61, [1, 1, 2, 3, 4, 5, 6]],
      ],
    });
    for (let n = 0; n < 20_000; n++) {
      let buf: Buffer;
      if (n % 3 === 0) buf = Buffer.from(Array.from({ length: Math.floor(rnd() * 600) }, () => Math.floor(rnd() * 256)));
      else {
        buf = Buffer.from(base.subarray(0, Math.floor(rnd() * (base.length + 1))));
        for (let k = 0; k < 4; k++) if (buf.length) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
      }
      try {
        decodePacket(buf);
      } catch (err) {
        expect(err).toBeInstanceOf(MalformedPacket);
      }
    }
  });

  it("encodes replies padded to 300 bytes, 53 first, 82 last, long options split", () => {
    const long = Buffer.alloc(300, 0x41);
    const pkt: DhcpPacket = {
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: 7,
      secs: 0,
      flags: 0x8000,
      ciaddr: "0.0.0.0",
      yiaddr: "10.61.0.5",
      siaddr: "10.61.0.1",
      giaddr: "0.0.0.0",
      chaddr: Buffer.from(`525400123456${"00".repeat(10)}`, "hex"),
      sname: "10.61.0.1",
      file: "ipxe.efi",
      options: new Map<number, Buffer>([
        [Opt.RelayAgentInfo, Buffer.from([1, 2, 0x61, 0x62])],
        [Opt.ServerId, Buffer.from([10, 61, 0, 1])],
        [Opt.MessageType, Buffer.from([2])],
        [200, long],
      ]),
    };
    const small = encodePacket({ ...pkt, options: new Map([[Opt.MessageType, Buffer.from([2])]]) });
    expect(small.length).toBe(300);
    const buf = encodePacket(pkt);
    expect(buf[240]).toBe(53);
    const r = readReply(buf);
    expect(r.yiaddr).toBe("10.61.0.5");
    expect(r.file).toBe("ipxe.efi");
    expect(r.sname).toBe("10.61.0.1");
    expect(r.opts.get(200)!.length).toBe(300);
    // Option 82 is the last option before END.
    const end = buf.lastIndexOf(255, buf.length - 1);
    const body = buf.subarray(240);
    const i82 = body.indexOf(Buffer.from([82, 4, 1, 2, 0x61, 0x62]));
    expect(i82).toBeGreaterThan(0);
    expect(body[i82 + 6]).toBe(255);
    expect(end).toBeGreaterThan(0);
    // Round trip through our own decoder.
    const back = decodePacket(buf);
    expect(back.options.get(200)!.equals(long)).toBe(true);
  });

  it("honours the client's maximum message size (option 57) by leaving out droppable options", () => {
    const pkt: DhcpPacket = {
      op: 2,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: 7,
      secs: 0,
      flags: 0,
      ciaddr: "0.0.0.0",
      yiaddr: "10.61.0.5",
      siaddr: "0.0.0.0",
      giaddr: "0.0.0.0",
      chaddr: Buffer.alloc(16),
      sname: "",
      file: "",
      options: new Map<number, Buffer>([
        [53, Buffer.from([2])],
        [119, Buffer.alloc(400, 1)],
        [12, Buffer.from("nid0001")],
      ]),
    };
    expect(encodePacket(pkt).length).toBeGreaterThan(548);
    const fitted = encodePacket(pkt, { maxMessageSize: 576, droppable: [119] });
    expect(fitted.length).toBeLessThanOrEqual(548);
    expect(readReply(fitted).text(12)).toBe("nid0001");
    expect(() => encodePacket(pkt, { maxMessageSize: 576, droppable: [] })).toThrow(/exceeds/);
  });

  it("reads option 77 plain (iPXE) and RFC 3004 framed", () => {
    expect(readUserClasses(Buffer.from("iPXE"))).toContain("iPXE");
    expect(readUserClasses(Buffer.from([4, ...Buffer.from("iPXE"), 3, ...Buffer.from("foo")]))).toEqual(
      expect.arrayContaining(["iPXE", "foo"]),
    );
    expect(readUserClasses(Buffer.from("iPXE\0"))).toContain("iPXE");
  });
});
