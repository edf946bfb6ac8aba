import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../workers/app";
import { api, getJson, ochamiSend, problemOf, send } from "./client";

const BS = "/boot/v1/bootscript";
const K = "http://172.16.0.254:9000/boot-images/efi-images/compute/base/vmlinuz-5.14.0-570.21.1.el9_6.x86_64";
const I = "http://172.16.0.254:9000/boot-images/efi-images/compute/base/initramfs-5.14.0-570.21.1.el9_6.x86_64.img";
/** The tutorial's params, which already carry a ds= (so none is added). */
const TUTORIAL_PARAMS =
  "nomodeset ro root=live:http://172.16.0.254:9000/boot-images/compute/base/rocky9.6-compute-base-rocky9 ip=dhcp overlayroot=tmpfs overlayroot_cfgdisk=disabled apparmor=0 selinux=0 console=ttyS0,115200 ip6=off cloud-init=enabled ds=nocloud-net;s=http://172.16.0.254:8081/cloud-init";

async function node(id: string, fields: Record<string, unknown>, macs: string[]) {
  const r = await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: id, State: "Ready", Role: "Compute", ...fields }] });
  expect(r.status).toBe(204);
  for (const mac of macs)
    expect((await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: mac, ComponentID: id })).status).toBe(201);
}

async function script(path: string) {
  const res = await api(path);
  return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
}

beforeAll(async () => {
  await node("x1000c0s0b0n0", { NID: 1 }, ["52:54:00:be:ef:01", "52:54:00:be:ef:a1"]);
  await node("x1000c0s0b1n0", { NID: 2 }, ["52:54:00:be:ef:02"]);
  await node("x1000c0s0b2n0", { NID: -1 }, ["52:54:00:be:ef:03"]);
  await node("x1000c0s0b3n0", { NID: 4, Enabled: false }, ["52:54:00:be:ef:04"]);
  await node("x1000c0s0b4n0", { NID: 5 }, ["52:54:00:be:ef:05"]);
  await node("x1000c0s0b5n0", { NID: 6 }, ["52:54:00:be:ef:06"]);
  const put = (body: unknown) => ochamiSend("PUT", "/boot/v1/bootparameters", body);
  expect((await put({ macs: ["52:54:00:be:ef:01"], kernel: K, initrd: I, params: TUTORIAL_PARAMS })).status).toBe(200);
  expect((await put({ hosts: ["x1000c0s0b1n0"], kernel: "http://10.0.0.1/k", params: "console=ttyS0" })).status).toBe(200);
  expect(
    (await put({ nids: [6], kernel: "http://10.0.0.1/k6", initrd: "http://10.0.0.1/i6", params: "rd.initrd=keep initrd=old quiet" }))
      .status,
  ).toBe(200);
  expect(
    (await put({ macs: ["52:54:00:be:ef:03", "52:54:00:be:ef:04"], kernel: "http://10.0.0.1/k3", initrd: "http://10.0.0.1/i3" })).status,
  ).toBe(200);
});

