import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createApp } from "../../workers/app";
import { send } from "./client";

/**
 * The cluster CA (OCHAMI_CLUSTER_CA) as the worker publishes it: /ca.pem for admins and the
 * `ochami` CLI, and a cloud-config with `ca_certs` that vendor-data includes for every node.
 */

const CA = `-----BEGIN CERTIFICATE-----
MIIBujCCAV+gAwIBAgIQH5gnCYwGnuJ8xR+RKk1sLTAKBggqhkjOPQQDAjA7MSUw
IwYDVQQDExxvY2hhbWktZWRnZSBDQSB2bSAyMDI2LTEyLTAyMRIwEAYDVQQKEwlP
cGVuQ0hBTUkwHhcNMjYxMjAyMTAyNTQzWhcNMzYxMTI5MTAzMDQzWjA7MSUwIwYD
VQQDExxvY2hhbWktZWRnZSBDQSB2bSAyMDI2LTEyLTAyMRIwEAYDVQQKEwlPcGVu
Q0hBTUkwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAAR6OWEl7XCJBkh+q1udGsyL
F94mzvJXTSVT0pC8N+LFE70W9U8zgKYwySbKgwWfbL7AFX/l1NYhgOyl5XqzXuAU
o0UwQzASBgNVHRMBAf8ECDAGAQH/AgEAMA4GA1UdDwEB/wQEAwIBBjAdBgNVHQ4E
FgQUbNrWx/MAwoq1+/GO4zAQqia+HRQwCgYIKoZIzj0EAwIDSQAwRgIhALBH8ce5
WoLUR6WzrT8xxyyqgUdZMr6NzvUBnT0HztyMAiEAg+967puV1EuYIZPEea33t6A6
Gm9lMdor0q30oFsis0A=
-----END CERTIFICATE-----
`;

const NODE = { id: "x3000c0s0b0n0", ip: "172.16.5.1", mac: "52:54:00:ca:00:01" };

/** Through the app with `vars`, from `peer`, at `origin` (the boot reader keeps documents per origin). */
async function get(vars: Record<string, string>, path: string, origin = "http://ca.test", peer = NODE.ip) {
  const ctx = createExecutionContext();
  const req = new Request(`${origin}${path}`, { cf: { clientIp: `${peer}:40123` } } as RequestInit);
  const res = await createApp().fetch(req, { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, type: res.headers.get("content-type"), text: new TextDecoder().decode(await res.arrayBuffer()) };
}

beforeAll(async () => {
  expect((await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: NODE.id, State: "Ready", NID: 1 }] })).status).toBe(204);
  const iface = { MACAddress: NODE.mac, ComponentID: NODE.id, IPAddresses: [{ IPAddress: NODE.ip }] };
  expect((await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", iface)).status).toBe(201);
  expect((await send("POST", "/hsm/v2/groups", { label: "compute", members: { ids: [NODE.id] } })).status).toBe(201);
  const file = { name: "compute", file: { content: "#cloud-config\nruncmd: [true]\n", encoding: "plain" } };
  expect((await send("POST", "/cloud-init/admin/groups", file)).status).toBe(201);
});

describe("the cluster CA", () => {
  it("is served at /ca.pem without a token, as PEM", async () => {
    const r = await get({ OCHAMI_CLUSTER_CA: CA, OCHAMI_AUTH: "on" }, "/ca.pem");
    expect(r).toEqual({ status: 200, type: "application/x-pem-file", text: CA });
  });

  it("/ca.pem is a 404 problem naming the variable when none is configured", async () => {
    const r = await get({}, "/ca.pem");
    expect(r.status).toBe(404);
    expect(r.type).toBe("application/problem+json");
    expect(JSON.parse(r.text).detail).toMatch(/OCHAMI_CLUSTER_CA/);
  });

  it("vendor-data includes the CA's cloud-config first, and that document makes cloud-init trust it", async () => {
    const vars = { OCHAMI_CLUSTER_CA: CA };
    const vd = await get(vars, "/cloud-init/vendor-data");
    expect(vd.text).toBe("#include\nhttp://ca.test/cloud-init/CA-certs.yaml\nhttp://ca.test/cloud-init/compute.yaml\n");
    const doc = await get(vars, "/cloud-init/CA-certs.yaml");
    expect(doc.status).toBe(200);
    expect(doc.text.startsWith("#cloud-config\n")).toBe(true);
    expect(parse(doc.text)).toEqual({ ca_certs: { trusted: [CA] } });
    // The group file route is still the group's.
    expect((await get(vars, "/cloud-init/compute.yaml")).text).toBe("#cloud-config\nruncmd: [true]\n");
  });

  it("without a CA, vendor-data lists the groups only and the document is a 404", async () => {
    const vd = await get({}, "/cloud-init/vendor-data", "http://no-ca.test");
    expect(vd.text).toBe("#include\nhttp://no-ca.test/cloud-init/compute.yaml\n");
    expect((await get({}, "/cloud-init/CA-certs.yaml", "http://no-ca.test")).status).toBe(404);
  });

  it("a value that is not PEM certificates is a configuration error naming the variable", async () => {
    const r = await get({ OCHAMI_CLUSTER_CA: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n" }, "/ca.pem");
    expect(r.status).toBe(500);
    expect(r.text).toMatch(/OCHAMI_CLUSTER_CA: must be PEM certificates/);
  });
});
