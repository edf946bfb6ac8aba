import { describe, expect, it } from "vitest";
import { peerAddress } from "../../workers/http/peer";


describe("peerAddress", () => {
  it("reads workerd's host:port and Cloudflare's bare address; ignores headers", () => {
    const req = (clientIp: unknown) => {
      const r = new Request("http://x/", { headers: { "x-forwarded-for": "10.9.9.9", "cf-connecting-ip": "10.9.9.9" } });
      Object.defineProperty(r, "cf", { value: { clientIp } });
      return r;
    };
    expect(peerAddress(req("127.0.0.1:46036"))).toBe("127.0.0.1");
    expect(peerAddress(req("[fd00::5]:8081"))).toBe("fd00::5");
    expect(peerAddress(req("172.16.0.7"))).toBe("172.16.0.7");
    expect(peerAddress(req("2001:db8::1"))).toBe("2001:db8::1");
    expect(peerAddress(req("nonsense:1"))).toBe("");
    expect(peerAddress(req(undefined))).toBe("");
    expect(peerAddress(new Request("http://x/"))).toBe("");
  });
});
