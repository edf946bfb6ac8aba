import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { api, getJson, ochamiSend, problemOf, send } from "./client";

/**
 * Boot-parameter writes by any key of a node in SMD change what that node boots: the seed's
 * cluster file writes one entry for every node's xname, and its users then re-point nodes by MAC
 * (`ochami bss boot params set --mac …`). Every write answers which nodes it changed.
 */

const BP = "/boot/v1/bootparameters";
const K1 = "http://172.16.0.254:8080/openchami/rocky/test/vmlinuz-1";
const I1 = "http://172.16.0.254:8080/openchami/rocky/test/initramfs-1.img";
const P1 = "root=live:http://172.16.0.254:8080/openchami/rocky/test/rootfs-1 ro ip=dhcp";
const K2 = "http://172.16.0.254:8080/openchami/rocky/test/vmlinuz-2";

const xname = (i: number) => `x1000c1s7b${i}n0`;
const mac = (i: number) => `ec:e7:a7:05:a1:f${i}`;

const generation = async () =>
  (await env.DB.prepare("SELECT generation FROM boot_generation WHERE id = 1").first<{ generation: number }>())!.generation;

/** The kernel a node gets, asked the way iPXE asks (the first script line's image), or the status when it gets none. */
async function kernelFor(query: string): Promise<string | number> {
  const res = await api(`/boot/v1/bootscript?${query}&arch=x86_64`);
  const text = await res.text();
  if (res.status !== 200) return res.status;
  return text.split("\n")[1].split(" ")[3];
}

async function bootsEverywhere(i: number): Promise<Array<string | number>> {
  return [await kernelFor(`mac=${mac(i)}`), await kernelFor(`name=${xname(i)}`), await kernelFor(`nid=${i}`)];
}

const zeroCloudInit = {
  "meta-data": null,
  "user-data": null,
  "phone-home": { pub_key_dsa: "", pub_key_rsa: "", pub_key_ecdsa: "", instance_id: "", hostname: "", fqdn: "" },
};

beforeAll(async () => {
  // Nodes 1-5 as `ochami discover static` leaves them; node 5 is a Service node.
  const comps = [1, 2, 3, 4, 5].map((i) => ({ ID: xname(i), State: "Ready", Role: i === 5 ? "Service" : "Compute", NID: i }));
  expect((await send("POST", "/hsm/v2/State/Components", { Components: comps })).status).toBe(204);
  for (const i of [1, 2, 3, 4, 5])
    expect((await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: mac(i), ComponentID: xname(i) })).status).toBe(201);
  // The cluster file's `boot: [{nodes: all, …}]`: one PUT naming every node's xname (not node 4).
  const r = await ochamiSend("PUT", BP, { hosts: [1, 2, 3, 5].map(xname), kernel: K1, initrd: I1, params: P1 });
  expect(r.status).toBe(200);
  expect(r.body).toEqual({ nodes: [1, 2, 3, 5].map(xname), identifiers: { hosts: [1, 2, 3, 5].map(xname) } });
});

