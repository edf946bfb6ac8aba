import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { freePort } from "./ports";

/**
 * The node's address as the production runner reports it: workerd's TCP peer, over real sockets.
 * Clients connect to 127.0.0.1 from chosen loopback sources (all of 127/8 is local on Linux), so
 * each source address is a different node.
 */
const N2 = { id: "x3000c0s2b0n0", nid: 2, ip: "127.63.0.2", mac: "02:63:00:00:00:02" };
const N3 = { id: "x3000c0s3b0n0", nid: 3, ip: "127.63.0.3", mac: "02:63:00:00:00:03" };
const PROXY = "127.63.0.9";
const STRANGER = "127.63.0.4";
const SECRET = "peer-test-proxy-secret-0123456789abcdefghij";
const FORGED = (ip: string) => ({ "cf-connecting-ip": ip, "x-forwarded-for": ip, "x-real-ip": ip, "true-client-ip": ip });

function get(url: string, from: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { localAddress: from, headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

const hostnameOf = (yaml: string) => parse(yaml)["local-hostname"];

describe("cloud-init identifies nodes by the real peer address (runner)", () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "ochami-ci-peer-"));
  let api: ApiServer;

  beforeAll(async () => {
    api = await startApiServer({
      port: await freePort(),
      stateDir,
      vars: { OCHAMI_AUTH: "off", OCHAMI_TRUSTED_PROXIES: PROXY, OCHAMI_PROXY_SECRET: SECRET },
      onLog: () => {},
    });
    const post = (p: string, body: unknown) => fetch(`${api.url}${p}`, { method: "POST", body: JSON.stringify(body) });
    await post("/hsm/v2/State/Components", { Components: [N2, N3].map((n) => ({ ID: n.id, State: "Ready", NID: n.nid })) });
    for (const n of [N2, N3]) {
      const r = await post("/hsm/v2/Inventory/EthernetInterfaces", {
        MACAddress: n.mac,
        ComponentID: n.id,
        IPAddresses: [{ IPAddress: n.ip }],
      });
      expect(r.status).toBe(201);
    }
    await post("/hsm/v2/groups", { label: "compute", members: { ids: [N3.id] } });
    await post("/cloud-init/admin/groups", { name: "compute", file: { content: "#cloud-config\n" } });
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("each source address gets its own node's meta-data", async () => {
    expect(hostnameOf((await get(`${api.url}/cloud-init/meta-data`, N2.ip)).body)).toBe("0002");
    expect(hostnameOf((await get(`${api.url}/cloud-init/meta-data`, N3.ip)).body)).toBe("0003");
  });

  it("ignores CF-Connecting-IP, X-Forwarded-For, X-Real-IP and True-Client-IP from a node", async () => {
    const own = await get(`${api.url}/cloud-init/meta-data`, N2.ip, FORGED(N3.ip));
    expect(hostnameOf(own.body)).toBe("0002");
    expect((await get(`${api.url}/cloud-init/compute.yaml`, N2.ip, FORGED(N3.ip))).status).toBe(404);
    const stranger = await get(`${api.url}/cloud-init/meta-data`, STRANGER, FORGED(N3.ip));
    expect(stranger.status).toBe(422);
    expect(JSON.parse(stranger.body).detail).toBe(`no node in SMD has IP address ${STRANGER} (SMD EthernetInterfaces)`);
  });

  it("takes X-Forwarded-For from the configured trusted proxy with the proxy secret only, reading it right to left", async () => {
    const proof = { "x-ochami-proxy-secret": SECRET };
    expect(hostnameOf((await get(`${api.url}/cloud-init/meta-data`, PROXY, { ...proof, "x-forwarded-for": N3.ip })).body)).toBe("0003");
    // A node sent `X-Forwarded-For: <N3>` itself and the proxy appended the node's real address.
    const appended = await get(`${api.url}/cloud-init/meta-data`, PROXY, { ...proof, "x-forwarded-for": `${N3.ip}, ${N2.ip}` });
    expect(hostnameOf(appended.body)).toBe("0002");
    // CF-Connecting-IP is not a forwarding header, even from the proxy.
    expect((await get(`${api.url}/cloud-init/meta-data`, PROXY, { ...proof, "cf-connecting-ip": N3.ip })).status).toBe(422);
  });

  it("answers X-Forwarded-For from the trusted proxy's address without the secret as from that address", async () => {
    const proofs: Record<string, string>[] = [
      {},
      { "x-ochami-proxy-secret": SECRET.slice(1) },
      { "x-ochami-proxy-secret": SECRET.toUpperCase() },
    ];
    for (const proof of proofs) {
      const r = await get(`${api.url}/cloud-init/compute.yaml`, PROXY, { ...proof, "x-forwarded-for": N3.ip });
      expect(r.status).toBe(422);
      expect(JSON.parse(r.body).detail).toBe(`no node in SMD has IP address ${PROXY} (SMD EthernetInterfaces)`);
    }
  });

  it("vendor-data includes point back at the address the node used when no base URL is configured", async () => {
    const r = await get(`${api.url}/cloud-init/vendor-data`, N3.ip);
    expect(r.body).toBe(`#include\n${api.url}/cloud-init/compute.yaml\n`);
    expect((await get(`${api.url}/cloud-init/compute.yaml`, N3.ip)).body).toBe("#cloud-config\n");
  });
});
