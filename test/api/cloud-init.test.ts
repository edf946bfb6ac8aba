import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../workers/app";
import { derivedInstanceId } from "../../workers/cloud-init/metadata";
import { getJson, problemOf, send } from "./client";

/**
 * The cloud-init server's node-facing documents, inside workerd with real D1. A node is whoever
 * the request's `cf.clientIp` says, which is what workerd sets from the TCP peer (the runner test
 * in test/head-node/cloud-init-peer.test.ts checks that part with real sockets).
 */

const A = { id: "x1000c0s0b0n0", nid: 1, ip: "172.16.0.1", mac: "52:54:00:be:ef:01" };
const B = { id: "x1000c0s1b0n0", nid: 2, ip: "172.16.0.2", mac: "52:54:00:be:ef:02" };
const C = { id: "x1000c0s2b0n0", nid: 42, ip: "172.16.0.3", mac: "52:54:00:be:ef:03" };
const BASE = "http://172.16.0.254:8081/cloud-init";

/** A request from `ip` (port included, as workerd reports it). */
function fromIp(ip: string | undefined, path: string, headers: Record<string, string> = {}): Promise<Response> {
  const cf = ip === undefined ? undefined : { clientIp: ip.includes(":") ? `[${ip}]:40123` : `${ip}:40123` };
  return (exports as any).default.fetch(new Request(`http://ochami.test/cloud-init${path}`, { headers, cf } as RequestInit));
}

async function textFrom(ip: string | undefined, path: string, headers: Record<string, string> = {}) {
  const res = await fromIp(ip, path, headers);
  return { status: res.status, type: res.headers.get("content-type"), text: await bodyText(res) };
}

/** The body as UTF-8 (Response.text() warns on application/x-yaml, which workerd does not count as text). */
async function bodyText(res: Response): Promise<string> {
  return new TextDecoder().decode(await res.arrayBuffer());
}

const SECRET = "test-proxy-secret-0123456789abcdefghijklmnop";

/** Through the app with extra worker variables (e.g. trusted proxies), as a differently configured deployment. */
async function withVars(vars: Record<string, string>, peer: string, path: string, headers: Record<string, string> = {}) {
  const ctx = createExecutionContext();
  const req = new Request(`http://ochami.test/cloud-init${path}`, { headers, cf: { clientIp: `${peer}:40123` } } as RequestInit);
  const res = await createApp().fetch(req, { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, text: await bodyText(res) };
}

async function addNode(n: typeof A, extraIps: string[] = []) {
  expect((await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: n.id, State: "Ready", NID: n.nid }] })).status).toBe(204);
  const iface = await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
    MACAddress: n.mac,
    ComponentID: n.id,
    IPAddresses: [n.ip, ...extraIps].map((IPAddress) => ({ IPAddress })),
  });
  expect(iface.status).toBe(201);
}

const COMPUTE_FILE = `## template: jinja
#cloud-config
write_files:
- path: /etc/compute
  content: '{{ ds.meta_data.instance_data.v1.vendor_data.groups.compute.syslog_aggregator }}'
`;
const SLURM_FILE = "#cloud-config\nruncmd:\n- echo slurm\n";

beforeAll(async () => {
  for (const n of [A, B, C]) await addNode(n);
  for (const [label, ids] of [
    ["compute", [B.id, C.id]],
    ["slurm", [C.id]],
    ["io", [C.id]],
    ["x1000", [C.id]],
  ] as const) {
    expect((await send("POST", "/hsm/v2/groups", { label, members: { ids } })).status).toBe(201);
  }
});

