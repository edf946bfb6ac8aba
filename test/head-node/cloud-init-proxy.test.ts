import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { ensureAuthState } from "../../head-node/auth-state";
import { planHeadNode } from "../../head-node/plan";
import { type NodeProxy, startNodeProxy } from "../../onprem-agent/node-proxy";
import { captureLog } from "../agent/serving-support";
import { seedNodes } from "../agent/smd-seed";
import { requirements } from "../support/requirements";
import { freePort } from "./ports";

/**
 * The node proxy in front of the API as `npm start` wires them (planHeadNode with the state
 * directory's proxy secret), over real sockets: a node reaches its cloud-init data through the
 * proxy, and a local user of the head node who talks to the API from loopback — the proxy's own
 * source address — cannot pose as a node with X-Forwarded-For.
 */
const NODE = { xname: "x3000c0s7b0n0", nid: 7, ip: "127.63.1.7", mac: "02:63:01:00:00:07" };
const OTHER = { xname: "x3000c0s8b0n0", nid: 8, ip: "127.63.1.8", mac: "02:63:01:00:00:08" };
const PROXY_ADDRESS = "127.63.1.9";
const GROUP_FILE = "#cloud-config\nwrite_files:\n- path: /etc/site-token\n  content: only-for-compute-nodes\n";

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

const runAs = promisify(execFile);
const asRoot = requirements({ root: true, commands: ["su", "curl"] });

describe("cloud-init through the node proxy, wired as npm start wires it", () => {
  let stateDir = "";
  let api: ApiServer;
  let proxy: NodeProxy;
  let secret = "";
  const { log } = captureLog();

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "ochami-ci-proxy-"));
    const auth = await ensureAuthState(stateDir);
    secret = auth.proxySecret;
    const port = await freePort();
    const agentYaml = path.join(stateDir, "agent.yaml");
    writeFileSync(agentYaml, stringify({ nodeProxy: { enabled: true, address: PROXY_ADDRESS, port: await freePort() } }));
    const plan = planHeadNode({ env: { OCHAMI_AGENT_CONFIG: agentYaml }, host: "127.0.0.1", port, stateDir, proxySecret: secret });
    expect(plan.workerVars).toMatchObject({ OCHAMI_TRUSTED_PROXIES: "127.0.0.1", OCHAMI_PROXY_SECRET: secret });
    api = await startApiServer({ port, stateDir, vars: { OCHAMI_AUTH: "off", ...plan.workerVars }, onLog: () => {} });
    const { enabled: _, ...proxyConfig } = plan.agent.nodeProxy;
    proxy = await startNodeProxy({ ...proxyConfig, apiUrl: plan.agent.api.url }, { log });

    const post = (p: string, body: unknown) => fetch(`${api.url}${p}`, { method: "POST", body: JSON.stringify(body) });
    await seedNodes(api.url, [NODE, OTHER]);
    await post("/hsm/v2/groups", { label: "compute", members: { ids: [NODE.xname] } });
    expect((await post("/cloud-init/admin/groups", { name: "compute", file: { content: GROUP_FILE } })).status).toBeLessThan(300);
  });
  afterAll(async () => {
    await proxy?.close();
    await api?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("keeps the proxy secret owner-only in the state directory", () => {
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(path.join(stateDir, "auth", "proxy-secret.json")).mode & 0o777).toBe(0o600);
  });

  it("a node gets its own documents through the proxy, whatever X-Forwarded-For it sends", async () => {
    const meta = await get(`${proxy.url}/cloud-init/meta-data`, NODE.ip);
    expect(meta.status).toBe(200);
    expect(parse(meta.body)["local-hostname"]).toBe("0007");
    expect(await get(`${proxy.url}/cloud-init/compute.yaml`, NODE.ip)).toEqual({ status: 200, body: GROUP_FILE });
    // The other node asks for the group file naming the member: the proxy replaces the header.
    const forged = await get(`${proxy.url}/cloud-init/compute.yaml`, OTHER.ip, {
      "x-forwarded-for": NODE.ip,
      "x-ochami-proxy-secret": "guess",
    });
    expect(forged.status).toBe(404);
  });

  it("a local user sending X-Forwarded-For to the API from loopback is answered as 127.0.0.1, not as the node", async () => {
    const r = await get(`${api.url}/cloud-init/compute.yaml`, "127.0.0.1", { "x-forwarded-for": NODE.ip });
    expect(r.status).toBe(422);
    expect(JSON.parse(r.body).detail).toBe("no node in SMD has IP address 127.0.0.1 (SMD EthernetInterfaces)");
    expect(r.body).not.toContain("site-token");
  });

  it.skipIf(asRoot)("the reported attack: `su nobody -c \"curl -H 'X-Forwarded-For: <node IP>' …/cloud-init/<group>.yaml\"`", async () => {
    const command = `curl -sS -w '\\n%{http_code}' -H 'X-Forwarded-For: ${NODE.ip}' ${api.url}/cloud-init/compute.yaml`;
    const { stdout } = await runAs("su", ["nobody", "-s", "/bin/sh", "-c", command], { timeout: 30_000 });
    const [body, status] = stdout.split("\n");
    expect(status).toBe("422");
    expect(body).not.toContain("site-token");
    expect(JSON.parse(body).detail).toContain("127.0.0.1");
    // The same through the node proxy from the head node itself: the proxy names the local
    // user's own address, which is no node's.
    const proxied = await runAs(
      "su",
      ["nobody", "-s", "/bin/sh", "-c", command.replace(api.url, proxy.url).replace("curl ", `curl --interface ${PROXY_ADDRESS} `)],
      { timeout: 30_000 },
    );
    expect(proxied.stdout.split("\n")[1]).toBe("422");
  });
});
