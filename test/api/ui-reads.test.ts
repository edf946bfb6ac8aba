import { beforeAll, describe, expect, it } from "vitest";
import { api, getJson, problemOf, send } from "./client";

/**
 * The dashboard's reads (workers/ui) in workerd with a real D1: the boot facts every node's stage
 * is computed from, the unknown requesters, why a node boots what it boots, and the page's files.
 */
const H = "/boot/v1/endpoint-history";
const T = 1_700_000_000_000;
const A = { xname: "x1000c0s0b0n0", mac: "52:54:00:00:00:01", ip: "172.16.0.1" };
const B = { xname: "x1000c0s0b1n0", mac: "52:54:00:00:00:02", ip: "172.16.0.2" };

const report = (events: object[]) => send("POST", H, { events });
const facts = async () => {
  const r = await getJson("/ui/api/boots");
  expect(r.status).toBe(200);
  return { ...r.body, byName: new Map(r.body.nodes.map((row: any[]) => [row[0], row])) };
};

beforeAll(async () => {
  await send("POST", "/hsm/v2/State/Components", {
    Components: [A, B].map((n, i) => ({ ID: n.xname, State: "Ready", NID: i + 1, Role: "Compute", Enabled: true })),
  });
  for (const n of [A, B])
    await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
      MACAddress: n.mac,
      ComponentID: n.xname,
      IPAddresses: [{ IPAddress: n.ip }],
    });
});

describe("GET /ui/api/boots", () => {
  it("gives each node its latest forward step, boot start, vendor-data and group files, and the log's cursor", async () => {
    await report([
      { mac: A.mac, ip: A.ip, endpoint: "dhcp", epoch_ms: T, detail: `ACK ${A.ip} file=ipxe.efi` },
      { ip: A.ip, endpoint: "tftp", epoch_ms: T + 100, detail: "ipxe.efi" },
      { name: A.xname, endpoint: "bootscript", epoch_ms: T + 1000, detail: "k (matched by mac; retry 0)" },
      { ip: A.ip, endpoint: "kernel", epoch_ms: T + 2000, detail: "/vmlinuz" },
      { ip: A.ip, endpoint: "initrd", epoch_ms: T + 2500, detail: "/initrd" },
      // The booted OS's own DHCP (no boot file): a step, but not one that moves the boot on.
      { mac: A.mac, ip: A.ip, endpoint: "dhcp", epoch_ms: T + 9000, detail: `ACK ${A.ip}` },
      { name: A.xname, endpoint: "meta-data", epoch_ms: T + 9500, detail: "instance-id i-1" },
      { name: A.xname, endpoint: "vendor-data", epoch_ms: T + 9600, detail: "2 includes" },
      { name: A.xname, endpoint: "cloud-init-group", epoch_ms: T + 9700, detail: "compute" },
      { name: A.xname, endpoint: "cloud-init-group", epoch_ms: T + 9800, detail: "404: node x is not a member of group gpu" },
      // A lease renewal, long after.
      { mac: A.mac, ip: A.ip, endpoint: "dhcp", epoch_ms: T + 600_000, detail: `ACK ${A.ip}` },
      { mac: B.mac, ip: B.ip, endpoint: "dhcp", epoch_ms: T + 50, detail: `ACK ${B.ip} file=ipxe.efi` },
    ]);
    const f = await facts();
    expect(f.columns).toEqual(["name", "step", "at_ms", "detail", "start_ms", "vendor_ms", "vendor_detail", "groups"]);
    expect(f.byName.get(A.xname)).toEqual([
      A.xname,
      "cloud-init-group",
      T + 9800,
      "404: node x is not a member of group gpu",
      T,
      T + 9600,
      "2 includes",
      ["compute"],
    ]);
    expect(f.byName.get(B.xname)).toEqual([B.xname, "dhcp", T + 50, `ACK ${B.ip} file=ipxe.efi`, T + 50, 0, "", []]);
    const log = (await getJson(`${H}?history=true`)).body;
    expect(f.cursor).toBe(log.at(-1).id);
    expect(Math.abs(f.now_ms - Date.now())).toBeLessThan(60_000);
  });

  it("a new vendor-data starts the group count again; a new firmware DHCP moves the start", async () => {
    await report([
      { mac: A.mac, ip: A.ip, endpoint: "dhcp", epoch_ms: T + 700_000, detail: `ACK ${A.ip} file=ipxe.efi` },
      { name: A.xname, endpoint: "vendor-data", epoch_ms: T + 710_000, detail: "1 include" },
    ]);
    const row = (await facts()).byName.get(A.xname);
    expect(row).toEqual([A.xname, "vendor-data", T + 710_000, "1 include", T + 700_000, T + 710_000, "1 include", []]);
  });

  it("needs bss:read (the auth matrix checks the token side); nodes without history are absent", async () => {
    const f = await facts();
    expect(f.nodes.every((row: any[]) => row[0] === A.xname || row[0] === B.xname)).toBe(true);
  });
});

