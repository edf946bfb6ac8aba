import { describe, expect, it } from "vitest";
import { parseCidrList } from "../../shared/ip";
import { clientAddress, peerAddress } from "../../workers/http/client-ip";

const req = (clientIp: unknown, headers: Record<string, string> = {}) => {
  const r = new Request("http://x/", { headers: { "cf-connecting-ip": "10.9.9.9", "x-real-ip": "10.9.9.8", ...headers } });
  Object.defineProperty(r, "cf", { value: clientIp === undefined ? undefined : { clientIp } });
  return r;
};

describe("client address", () => {
  it("reads workerd's host:port and Cloudflare's bare address, never client headers", () => {
    expect(peerAddress(req("127.0.0.1:46036"))).toBe("127.0.0.1");
    expect(peerAddress(req("[fd00::5]:8081"))).toBe("fd00::5");
    expect(peerAddress(req("[::ffff:10.1.2.3]:8081"))).toBe("10.1.2.3");
    expect(peerAddress(req("172.16.0.7"))).toBe("172.16.0.7");
    expect(peerAddress(req("2001:db8::1"))).toBe("2001:db8::1");
    expect(peerAddress(req("nonsense:1"))).toBeUndefined();
    expect(peerAddress(req(undefined))).toBeUndefined();
  });

  it("reads X-Forwarded-For only from trusted proxies, from the right", () => {
    const trusted = parseCidrList("10.0.0.1, 192.168.0.0/24");
    const xff = { "x-forwarded-for": "6.6.6.6, 172.16.0.5, 192.168.0.9" };
    expect(clientAddress(req("172.16.0.5:1", xff), trusted)).toMatchObject({ ok: true, ip: "172.16.0.5", forwarded: false });
    expect(clientAddress(req("10.0.0.1:1", xff), trusted)).toMatchObject({ ok: true, ip: "172.16.0.5", forwarded: true });
    expect(clientAddress(req("10.0.0.1:1", { "x-forwarded-for": "bogus" }), trusted)).toMatchObject({ ok: false });
    expect(clientAddress(req(undefined, xff), trusted)).toMatchObject({ ok: false });
  });
});
