import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Home, loggedInHome, ochami, startTestApi, type TestApi } from "./harness";
import { SEED_CHRONY_TEMPLATE, SEED_CLUSTER_YAML, SEED_KERNEL, SEED_NODES, SEED_NODES_YAML, SEED_PARAMS, SEED_PUBKEY } from "./seed";

/**
 * The seed's sequence with the real command lines: the cluster file (`ochami discover static
 * --cluster-file`) writes the nodes' boot parameters by xname, then the admin re-points one node
 * by MAC with `ochami bss boot params set --mac …`: that node boots the new kernel however it
 * asks, and every write says which nodes it changed (or warns, exiting non-zero, when none).
 */
let api: TestApi;
let home: Home;
const run = (...args: string[]) => ochami(args, { env: home.env });

const IMAGE = "http://172.16.0.254:8080/openchami/rocky/test2";
const K2 = `${IMAGE}/vmlinuz-2`;
const I2 = `${IMAGE}/initramfs-2.img`;
const P2 = `nomodeset ro root=live:${IMAGE}/rootfs-2 ip=dhcp overlayroot=tmpfs ds=nocloud;s=http://172.16.0.254:8081/cloud-init/`;
const node3 = SEED_NODES[2];
const MAC3 = node3.interfaces[0].mac_addr;

/** The kernel of the script `ochami bss boot script get` prints for a node. */
async function kernelOf(...key: string[]): Promise<string> {
  const r = await run("bss", "boot", "script", "get", ...key);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.split("\n")[1].split(" ")[3];
}

beforeAll(async () => {
  api = await startTestApi();
  home = await loggedInHome(api);
  const nodes = home.file("seed/nodes.yaml", SEED_NODES_YAML);
  const cluster = home.file("seed/cluster.yaml", SEED_CLUSTER_YAML);
  home.file("seed/id_rsa.pub", `${SEED_PUBKEY}\n`);
  home.file("seed/templates/chrony.yaml", SEED_CHRONY_TEMPLATE);
  const r = await run("discover", "static", "-d", `@${nodes}`, "--cluster-file", cluster);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toContain("bss boot parameters: 1 of 1 entries set\n");
});
afterAll(async () => {
  home?.remove();
  await api?.stop();
});

describe("ochami bss boot params after the cluster file", () => {
  it("set --mac re-points that node: its script by MAC, xname and NID has the new kernel; the others keep theirs", async () => {
    expect(await kernelOf("-m", MAC3)).toBe(SEED_KERNEL);
    const r = await run("bss", "boot", "params", "set", "--mac", MAC3, "--kernel", K2, "--initrd", I2, "--params", P2);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(`changed 1 node (they boot it now): ${node3.xname}\n`);
    expect(await kernelOf("-m", MAC3)).toBe(K2);
    expect(await kernelOf("-x", node3.xname)).toBe(K2);
    expect(await kernelOf("-n", String(node3.nid))).toBe(K2);
    const script = (await run("bss", "boot", "script", "get", "-m", MAC3)).stdout.split("\n");
    expect(script[1]).toBe(`kernel --name kernel ${K2} initrd=initrd ${P2} xname=${node3.xname} nid=${node3.nid} || goto boot_retry`);
    expect(script[2]).toBe(`initrd --name initrd ${I2} || goto boot_retry`);
    for (const other of [SEED_NODES[1], SEED_NODES[3]]) expect(await kernelOf("-m", other.interfaces[0].mac_addr)).toBe(SEED_KERNEL);

    // `params get -m` shows what was set by that MAC: the node's entry.
    const got = JSON.parse((await run("bss", "boot", "params", "get", "-m", MAC3)).stdout);
    expect(got).toEqual([expect.objectContaining({ hosts: [node3.xname], kernel: K2, initrd: I2, params: P2 })]);
  });

  it("update and delete by MAC say which node changed; the cluster file's entry stays for the others", async () => {
    const u = await run("bss", "boot", "params", "update", "-m", MAC3, "--params", `${P2} quiet`);
    expect(u.code, u.stderr).toBe(0);
    expect(u.stderr).toBe(`changed 1 node (they boot it now): ${node3.xname}\n`);
    const d = await run("bss", "boot", "params", "delete", "--no-confirm", "-m", MAC3);
    expect(d.code, d.stderr).toBe(0);
    expect(d.stderr).toBe(`changed 1 node (they no longer boot what was deleted): ${node3.xname}\n`);
    const left = JSON.parse((await run("bss", "boot", "params", "get")).stdout);
    expect(left).toEqual([
      expect.objectContaining({ hosts: SEED_NODES.filter((n) => n !== node3).map((n) => n.xname), params: SEED_PARAMS }),
    ]);
    // The node has nothing to boot now: `set` it again and it boots.
    const s = await run("bss", "boot", "params", "set", "-n", String(node3.nid), "--kernel", K2);
    expect(s.stderr).toBe(`changed 1 node (they boot it now): ${node3.xname}\n`);
    expect(await kernelOf("-x", node3.xname)).toBe(K2);
  });

  it("a MAC no node in SMD has: stored, with a warning and exit 1; several items, some changing nodes: exit 4", async () => {
    const r = await run("bss", "boot", "params", "set", "--mac", "02:00:00:00:00:99", "--kernel", K2);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "warning: changed no node: macs=[02:00:00:00:00:99] name no Node in SMD (stored: they apply once SMD has such a node)\n",
    );
    expect(JSON.parse((await run("bss", "boot", "params", "get", "-m", "02:00:00:00:00:99")).stdout)).toEqual([
      expect.objectContaining({ macs: ["02:00:00:00:00:99"], kernel: K2 }),
    ]);
    const items = JSON.stringify([
      { macs: [SEED_NODES[0].interfaces[0].mac_addr], kernel: K2 },
      { macs: ["02:00:00:00:00:98"], kernel: K2 },
    ]);
    const both = await run("bss", "boot", "params", "set", "-d", items);
    expect(both.code).toBe(4);
    expect(both.stderr).toBe(
      `${SEED_NODES[0].interfaces[0].mac_addr}: changed 1 node (they boot it now): ${SEED_NODES[0].xname}\n` +
        "02:00:00:00:00:98: warning: changed no node: macs=[02:00:00:00:00:98] name no Node in SMD (stored: they apply once SMD has such a node)\n",
    );
  });

  it("params that would run iPXE commands are refused with the API's reason", async () => {
    const r = await run("bss", "boot", "params", "set", "--mac", MAC3, "--kernel", K2, "--params", "console=ttyS0 || shell");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: 400 Bad Request: .*params contains "\|\|", which iPXE would act on: /);
    expect(await kernelOf("-m", MAC3)).toBe(K2);
  });
});