describe("GET /ui/api/unknown", () => {
  const U = "02:aa:bb:cc:dd:01";
  it("lists MACs SMD does not know, with first and last sighting, address, steps and count", async () => {
    await report([
      { mac: U, ip: "172.16.9.200", endpoint: "dhcp", epoch_ms: T + 1000, detail: "bootloop ACK 172.16.9.200 file=default" },
      { mac: U, ip: "172.16.9.200", endpoint: "tftp", epoch_ms: T + 1500, detail: "default" },
      { mac: U, ip: "172.16.9.200", endpoint: "dhcp", epoch_ms: T + 61_000, detail: "bootloop ACK 172.16.9.200 file=default" },
    ]);
    const list = (await getJson("/ui/api/unknown")).body;
    expect(list.find((u: any) => u.mac === U)).toEqual({
      mac: U,
      ip: "172.16.9.200",
      first_ms: T + 1000,
      last_ms: T + 61_000,
      endpoint: "dhcp",
      detail: "bootloop ACK 172.16.9.200 file=default",
      steps: expect.arrayContaining(["dhcp", "tftp"]),
      events: 3,
      known_as: "",
    });
  });

  it("says which component holds the MAC once it is added to SMD", async () => {
    await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x1000c0s1b0n0", State: "Ready", NID: 9 }] });
    await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: U, ComponentID: "x1000c0s1b0n0" });
    const list = (await getJson("/ui/api/unknown")).body;
    expect(list.find((u: any) => u.mac === U).known_as).toBe("x1000c0s1b0n0");
  });
});

describe("GET /ui/api/nodes/{xname}/boot", () => {
  const put = (body: object) => send("PUT", "/boot/v1/bootparameters", body);
  const explain = async (xname: string, q = "") => (await getJson(`/ui/api/nodes/${xname}/boot${q}`)).body;

  it("lists every entry that names the node, most specific first, marks the winner and gives the script /bootscript answers", async () => {
    await put({ hosts: ["Default"], kernel: "http://k/default" });
    await put({ hosts: ["Compute"], kernel: "http://k/role" });
    // An entry for a MAC SMD does not know yet stays a MAC entry; the node gets that MAC after.
    const second = "52:54:00:00:00:09";
    await put({ macs: [second], kernel: "http://k/mac", initrd: "http://k/initrd", params: "console=ttyS0" });
    await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: second, ComponentID: A.xname });
    const before = (await getJson(`${H}?history=true&name=${A.xname}`)).body.length;
    const e = await explain(A.xname);
    expect(e.node).toEqual({ id: A.xname, nid: 1, role: "Compute", enabled: true, macs: [A.mac, second] });
    // As iPXE asks after DHCP: by the MAC it boots from, its first; its other MAC's entry still wins.
    expect(e.asked).toEqual({ mac: A.mac });
    expect(e.candidates.map((c: any) => [c.kind, c.key, c.wins])).toEqual([
      ["mac", second, true],
      ["role", "Compute", false],
      ["default", "Default", false],
    ]);
    expect(e.matched_by).toBe("mac");
    expect(e.command_line).toBe(`initrd=initrd console=ttyS0 xname=${A.xname} nid=1 ds=nocloud;s=http://ochami.test/cloud-init/`);
    const script = await (await api(`/boot/v1/bootscript?mac=${A.mac}`)).text();
    expect(e.script).toBe(script);
    // Asking /bootscript recorded one step; the explanation none.
    expect((await getJson(`${H}?history=true&name=${A.xname}`)).body.length).toBe(before + 1);
  });

  it("the xname's entry beats every other; a disabled node boots nothing and says why", async () => {
    await put({ hosts: [A.xname], kernel: "http://k/xname" });
    expect((await explain(A.xname)).candidates[0]).toMatchObject({ kind: "xname", key: A.xname, kernel: "http://k/xname", wins: true });
    await send("PATCH", `/hsm/v2/State/Components/${A.xname}/Enabled`, { Enabled: false });
    const off = await explain(A.xname);
    expect(off.matched_by).toBe(null);
    expect(off.candidates.some((c: any) => c.wins)).toBe(false);
    expect(off.reason).toBe("the node is disabled in SMD (Enabled is false)");
    expect(off.script).toMatch(/^#!ipxe\nsleep 10\nchain /);
    await send("PATCH", `/hsm/v2/State/Components/${A.xname}/Enabled`, { Enabled: true });
  });

  it("answers for a node SMD lacks, and refuses a name that is not an xname or a bad MAC", async () => {
    expect(await explain("x9c0s0b0n0")).toMatchObject({ node: null, candidates: [], matched_by: null, asked: { name: "x9c0s0b0n0" } });
    expect(problemOf(await getJson("/ui/api/nodes/not-a-node/boot"))).toMatchObject({ status: 400 });
    expect(problemOf(await getJson(`/ui/api/nodes/${A.xname}/boot?mac=zz`))).toMatchObject({ status: 400 });
    // Booting from a MAC the node does not hold gets nothing of the node's entries.
    expect((await explain(A.xname, "?mac=02:00:00:00:00:ff")).matched_by).toBe(null);
  });
});

describe("the page and its files", () => {
  it("serves the page with a policy that keeps it on this origin, and its files revalidated by ETag", async () => {
    const page = await api("/ui");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'; script-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/ui/app.js">');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await api("/ui/app.js");
    expect(js.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const etag = js.headers.get("etag")!;
    expect(await js.text()).toContain("ClusterView");
    expect((await api("/ui/app.js", { headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await api("/ui/ui.css")).headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect(problemOf(await getJson("/ui/nothing.js"))).toMatchObject({ status: 404, detail: "no dashboard file nothing.js" });
  });
});