describe("cloud-init meta-data (exact YAML)", () => {
  it("derives the same instance-id for a node as every release before", async () => {
    // Pinned: a changed derivation makes cloud-init on every node run its per-instance modules again.
    expect(await derivedInstanceId("x3000c0s1b0n0")).toBe("i-52302901ec42b8c2");
  });

  it("answers the minimal document when nothing is configured", async () => {
    const iid = await derivedInstanceId(A.id);
    const r = await textFrom(A.ip, "/meta-data");
    expect(r.status).toBe(200);
    expect(r.type).toBe("application/x-yaml");
    // Golden output of gopkg.in/yaml.v2 2.4.0 for upstream's struct layout (its MetaData struct).
    expect(r.text).toBe(`instance-id: ${iid}
local-hostname: "0001"
hostname: "0001"
cluster-name: ""
instance_data:
  v1:
    instance_id: ${iid}
    local_ipv4: 172.16.0.1
    vendor_data:
      version: "1.0"
      groups: {}
`);
  });

  it("configures the cluster and groups through the admin API", async () => {
    const defaults = await send("POST", "/cloud-init/admin/cluster-defaults", {
      "cluster-name": "demo",
      "short-name": "nid",
      "nid-length": 3,
      "base-url": `${BASE}/`,
      "public-keys": ["ssh-ed25519 AAAAC3Nza user@head"],
    });
    expect(defaults.status).toBe(201);
    const groups = [
      {
        name: "compute",
        description: "compute config",
        "meta-data": { syslog_aggregator: "172.16.0.254", slurm_port: 6817, selinux: "off", nested: { b: [1, "yes"], a: null } },
        file: { encoding: "plain", content: COMPUTE_FILE },
      },
      { name: "slurm", file: { encoding: "base64", content: btoa(SLURM_FILE) } },
      { name: "io", "meta-data": { Description: "overridden", lustre: "10.0.0.9@o2ib" } },
    ];
    for (const g of groups) expect((await send("POST", "/cloud-init/admin/groups", g)).status).toBe(201);
    const info = await send("PUT", `/cloud-init/admin/instance-info/${C.id}`, {
      id: C.id,
      "instance-id": "",
      "local-hostname": "login1",
      "instance-type": "t2.micro",
      "public-keys": ["ssh-rsa BBBB node@key"],
    });
    expect(info.status).toBe(201);
  });

  it("a node in no group", async () => {
    const iid = await derivedInstanceId(A.id);
    expect((await textFrom(A.ip, "/meta-data")).text).toBe(`instance-id: ${iid}
local-hostname: nid001
hostname: nid001
cluster-name: demo
instance_data:
  v1:
    instance_id: ${iid}
    local_ipv4: 172.16.0.1
    public_keys:
    - ssh-ed25519 AAAAC3Nza user@head
    vendor_data:
      version: "1.0"
      cloud_init_base_url: http://172.16.0.254:8081/cloud-init
      cluster_name: demo
      groups: {}
`);
  });

  it("a node in one group: its meta-data merged, keys sorted, YAML 1.1 words quoted", async () => {
    const iid = await derivedInstanceId(B.id);
    expect((await textFrom(B.ip, "/meta-data")).text).toBe(`instance-id: ${iid}
local-hostname: nid002
hostname: nid002
cluster-name: demo
instance_data:
  v1:
    instance_id: ${iid}
    local_ipv4: 172.16.0.2
    public_keys:
    - ssh-ed25519 AAAAC3Nza user@head
    vendor_data:
      version: "1.0"
      cloud_init_base_url: http://172.16.0.254:8081/cloud-init
      cluster_name: demo
      groups:
        compute:
          Description: compute config
          nested:
            a: null
            b:
            - 1
            - "yes"
          selinux: "off"
          slurm_port: 6817
          syslog_aggregator: 172.16.0.254
`);
  });

  it("a node in several groups, with instance-info overrides", async () => {
    const iid = await derivedInstanceId(C.id);
    expect((await textFrom(C.ip, "/meta-data")).text).toBe(`instance-id: ${iid}
local-hostname: login1
hostname: nid042
cluster-name: demo
instance_data:
  v1:
    instance_id: ${iid}
    instance_type: t2.micro
    local_ipv4: 172.16.0.3
    public_keys:
    - ssh-ed25519 AAAAC3Nza user@head
    - ssh-rsa BBBB node@key
    vendor_data:
      version: "1.0"
      cloud_init_base_url: http://172.16.0.254:8081/cloud-init
      cluster_name: demo
      groups:
        compute:
          Description: compute config
          nested:
            a: null
            b:
            - 1
            - "yes"
          selinux: "off"
          slurm_port: 6817
          syslog_aggregator: 172.16.0.254
        io:
          Description: overridden
          lustre: 10.0.0.9@o2ib
        slurm:
          Description: No description Found
        x1000:
          Description: No description Found
`);
  });

  it("keeps the instance-id across fetches and lets an admin set or reset it", async () => {
    const derived = await derivedInstanceId(A.id);
    expect(derived).toMatch(/^i-[0-9a-f]{16}$/);
    expect(await derivedInstanceId(B.id)).not.toBe(derived);
    const first = (await textFrom(A.ip, "/meta-data")).text;
    expect((await textFrom(A.ip, "/meta-data")).text).toBe(first);

    const set = await send("PUT", `/cloud-init/admin/instance-info/${A.id}`, { "instance-id": "i-rebuilt01" });
    expect(set.status).toBe(201);
    expect(set.body["instance-id"]).toBe("i-rebuilt01");
    expect((await textFrom(A.ip, "/meta-data")).text).toContain("instance-id: i-rebuilt01\n");
    // A later PUT without an instance-id keeps it (upstream's rule); it replaces everything else.
    const update = await send("PUT", `/cloud-init/admin/instance-info/${A.id}`, { hostname: "a.example" });
    expect(update.status).toBe(200);
    expect(update.body).toEqual({ id: A.id, "instance-id": "i-rebuilt01", hostname: "a.example" });

    expect((await send("DELETE", `/cloud-init/admin/instance-info/${A.id}`)).status).toBe(200);
    expect((await textFrom(A.ip, "/meta-data")).text).toContain(`instance-id: ${derived}\n`);
  });

  it("serves a node added to SMD at once (no cache)", async () => {
    const D = { id: "x1000c0s3b0n0", nid: 7, ip: "172.16.0.4", mac: "52:54:00:be:ef:04" };
    expect((await textFrom(D.ip, "/meta-data")).status).toBe(422);
    await addNode(D);
    const r = await textFrom(D.ip, "/meta-data");
    expect(r.status).toBe(200);
    expect(r.text).toContain("local-hostname: nid007\n");
  });
});