describe("a write by a node's MAC after the cluster file", () => {
  it("PUT by MAC changes what the node boots by MAC, xname and NID, and says which node it changed", async () => {
    expect(await bootsEverywhere(2)).toEqual([K1, K1, K1]);
    const before = await generation();
    const r = await ochamiSend("PUT", BP, {
      macs: [mac(2).toUpperCase()],
      kernel: K2,
      initrd: I1,
      params: P1,
      "cloud-init": zeroCloudInit,
    });
    expect(r.status).toBe(200);
    expect(r.res.headers.get("bss-referral-token")).toBeTruthy();
    expect(r.body).toEqual({ nodes: [xname(2)], identifiers: { hosts: [xname(2)] } });
    expect(await generation()).toBeGreaterThan(before);
    expect(await bootsEverywhere(2)).toEqual([K2, K2, K2]);
    expect(await bootsEverywhere(1)).toEqual([K1, K1, K1]);
    // `ochami bss boot params get -m` finds what it set: the node's entry.
    expect((await getJson(`${BP}?mac=${mac(2)}`)).body).toEqual([
      { hosts: [xname(2)], params: P1, kernel: K2, initrd: I1, "cloud-init": zeroCloudInit },
    ]);
    expect((await getJson(`${BP}?nid=2`)).body).toEqual((await getJson(`${BP}?mac=${mac(2)}`)).body);
  });

  it("PUT by NID, and by a MAC and an xname of one node: that node, once", async () => {
    const r = await ochamiSend("PUT", BP, { nids: [3], macs: [mac(3)], hosts: [xname(3)], kernel: K2 });
    expect(r.body).toEqual({ nodes: [xname(3)], identifiers: { hosts: [xname(3)] } });
    expect(await bootsEverywhere(3)).toEqual([K2, K2, K2]);
  });

  it("PATCH by MAC updates what the node boots, its own entry; a node booting its role's entry gets its own", async () => {
    const p = await ochamiSend("PATCH", BP, { macs: [mac(1)], params: "quiet", "cloud-init": zeroCloudInit });
    expect(p.status).toBe(200);
    expect(p.body).toEqual({ nodes: [xname(1)], identifiers: { hosts: [xname(1)] } });
    expect((await getJson(`${BP}?name=${xname(1)}`)).body[0]).toMatchObject({ kernel: K1, initrd: I1, params: "quiet" });
    expect((await getJson(`${BP}?name=${xname(5)}`)).body[0]).toMatchObject({ params: P1 });

    // Node 4 has no entry of its own: it boots the Compute entry, which stays as it is.
    expect((await ochamiSend("PUT", BP, { hosts: ["Compute"], kernel: "http://k/compute", params: "role" })).body).toEqual({
      nodes: [xname(4)],
      identifiers: { hosts: ["Compute"] },
    });
    const q = await ochamiSend("PATCH", BP, { macs: [mac(4)], params: "mine" });
    expect(q.body).toEqual({ nodes: [xname(4)], identifiers: { hosts: [xname(4)] } });
    expect((await getJson(`${BP}?name=${xname(4)}`)).body).toEqual([
      { hosts: [xname(4)], params: "mine", kernel: "http://k/compute", "cloud-init": zeroCloudInit },
    ]);
    expect((await getJson(`${BP}?name=Compute`)).body[0]).toMatchObject({ params: "role" });
    expect(await kernelFor(`mac=${mac(4)}`)).toBe("http://k/compute");
  });

  it("POST by the MAC of a node that has an entry is a 409 naming the node and the MAC; nothing changes", async () => {
    const r = await ochamiSend("POST", BP, { macs: [mac(1)], kernel: K2 });
    expect(problemOf(r)).toMatchObject({
      status: 409,
      detail: `Conflict: boot parameters already exist for hosts=[${xname(1)}] (${mac(1)} is ${xname(1)}); use PUT (ochami bss boot params set) to replace them`,
    });
    expect(await kernelFor(`mac=${mac(1)}`)).toBe(K1);
  });

  it("DELETE by MAC removes the node's entry: it falls back to what else applies, and the answer names it", async () => {
    const before = await generation();
    const r = await ochamiSend("DELETE", BP, { macs: [mac(4)] });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ nodes: [xname(4)], identifiers: { hosts: [xname(4)] } });
    expect(await generation()).toBeGreaterThan(before);
    expect((await getJson(`${BP}?name=${xname(4)}`)).status).toBe(404);
    expect(await kernelFor(`mac=${mac(4)}`)).toBe("http://k/compute");
  });
});

