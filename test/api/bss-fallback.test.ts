import { beforeAll, describe, expect, it } from "vitest";
import { api, getJson, ochamiSend, problemOf, send } from "./client";

const BS = "/boot/v1/bootscript";
const BP = "/boot/v1/bootparameters";

const kernelOf = async (q: string) => {
  const line = (await (await api(`${BS}?${q}&arch=x86_64`)).text()).split("\n")[1] ?? "";
  return /^kernel --name kernel (\S+)/.exec(line)?.[1];
};
const put = async (body: Record<string, unknown>) => expect((await ochamiSend("PUT", BP, body)).status).toBe(200);
const del = async (body: Record<string, unknown>) => expect((await ochamiSend("DELETE", BP, body)).status).toBe(200);

beforeAll(async () => {
  // Every level of precedence, written before SMD has the nodes: a write by a MAC or NID of a
  // Node in SMD would be stored as that node's xname entry; these stay MAC and NID entries.
  await put({ hosts: ["Default"], kernel: "http://k/default" });
  await put({ hosts: ["Compute"], kernel: "http://k/compute" });
  await put({ nids: [1], kernel: "http://k/nid" });
  await put({ macs: ["02:00:00:00:01:02"], kernel: "http://k/other-mac" });
  await put({ macs: ["02:00:00:00:01:01"], kernel: "http://k/mac" });
  await put({ hosts: ["x3000c0s1b0n0"], kernel: "http://k/xname" });
  await send("POST", "/hsm/v2/State/Components", {
    Components: [
      { ID: "x3000c0s1b0n0", State: "Ready", Role: "Compute", NID: 1 },
      { ID: "x3000c0s2b0n0", State: "Ready", Role: "Compute", NID: 2 },
      { ID: "x3000c0s3b0n0", State: "Ready", Role: "Service", NID: 3 },
    ],
  });
  for (const [mac, id] of [
    ["02:00:00:00:01:01", "x3000c0s1b0n0"],
    ["02:00:00:00:01:02", "x3000c0s1b0n0"],
    ["02:00:00:00:02:01", "x3000c0s2b0n0"],
    ["02:00:00:00:03:01", "x3000c0s3b0n0"],
  ])
    await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: mac, ComponentID: id });
});

describe("BSS role and Default fallback", () => {
  it("node-specific entries win over the role entry, the role entry over Default", async () => {
    expect(await kernelOf("mac=02:00:00:00:01:01")).toBe("http://k/xname");
    await del({ hosts: ["x3000c0s1b0n0"] });
    // The MAC that is booting before the node's other MACs.
    expect(await kernelOf("mac=02:00:00:00:01:01")).toBe("http://k/mac");
    expect(await kernelOf("mac=02:00:00:00:01:02")).toBe("http://k/other-mac");
    // The MAC names the node now: the answer says the node changed.
    expect((await ochamiSend("DELETE", BP, { macs: ["02:00:00:00:01:01"] })).body).toEqual({
      nodes: ["x3000c0s1b0n0"],
      identifiers: { macs: ["02:00:00:00:01:01"] },
    });
    expect(await kernelOf("mac=02:00:00:00:01:01")).toBe("http://k/other-mac");
    expect(await kernelOf("name=x3000c0s1b0n0")).toBe("http://k/other-mac");
    await del({ macs: ["02:00:00:00:01:02"] });
    expect(await kernelOf("mac=02:00:00:00:01:01")).toBe("http://k/nid");
    await del({ nids: [1] });
    expect(await kernelOf("mac=02:00:00:00:01:01")).toBe("http://k/compute");
    expect(await kernelOf("nid=2")).toBe("http://k/compute");
    // A Service node is not Compute: it falls through to Default.
    expect(await kernelOf("mac=02:00:00:00:03:01")).toBe("http://k/default");
    await del({ hosts: ["Compute"] });
    expect(await kernelOf("mac=02:00:00:00:01:01")).toBe("http://k/default");
  });

  it("follows the node's SMD role as it changes, with no refresh", async () => {
    await put({ hosts: ["Service"], kernel: "http://k/service" });
    expect(await kernelOf("mac=02:00:00:00:02:01")).toBe("http://k/default");
    expect((await send("PATCH", "/hsm/v2/State/Components/x3000c0s2b0n0/Role", { Role: "Service" })).status).toBe(204);
    expect(await kernelOf("mac=02:00:00:00:02:01")).toBe("http://k/service");
  });

  it("the role and Default entries still give each node its own xname= and nid=", async () => {
    const text = await (await api(`${BS}?mac=02:00:00:00:01:01`)).text();
    expect(text.split("\n")[1]).toBe(
      "kernel --name kernel http://k/default xname=x3000c0s1b0n0 nid=1 ds=nocloud;s=http://ochami.test/cloud-init/ || goto boot_retry",
    );
  });

  it("unknown nodes never fall back to Default", async () => {
    expect(problemOf(await getJson(`${BS}?mac=02:00:00:00:09:09&arch=x86_64`))).toMatchObject({ status: 404 });
    expect((await api(`${BS}?mac=02:00:00:00:09:09`)).status).toBe(200);
  });

  it("with every entry gone, a known node has nothing to boot", async () => {
    await del({ hosts: ["Default", "Service"] });
    expect(problemOf(await getJson(`${BS}?mac=02:00:00:00:01:01&arch=x86_64`))).toMatchObject({
      status: 404,
      detail:
        "MAC 02:00:00:00:01:01 (x3000c0s1b0n0) architecture x86_64: this host not configured for booting: no boot parameters for its xname, MACs, NID, role Compute or Default",
    });
    expect((await getJson(BP)).body).toEqual([]);
  });
});