describe("cloud-init user-data, vendor-data and group files", () => {
  it("user-data is an empty cloud-config", async () => {
    const r = await textFrom(B.ip, "/user-data");
    expect(r).toEqual({ status: 200, type: "text/plain; charset=utf-8", text: "#cloud-config" });
  });

  it("vendor-data includes only the groups that have a file, in label order", async () => {
    expect((await textFrom(C.ip, "/vendor-data")).text).toBe(`#include\n${BASE}/compute.yaml\n${BASE}/slurm.yaml\n`);
    expect((await textFrom(B.ip, "/vendor-data")).text).toBe(`#include\n${BASE}/compute.yaml\n`);
    expect((await textFrom(A.ip, "/vendor-data")).text).toBe("#include\n");
  });

  it("group files: plain as stored, base64 decoded, #cloud-config when the group has no file", async () => {
    expect(await textFrom(C.ip, "/compute.yaml")).toEqual({ status: 200, type: "text/plain; charset=utf-8", text: COMPUTE_FILE });
    expect((await textFrom(C.ip, "/slurm.yaml")).text).toBe(SLURM_FILE);
    expect((await textFrom(C.ip, "/io.yaml")).text).toBe("#cloud-config");
    expect((await textFrom(C.ip, "/x1000.yaml")).text).toBe("#cloud-config");
  });

  it("a group file of a group the node is not in is a 404", async () => {
    const res = await fromIp(B.ip, "/slurm.yaml");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(((await res.json()) as any).detail).toBe(`node ${B.id} is not a member of group slurm (node and/or group may not exist in SMD)`);
    expect((await fromIp(C.ip, "/nosuch.yaml")).status).toBe(404);
  });

  it("a per-node base URL moves the includes", async () => {
    await send("PUT", `/cloud-init/admin/instance-info/${B.id}`, { "cloud-init-base-url": "http://10.1.0.1/ci/" });
    expect((await textFrom(B.ip, "/vendor-data")).text).toBe("#include\nhttp://10.1.0.1/ci/compute.yaml\n");
    expect((await textFrom(B.ip, "/meta-data")).text).toContain("      cloud_init_base_url: http://10.1.0.1/ci\n");
    await send("DELETE", `/cloud-init/admin/instance-info/${B.id}`);
  });
});