describe("keys no Node in SMD has", () => {
  const NEW_MAC = "02:00:00:00:00:aa";

  it("a PUT by an unknown MAC is stored and says it changed no node; once SMD has the node, it boots it", async () => {
    const r = await ochamiSend("PUT", BP, { macs: [NEW_MAC], kernel: "http://k/new" });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ nodes: [], identifiers: { macs: [NEW_MAC] }, unknown: { macs: [NEW_MAC] } });
    expect(await kernelFor(`mac=${NEW_MAC}`)).toBe(404);
    expect((await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x1000c1s7b6n0", State: "Ready", NID: 6 }] })).status).toBe(
      204,
    );
    expect((await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: NEW_MAC, ComponentID: "x1000c1s7b6n0" })).status).toBe(
      201,
    );
    expect(await kernelFor("name=x1000c1s7b6n0")).toBe("http://k/new");

    // The MAC now names the node: a new PUT by it replaces the MAC entry with the node's.
    const again = await ochamiSend("PUT", BP, { macs: [NEW_MAC], kernel: "http://k/newer" });
    expect(again.body).toEqual({ nodes: ["x1000c1s7b6n0"], identifiers: { hosts: ["x1000c1s7b6n0"] } });
    expect((await getJson(`${BP}?mac=${NEW_MAC}`)).body).toEqual([
      { hosts: ["x1000c1s7b6n0"], kernel: "http://k/newer", "cloud-init": zeroCloudInit },
    ]);
  });

  it("an xname or NID SMD lacks, a MAC of a non-Node component: unknown, changing no node", async () => {
    expect(
      (await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: "02:00:00:00:00:bb", ComponentID: "x1000c1s7b1" })).status,
    ).toBe(201);
    const r = await ochamiSend("PUT", BP, { hosts: ["x9000c0s0b0n0"], macs: ["02:00:00:00:00:bb"], nids: [4242], kernel: "http://k/x" });
    expect(r.body).toEqual({
      nodes: [],
      identifiers: { hosts: ["x9000c0s0b0n0"], macs: ["02:00:00:00:00:bb"], nids: [4242] },
      unknown: { hosts: ["x9000c0s0b0n0"], macs: ["02:00:00:00:00:bb"], nids: [4242] },
    });
    const d = await ochamiSend("DELETE", BP, { nids: [4242] });
    expect(d.body).toEqual({ nodes: [], identifiers: { nids: [4242] }, unknown: { nids: [4242] } });
  });

  it("PATCH by the MAC of a node that boots nothing is a 404 saying so", async () => {
    // Node 4 lost its own entry above and boots the Compute entry: deleting that changes node 4.
    expect((await ochamiSend("DELETE", BP, { hosts: ["Compute"] })).body.nodes).toEqual([xname(4)]);
    expect((await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x1000c1s7b7n0", State: "Ready", NID: 7 }] })).status).toBe(
      204,
    );
    expect(problemOf(await ochamiSend("PATCH", BP, { nids: [7], params: "x" }))).toMatchObject({
      status: 404,
      detail:
        "Not Found: x1000c1s7b7n0 boots nothing (no boot parameters for xname, MACs, NID, role or Default): use PUT (ochami bss boot params set) (NID 7 is x1000c1s7b7n0)",
    });
  });
});

describe("role and Default entries", () => {
  it("report the nodes for which they are what wins", async () => {
    // Nodes 1, 2, 3, 5, 6 have entries of their own; 4 and 7 have none.
    const d = await ochamiSend("PUT", BP, { hosts: ["Default"], kernel: "http://k/default" });
    expect(d.body).toEqual({ nodes: [xname(4), "x1000c1s7b7n0"], identifiers: { hosts: ["Default"] } });
    const c = await ochamiSend("PUT", BP, { hosts: ["Compute"], kernel: "http://k/compute" });
    expect(c.body).toEqual({ nodes: [xname(4), "x1000c1s7b7n0"], identifiers: { hosts: ["Compute"] } });
    const s = await ochamiSend("PUT", BP, { hosts: ["Service"], kernel: "http://k/service" });
    expect(s.body).toEqual({ nodes: [], identifiers: { hosts: ["Service"] } });
    // By config: every entry booting this kernel goes; the nodes that booted them are named.
    const del = await ochamiSend("DELETE", BP, { kernel: "http://k/compute" });
    expect(del.body).toEqual({ nodes: [xname(4), "x1000c1s7b7n0"], identifiers: { hosts: ["Compute"] } });
    expect(await kernelFor(`mac=${mac(4)}`)).toBe("http://k/default");
  });
});
