import { describe, expect, it } from "vitest";
import { parseCidrList } from "../../shared/ip";
import { clientAddress, peerAddress, type TrustedProxies } from "../../workers/http/client-ip";

const req = (clientIp: unknown, headers: Record<string, string> = {}) => {
  const r = new Request("http://x/", { headers: { "cf-connecting-ip": "10.9.9.9", "x-real-ip": "10.9.9.8", ...headers } });
  Object.defineProperty(r, "cf", { value: clientIp === undefined ? undefined : { clientIp } });
  return r;
};

const SECRET = "proxy-secret-0123456789abcdefghijklmnopqrstu";

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

  it("reads X-Forwarded-For only from trusted proxies that present the secret, from the right", () => {
    const trusted: TrustedProxies = { networks: parseCidrList("10.0.0.1, 192.168.0.0/24"), secret: SECRET };
    const xff = { "x-forwarded-for": "6.6.6.6, 172.16.0.5, 192.168.0.9", "x-ochami-proxy-secret": SECRET };
    expect(clientAddress(req("172.16.0.5:1", xff), trusted)).toMatchObject({ ok: true, ip: "172.16.0.5", forwarded: false });
    expect(clientAddress(req("10.0.0.1:1", xff), trusted)).toMatchObject({ ok: true, ip: "172.16.0.5", forwarded: true });
    expect(clientAddress(req("10.0.0.1:1", { "x-forwarded-for": "bogus", "x-ochami-proxy-secret": SECRET }), trusted)).toMatchObject({
      ok: false,
    });
    expect(clientAddress(req(undefined, xff), trusted)).toMatchObject({ ok: false });
  });

  it("answers a loopback request with X-Forwarded-For but without the secret as from its real peer", () => {
    // `su nobody -c "curl -H 'X-Forwarded-For: 10.1.0.7' http://127.0.0.1:8081/cloud-init/compute.yaml"`:
    // the peer is the trusted proxy's address, but nothing else about it is the proxy.
    const trusted: TrustedProxies = { networks: parseCidrList("127.0.0.1"), secret: SECRET };
    const attack = (headers: Record<string, string>) => clientAddress(req("127.0.0.1:51000", headers), trusted);
    const asPeer = { ok: true, ip: "127.0.0.1", peer: "127.0.0.1", forwarded: false };
    expect(attack({ "x-forwarded-for": "10.1.0.7" })).toEqual(asPeer);
    expect(attack({ "x-forwarded-for": "10.1.0.7", "x-ochami-proxy-secret": "" })).toEqual(asPeer);
    expect(attack({ "x-forwarded-for": "10.1.0.7", "x-ochami-proxy-secret": SECRET.slice(0, -1) })).toEqual(asPeer);
    expect(attack({ "x-forwarded-for": "10.1.0.7", "x-ochami-proxy-secret": `${SECRET.slice(0, -1)}X` })).toEqual(asPeer);
    // The proxy itself, secret included, is believed.
    expect(attack({ "x-forwarded-for": "10.1.0.7", "x-ochami-proxy-secret": SECRET })).toEqual({
      ok: true,
      ip: "10.1.0.7",
      peer: "127.0.0.1",
      forwarded: true,
    });
    // No secret configured: nobody is believed, whatever it sends.
    const noSecret: TrustedProxies = { networks: parseCidrList("127.0.0.1"), secret: undefined };
    expect(clientAddress(req("127.0.0.1:51000", { "x-forwarded-for": "10.1.0.7", "x-ochami-proxy-secret": SECRET }), noSecret)).toEqual(
      asPeer,
    );
  });

  it("does not believe the secret from a peer outside the trusted networks", () => {
    const trusted: TrustedProxies = { networks: parseCidrList("127.0.0.1"), secret: SECRET };
    const r = clientAddress(req("10.1.0.9:4000", { "x-forwarded-for": "10.1.0.7", "x-ochami-proxy-secret": SECRET }), trusted);
    expect(r).toEqual({ ok: true, ip: "10.1.0.9", peer: "10.1.0.9", forwarded: false });
  });
});