describe("cloud-init requester identity", () => {
  it("an IP no node has is a 422 problem, never another node's data", async () => {
    for (const path of ["/meta-data", "/vendor-data", "/compute.yaml"]) {
      const res = await fromIp("172.16.9.9", path);
      expect(res.status).toBe(422);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(((await res.json()) as any).detail).toBe("no node in SMD has IP address 172.16.9.9 (SMD EthernetInterfaces)");
    }
  });

  it("without a peer address (as under Miniflare's entry worker) nothing identifies a node, whatever the headers say", async () => {
    const forged = { "CF-Connecting-IP": C.ip, "X-Forwarded-For": C.ip, "X-Real-IP": C.ip, "True-Client-IP": C.ip };
    const res = await fromIp(undefined, "/meta-data", forged);
    expect(res.status).toBe(422);
    expect(((await res.json()) as any).detail).toMatch(/^cannot identify the requesting node: the runtime did not report the peer address/);
  });

  it("ignores client-supplied address headers from a peer that is not a trusted proxy", async () => {
    const forged = { "CF-Connecting-IP": C.ip, "X-Forwarded-For": C.ip, "X-Real-IP": C.ip, "True-Client-IP": C.ip };
    const r = await textFrom(B.ip, "/meta-data", forged);
    expect(r.text).toContain("local_ipv4: 172.16.0.2\n");
    expect(r.text).not.toContain("login1");
    const proxy = await withVars({ OCHAMI_TRUSTED_PROXIES: "10.63.255.0/24", OCHAMI_PROXY_SECRET: SECRET }, B.ip, "/meta-data", {
      "X-Forwarded-For": C.ip,
      "X-Ochami-Proxy-Secret": SECRET,
    });
    expect(proxy.text).toContain("local_ipv4: 172.16.0.2\n");
  });

  it("reads X-Forwarded-For from a trusted proxy that presents the proxy secret, right to left", async () => {
    const vars = { OCHAMI_TRUSTED_PROXIES: "10.63.255.0/24, fd63::/64", OCHAMI_PROXY_SECRET: SECRET };
    const hostnameOf = (t: string) => /^local-hostname: (.*)$/m.exec(t)?.[1];
    const viaProxy = (peer: string, path: string, headers: Record<string, string> = {}) =>
      withVars(vars, peer, path, { ...headers, "X-Ochami-Proxy-Secret": SECRET });
    expect(hostnameOf((await viaProxy("10.63.255.1", "/meta-data", { "X-Forwarded-For": C.ip })).text)).toBe("login1");
    // The client sent its own header naming C; the proxy appended the real client, B.
    expect(hostnameOf((await viaProxy("10.63.255.1", "/meta-data", { "X-Forwarded-For": `${C.ip}, ${B.ip}` })).text)).toBe("nid002");
    // Two trusted proxies in a row: the hop before them is the client.
    expect(hostnameOf((await viaProxy("10.63.255.1", "/meta-data", { "X-Forwarded-For": `${C.ip}, 10.63.255.2` })).text)).toBe("login1");
    // An IPv6 proxy and a port on the forwarded entry.
    expect(hostnameOf((await viaProxy("[fd63::9]", "/meta-data", { "X-Forwarded-For": `${B.ip}:5555` })).text)).toBe("nid002");
    // A proxy asking for itself is just an unknown address; a garbled header is an error.
    expect((await viaProxy("10.63.255.1", "/meta-data")).status).toBe(422);
    const bad = await viaProxy("10.63.255.1", "/meta-data", { "X-Forwarded-For": "unknown" });
    expect(bad.status).toBe(422);
    expect(JSON.parse(bad.text).detail).toContain("X-Forwarded-For from trusted proxy 10.63.255.1 holds 'unknown'");
  });

  it("rejects a malformed OCHAMI_TRUSTED_PROXIES, and one without OCHAMI_PROXY_SECRET", async () => {
    const r = await withVars({ OCHAMI_TRUSTED_PROXIES: "10.0.0.0/99", OCHAMI_PROXY_SECRET: SECRET }, B.ip, "/meta-data");
    expect(r.status).toBe(500);
    const alone = await withVars({ OCHAMI_TRUSTED_PROXIES: "10.0.0.0/8" }, B.ip, "/meta-data");
    expect(alone.status).toBe(500);
    expect(JSON.parse(alone.text).detail).toContain("OCHAMI_PROXY_SECRET: OCHAMI_TRUSTED_PROXIES needs OCHAMI_PROXY_SECRET");
  });

  it("matches IPv6 peers against any stored spelling, and unwraps IPv4-mapped peers", async () => {
    const V6 = { id: "x1000c0s5b0n0", nid: 5, ip: "FD63:0000:0000:0000:0000:0000:0000:0005", mac: "52:54:00:be:ef:05" };
    await addNode(V6);
    expect((await textFrom("fd63::5", "/meta-data")).text).toContain("local-hostname: nid005\n");
    expect((await textFrom("::ffff:172.16.0.2", "/meta-data")).text).toContain("local-hostname: nid002\n");
  });

  it("records each fetch in the boot history, unknown addresses included", async () => {
    await textFrom(C.ip, "/meta-data");
    await textFrom(C.ip, "/user-data");
    await textFrom(C.ip, "/vendor-data");
    await textFrom(C.ip, "/slurm.yaml");
    await textFrom("172.16.9.8", "/meta-data");
    const latest = await getJson(`/boot/v1/endpoint-history?name=${C.id}`);
    const byEndpoint = Object.fromEntries(latest.body.map((e: any) => [e.endpoint, e]));
    expect(Object.keys(byEndpoint).sort()).toEqual(["cloud-init-group", "meta-data", "user-data", "vendor-data"]);
    expect(byEndpoint["meta-data"]).toMatchObject({ ip: C.ip, detail: `instance-id ${await derivedInstanceId(C.id)}` });
    expect(byEndpoint["vendor-data"].detail).toBe("2 includes");
    expect(byEndpoint["cloud-init-group"].detail).toBe("slurm");
    const unknown = await getJson("/boot/v1/endpoint-history?endpoint=meta-data");
    expect(unknown.body.find((e: any) => e.ip === "172.16.9.8")).toMatchObject({ name: "", detail: "422: no node has this IP" });
  });
});