describe("BSS /bootscript", () => {
  it("serves a known node upstream's exact script (tutorial params with initrd and their own ds=)", async () => {
    const r = await script(`${BS}?mac=52:54:00:be:ef:01`);
    expect(r.status).toBe(200);
    expect(r.type).toBe("text/plain; charset=UTF-8");
    expect(r.text).toBe(
      "#!ipxe\n" +
        `kernel --name kernel ${K} initrd=initrd ${TUTORIAL_PARAMS} xname=x1000c0s0b0n0 nid=1 || goto boot_retry\n` +
        `initrd --name initrd ${I} || goto boot_retry\n` +
        "boot || goto boot_retry\n" +
        ":boot_retry\n" +
        "sleep 30\n" +
        "chain http://ochami.test/boot/v1/bootscript?mac=52:54:00:be:ef:01&retry=1\n" +
        "\n",
    );
  });

  it("without initrd: no initrd=initrd, no initrd line; our ds= is added; retry counts up", async () => {
    const r = await script(`${BS}?name=x1000c0s0b1n0&retry=2`);
    expect(r.text).toBe(
      "#!ipxe\n" +
        "kernel --name kernel http://10.0.0.1/k console=ttyS0 xname=x1000c0s0b1n0 nid=2 ds=nocloud;s=http://ochami.test/cloud-init/ || goto boot_retry\n" +
        "boot || goto boot_retry\n" +
        ":boot_retry\n" +
        "sleep 30\n" +
        "chain http://ochami.test/boot/v1/bootscript?mac=52:54:00:be:ef:02&retry=3\n" +
        "\n",
    );
  });

  it("replaces an initrd= token of the params (token match, not upstream's substring search) and leaves rd.initrd= alone", async () => {
    const r = await script(`${BS}?nid=6`);
    expect(r.text.split("\n")[1]).toBe(
      "kernel --name kernel http://10.0.0.1/k6 initrd=initrd rd.initrd=keep quiet xname=x1000c0s0b5n0 nid=6 ds=nocloud;s=http://ochami.test/cloud-init/ || goto boot_retry",
    );
  });

  it("leaves out nid= for a node without NID, and has no double space when params are empty", async () => {
    const r = await script(`${BS}?mac=52:54:00:be:ef:03`);
    expect(r.text.split("\n")[1]).toBe(
      "kernel --name kernel http://10.0.0.1/k3 initrd=initrd xname=x1000c0s0b2n0 ds=nocloud;s=http://ochami.test/cloud-init/ || goto boot_retry",
    );
  });

  it("finds the node by MAC in any spelling, by xname in any spelling, and by NID (Go integers)", async () => {
    const expected = (await script(`${BS}?mac=52:54:00:be:ef:01`)).text;
    for (const q of ["mac=52-54-00-BE-EF-01", "mac=525400BEEF01", "mac=5254.00be.ef01"])
      expect((await script(`${BS}?${q}`)).text).toBe(expected);
    // By name or NID the chain still carries the node's MAC, as upstream's does.
    for (const q of ["name=x1000c0s0b0n0", "name=X1000C0S00B0N0", "nid=1", "nid=0x1"])
      expect((await script(`${BS}?${q}`)).text).toBe(expected);
  });

  it("a node's other MAC finds the entry registered for its first MAC; the chain keeps the booting MAC", async () => {
    const r = await script(`${BS}?mac=52:54:00:be:ef:a1`);
    expect(r.text).toContain(`kernel --name kernel ${K} `);
    expect(r.text).toContain("chain http://ochami.test/boot/v1/bootscript?mac=52:54:00:be:ef:a1&retry=1\n");
  });

  it("an unknown MAC gets upstream's retry script, then a 404 once it carries its architecture", async () => {
    const first = await script(`${BS}?mac=02:00:00:00:00:99&ts=1700000000`);
    expect(first.status).toBe(200);
    expect(first.text).toBe(
      "#!ipxe\nsleep 10\nchain http://ochami.test/boot/v1/bootscript?mac=02:00:00:00:00:99&arch=${buildarch}&ts=1700000000\n\n",
    );
    const second = await getJson(`${BS}?mac=02:00:00:00:00:99&arch=x86_64&ts=1700000000`);
    expect(problemOf(second)).toEqual({
      status: 404,
      type: "application/problem+json",
      title: "Not Found",
      detail:
        "Unknown MAC 02:00:00:00:00:99 architecture x86_64: no Node in SMD has this MAC (add the node and its EthernetInterface to SMD)",
    });
    expect(problemOf(await getJson(`${BS}?name=x9c0s0b0n0&arch=arm64`))).toMatchObject({
      status: 404,
      detail: "Unknown x9c0s0b0n0 architecture arm64: SMD has no Node component with this xname",
    });
    const byNid = await script(`${BS}?nid=4242&ts=5`);
    expect(byNid.text).toBe("#!ipxe\nsleep 10\nchain http://ochami.test/boot/v1/bootscript?nid=4242&arch=${buildarch}&ts=5\n\n");
  });

  it("a disabled node gets no kernel, even with boot parameters", async () => {
    const first = await script(`${BS}?mac=52:54:00:be:ef:04&ts=9`);
    expect(first.text).toBe(
      "#!ipxe\nsleep 10\nchain http://ochami.test/boot/v1/bootscript?mac=52:54:00:be:ef:04&arch=${buildarch}&ts=9\n\n",
    );
    expect(problemOf(await getJson(`${BS}?mac=52:54:00:be:ef:04&arch=x86_64`))).toMatchObject({
      status: 404,
      detail: "MAC 52:54:00:be:ef:04 (x1000c0s0b3n0) architecture x86_64: the node is disabled in SMD (Enabled is false)",
    });
    expect((await send("PATCH", "/hsm/v2/State/Components/x1000c0s0b3n0/Enabled", { Enabled: true })).status).toBe(204);
    expect((await script(`${BS}?mac=52:54:00:be:ef:04&arch=x86_64`)).text).toContain("kernel --name kernel http://10.0.0.1/k3 ");
  });

  it("a known node with nothing to boot: retry by its MAC, then a 404 saying so", async () => {
    const first = await script(`${BS}?name=x1000c0s0b4n0&ts=7`);
    expect(first.text).toBe(
      "#!ipxe\nsleep 10\nchain http://ochami.test/boot/v1/bootscript?mac=52:54:00:be:ef:05&arch=${buildarch}&ts=7\n\n",
    );
    expect(problemOf(await getJson(`${BS}?mac=52:54:00:be:ef:05&arch=x86_64`))).toMatchObject({
      status: 404,
      detail:
        "MAC 52:54:00:be:ef:05 (x1000c0s0b4n0) architecture x86_64: this host not configured for booting: no boot parameters for its xname, MACs, NID, role Compute or Default",
    });
  });

  it("a node added to SMD boots on its very next request (nothing cached)", async () => {
    const mac = "52:54:00:be:ef:77";
    expect((await script(`${BS}?mac=${mac}`)).text).toContain("&arch=${buildarch}");
    await node("x1000c0s7b0n0", { NID: 77 }, [mac]);
    expect((await ochamiSend("PUT", "/boot/v1/bootparameters", { macs: [mac], kernel: "http://10.0.0.1/k77" })).status).toBe(200);
    expect((await script(`${BS}?mac=${mac}&arch=x86_64`)).text).toContain(
      "kernel --name kernel http://10.0.0.1/k77 xname=x1000c0s7b0n0 nid=77 ",
    );
  });

  it("serves the same under /apis/bss/boot/v1, chaining back through that prefix", async () => {
    const r = await script(`/apis/bss/boot/v1/bootscript?mac=52:54:00:be:ef:02`);
    expect(r.text).toContain("chain http://ochami.test/apis/bss/boot/v1/bootscript?mac=52:54:00:be:ef:02&retry=1\n");
    const unknown = await script(`/apis/bss/boot/v1/bootscript/?mac=02:00:00:00:00:98&ts=1`);
    expect(unknown.text).toContain("chain http://ochami.test/apis/bss/boot/v1/bootscript?mac=02:00:00:00:00:98&arch=${buildarch}&ts=1\n");
  });

  it("answers json=1 with upstream's JSON form, and a 404 (no retry round) when there is nothing to boot", async () => {
    const r = await getJson(`${BS}?mac=52:54:00:be:ef:02&json=1`);
    expect(r.status).toBe(200);
    expect(r.res.headers.get("content-type")).toBe("application/json; charset=UTF-8");
    expect(r.body).toEqual({
      params: "kernel console=ttyS0 xname=x1000c0s0b1n0 nid=2 ds=nocloud;s=http://ochami.test/cloud-init/",
      kernel: { path: "http://10.0.0.1/k" },
      initrd: { path: "" },
    });
    expect((await getJson(`${BS}?mac=02:00:00:00:00:99&json=1`)).status).toBe(404);
  });

  it("accepts what `ochami bss boot script get` sends (sorted keys, timestamp ignored)", async () => {
    const r = await ochamiSend("GET", `${BS}?arch=x86_64&mac=52%3A54%3A00%3Abe%3Aef%3A02&retry=4&timestamp=1700000000`);
    expect(r.status).toBe(200);
    expect(r.text).toContain("?mac=52:54:00:be:ef:02&retry=5\n");
  });

  it("rejects requests without a usable identifier", async () => {
    for (const q of ["", "?foo=1", "?nid=-1", "?nid=one", "?nid=", "?mac="])
      expect(problemOf(await getJson(`${BS}${q}`))).toMatchObject({ status: 400, detail: "Need a mac=, name=, or nid= parameter" });
    expect(problemOf(await getJson(`${BS}?mac=52:54:00:zz:ef:02`))).toMatchObject({
      status: 400,
      detail: "Bad Request: invalid MAC address format: 52:54:00:zz:ef:02",
    });
    expect(problemOf(await getJson(`${BS}?name=node01`))).toMatchObject({ status: 400, detail: "Bad Request: invalid xname: node01" });
    expect(problemOf(await getJson(`${BS}?mac=52:54:00:be:ef:01&mac=52:54:00:be:ef:02`))).toMatchObject({ status: 400 });
    expect((await send("POST", BS, {})).status).toBe(405);
  });
});