describe("cloud-init impersonation", () => {
  it("answers exactly what the node itself receives", async () => {
    for (const doc of ["meta-data", "vendor-data", "user-data", "compute.yaml", "slurm.yaml"]) {
      const own = await textFrom(C.ip, `/${doc}`);
      // No peer address needed, and the xname is normalised.
      const seen = await textFrom(undefined, `/admin/impersonation/${C.id.toUpperCase()}/${doc}`);
      expect(seen).toEqual({ ...own, status: 200 });
    }
  });

  it("404 for a node SMD does not have or a group it is not in; 400 for a bad xname", async () => {
    for (const doc of ["meta-data", "vendor-data", "user-data", "compute.yaml"]) {
      expect(problemOf(await getJson(`/cloud-init/admin/impersonation/x9c0s0b0n0/${doc}`)).status).toBe(404);
    }
    expect(problemOf(await getJson(`/cloud-init/admin/impersonation/${A.id}/compute.yaml`)).status).toBe(404);
    expect(problemOf(await getJson("/cloud-init/admin/impersonation/node7/meta-data"))).toMatchObject({
      status: 400,
      detail: "'node7' is not a valid xname",
    });
  });

  it("node-facing documents answer 405 to other methods", async () => {
    const r = await send("POST", "/cloud-init/meta-data", {});
    expect(r.status).toBe(405);
    expect(r.res.headers.get("allow")).toBe("GET");
  });
});