/** The worker with different configuration variables, as `npm start` would pass them. */
async function withVars(vars: Record<string, string>, path: string): Promise<Response> {
  const app = createApp();
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://ochami.test${path}`), { ...env, ...vars }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

describe("BSS /bootscript configuration", () => {
  it("takes chain and ds= URLs from OCHAMI_NODE_BASE_URL and delays from OCHAMI_BSS_*", async () => {
    const vars = { OCHAMI_NODE_BASE_URL: "http://172.16.0.254:8081/", OCHAMI_BSS_RETRY_DELAY: "5", OCHAMI_BSS_UNKNOWN_DELAY: "3" };
    const known = await (await withVars(vars, `${BS}?mac=52:54:00:be:ef:02`)).text();
    expect(known).toContain(" ds=nocloud;s=http://172.16.0.254:8081/cloud-init/ || goto boot_retry\n");
    expect(known).toContain("sleep 5\nchain http://172.16.0.254:8081/boot/v1/bootscript?mac=52:54:00:be:ef:02&retry=1\n");
    const unknown = await (await withVars(vars, `/apis/bss/boot/v1/bootscript?mac=02:00:00:00:00:97&ts=2`)).text();
    expect(unknown).toBe(
      "#!ipxe\nsleep 3\nchain http://172.16.0.254:8081/apis/bss/boot/v1/bootscript?mac=02:00:00:00:00:97&arch=${buildarch}&ts=2\n\n",
    );
  });
});
