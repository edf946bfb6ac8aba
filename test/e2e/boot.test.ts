/**
 * Issue 7, the proof that the whole system works: a diskless VM boots through this project alone.
 *
 * `npm start` (API + agent) runs in a network namespace whose bridge is the boot network. A node is
 * registered the way the seed does it (`ochami discover static` → SMD, BSS boot parameters,
 * a cloud-init group), then QEMU boots it: its iPXE ROM does DHCP with our agent, chains the
 * bootscript from BSS through the agent's node proxy, downloads kernel and initrd from the agent's
 * image server, and Linux's init (test/e2e/node-image.ts) gets a lease from our DHCP and fetches
 * its cloud-init data, printing it on the serial console. Then the boot history must show every
 * step, and `ochami bss history --follow` must print them.
 *
 * The second case: a MAC nobody registered gets the bootloop (pool address, reboot script) and
 * boots once it is added to SMD, with nothing restarted.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { discoverStatic } from "../api/ochami-discover";
import { cleanEnv } from "../head-node/auth-process";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import {
  createBootNetwork,
  destroyBootNetwork,
  HEAD_IP,
  type HeadNode,
  nsHttp,
  ochamiOnHead,
  startHeadNode,
  startVm,
  type Vm,
} from "./boot-lab";
import { buildNodeImage, MARK, NODE_IMAGE_NEEDS, type NodeImage } from "./node-image";

const missing = requirements(NODE_IMAGE_NEEDS);

const API = "http://127.0.0.1:8081";
const IMAGES = `http://${HEAD_IP}:8080`;
const NODE = { xname: "x1000c0s0b0n0", nid: 1, mac: "52:54:00:64:01:01", ip: "10.64.1.21", tap: "e2-tap0" };
const LATE = { xname: "x1000c0s1b0n0", nid: 2, mac: "52:54:00:64:01:02", ip: "10.64.1.22", tap: "e2-tap1" };
const GROUP_MARK = "group-file-from-ochami-edge";

/** ochami's nodes.yaml for `discover static`: the node, its interface and its BMC. */
const nodesYaml = (n: typeof NODE, groups: string[]) => `bmcs:
- name: bmc${n.nid}
  xname: ${n.xname.replace(/n\d+$/, "")}
  mac: 52:54:00:64:02:0${n.nid}
  ip: 10.64.2.${n.nid}
nodes:
- name: node${n.nid}
  nid: ${n.nid}
  xname: ${n.xname}
  groups: [${groups.join(", ")}]
  interfaces:
  - mac_addr: ${n.mac}
    ip_addrs:
    - name: internal
      ip_addr: ${n.ip}
`;

/** The text the node printed between BEGIN/END markers for one document. */
function section(serial: string, name: string): string | undefined {
  const begin = serial.indexOf(`${MARK.begin} ${name}\n`);
  if (begin < 0) return undefined;
  const from = begin + MARK.begin.length + name.length + 2;
  const end = serial.indexOf(`${MARK.end} ${name}`, from);
  return end < 0 ? undefined : serial.slice(from, end);
}

/** Polls `probe` (every 250 ms: each look is an HTTP request) until it returns something; fails naming `what`, with the VM's console. */
const until = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, vm?: Vm) =>
  waitFor(probe, timeoutMs, () => `${what}${vm ? `\nserial:\n${vm.serial().slice(-3000)}` : ""}`, { everyMs: 250 });

describe.skipIf(missing)("a diskless node boots end to end through npm start", () => {
  // Made in beforeAll, not at collection: a skipped or filtered-out suite must leave nothing behind.
  let dir = "";
  let stateDir = "";
  let image: NodeImage;
  let head: HeadNode;
  let token: string;
  const vms: Vm[] = [];
  const timings: Record<string, number> = {};

  const admin = (method: string, p: string, body?: unknown) => nsHttp(method, `${API}${p}`, { body, token });
  const history = async (xname: string) =>
    (await nsHttp("GET", `${API}/boot/v1/endpoint-history?name=${xname}&history=true`)).json() as Promise<any[]>;
  const ochami = (args: string[]) => ochamiOnHead(dir, stateDir)(args);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "e2-boot-"));
    stateDir = path.join(dir, "state");
    let t = Date.now();
    image = await buildNodeImage();
    timings.image = Date.now() - t;
    t = Date.now();
    await destroyBootNetwork();
    await createBootNetwork([NODE.tap, LATE.tap]);
    mkdirSync(path.join(stateDir, "images", "compute"), { recursive: true });
    copyFileSync(image.vmlinuz, path.join(stateDir, "images", "compute", "vmlinuz"));
    copyFileSync(image.initramfs, path.join(stateDir, "images", "compute", "initramfs.img"));
    const agentYaml = path.join(dir, "agent.yaml");
    writeFileSync(
      agentYaml,
      `# The boot network: the agent serves DHCP, TFTP, images and the node proxy on it.
dhcp:
  interface: e2-br0
  domain: cluster.test
  unknownClients: bootloop
  pool: {start: 10.64.1.200, end: 10.64.1.220}
  bootloop: {leaseTime: 30s}
inventory: {refreshInterval: 10s, missRefreshInterval: 0.5s}
bootEvents: {interval: 0.2s}
log: {level: info}
`,
    );
    head = await startHeadNode(
      cleanEnv({ OCHAMI_STATE_DIR: stateDir, OCHAMI_AGENT_CONFIG: agentYaml, OCHAMI_BSS_RETRY_DELAY: "3", OCHAMI_BSS_UNKNOWN_DELAY: "2" }),
      path.join(dir, "npm-start.log"),
    );
    timings.start = Date.now() - t;
    token = (await ochami(["auth", "token"])).trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);

    // What the seed does: ochami discover static, BSS boot parameters, cloud-init defaults and group.
    const send = async (method: string, p: string, body?: unknown) => admin(method, p, body);
    const log = await discoverStatic(send, nodesYaml(NODE, ["compute"]));
    expect(
      log.filter(([, , status]) => status >= 300),
      JSON.stringify(log),
    ).toEqual([]);
    const params = (macs: string[]) => ({
      macs,
      kernel: `${IMAGES}/compute/vmlinuz`,
      initrd: `${IMAGES}/compute/initramfs.img`,
      params: "console=ttyS0 quiet panic=-1",
    });
    expect((await admin("PUT", "/boot/v1/bootparameters", params([NODE.mac, LATE.mac]))).status).toBe(200);
    expect(
      (await admin("PUT", "/cloud-init/admin/cluster-defaults", { "cluster-name": "e2e", "short-name": "nid", "nid-length": 3 })).status,
    ).toBeLessThan(300);
    const group = await admin("PUT", "/cloud-init/admin/groups/compute", {
      name: "compute",
      "meta-data": { ntp_server: HEAD_IP, rack: "e2" },
      file: { encoding: "plain", content: `#cloud-config\nruncmd:\n- echo ${GROUP_MARK}\n` },
    });
    expect(group.status).toBeLessThan(300);
  }, 600_000);

  afterAll(async () => {
    for (const vm of vms) vm.kill();
    const code = await head?.stop();
    await destroyBootNetwork();
    console.log(`e2e boot timings (ms): ${JSON.stringify(timings)}; image: ${image?.describe}; npm start exit ${code}`);
    if (process.env.E2E_KEEP) console.log(`kept ${dir}`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the agent serves the boot network and the API trusts only its proxy", () => {
    const out = head.output();
    expect(out).toMatch(/auth: created the agent's client \S+ \(scopes boot:report smd:read\)/);
    expect(out).toContain(`agent: DHCP on e2-br0 (${HEAD_IP}); images http://${HEAD_IP}:8080`);
    expect(out).toContain(`TFTP ${HEAD_IP}:69; node proxy http://${HEAD_IP}:8082`);
    expect(out).toContain(`nodes reach the API at http://${HEAD_IP}:8082`);
  });

  it("boots a registered node: DHCP, bootscript, kernel, initrd, Linux, DHCP again, cloud-init", async () => {
    const t0 = Date.now();
    const vm = startVm({ tap: NODE.tap, mac: NODE.mac, serialLog: path.join(dir, "node1.serial"), reboot: false });
    vms.push(vm);
    const code = await Promise.race([vm.exited, new Promise((r) => setTimeout(() => r("timeout"), 180_000))]);
    timings.registeredBoot = Date.now() - t0;
    const serial = vm.serial();
    expect(code, serial.slice(-3000)).toBe(0);
    expect(serial, serial.slice(-3000)).toContain(MARK.done);
    expect(serial).not.toContain(MARK.failed);
    // Linux's own DHCP got the SMD address and hostname from our agent.
    expect(serial).toMatch(
      new RegExp(`${MARK.dhcp} ip=${NODE.ip.replaceAll(".", "\\.")} mask=24 hostname=nid0001 domain=cluster.test server=${HEAD_IP}`),
    );
    const meta = section(serial, "meta-data")!;
    expect(meta).toContain(`local-hostname: nid001`);
    expect(meta).toMatch(/instance-id: i-[0-9a-f]{16}/);
    expect(meta).toMatch(/groups:\n\s+compute:\n(\s+\w+: .*\n)*?\s+ntp_server: 10\.64\.1\.1\n\s+rack: e2\n/);
    expect(section(serial, "user-data")).toMatch(/^#cloud-config/);
    const vendor = section(serial, "vendor-data")!;
    // npm start publishes its CA: the CA's cloud-config is included first, then the node's groups.
    expect(vendor).toContain(`#include\nhttp://${HEAD_IP}:8082/cloud-init/CA-certs.yaml\nhttp://${HEAD_IP}:8082/cloud-init/compute.yaml`);
    expect(section(serial, `include http://${HEAD_IP}:8082/cloud-init/compute.yaml`)).toContain(`- echo ${GROUP_MARK}`);

    // The boot history: every step, in boot order.
    const steps = await until("the cloud-init-group step in the history", 10_000, async () => {
      const h = await history(NODE.xname);
      return h.some((e) => e.endpoint === "cloud-init-group") ? h : undefined;
    });
    const ordered = [...steps].sort((a, b) => a.epoch_ms - b.epoch_ms || a.id - b.id);
    const sequence = ordered.map((e) => e.endpoint).filter((ep, i, all) => ep !== all[i - 1]);
    expect(sequence).toEqual([
      "dhcp",
      "bootscript",
      "kernel",
      "initrd",
      "dhcp",
      "meta-data",
      "user-data",
      "vendor-data",
      "cloud-init-group",
    ]);
    expect(ordered.every((e) => e.name === NODE.xname && e.ip === NODE.ip)).toBe(true);
    // iPXE asks for its bootscript right after its DHCP ACK: the agent answers its IPv6 router
    // solicitation, so it does not wait 16 s for a router first.
    const bootscriptAt = ordered.find((e) => e.endpoint === "bootscript")!.epoch_ms;
    const firmwareAck = ordered.filter((e) => e.endpoint === "dhcp" && e.epoch_ms <= bootscriptAt).at(-1)!.epoch_ms;
    timings.ackToBootscript = bootscriptAt - firmwareAck;
    expect(bootscriptAt - firmwareAck, "ms from iPXE's DHCP ACK to its bootscript request").toBeLessThan(3000);
    expect(ordered.find((e) => e.endpoint === "kernel")).toMatchObject({ mac: NODE.mac, detail: "/compute/vmlinuz" });
    expect(ordered.find((e) => e.endpoint === "dhcp")!.detail).toMatch(
      /^ACK 10\.64\.1\.21 file=http:\/\/10\.64\.1\.1:8082\/boot\/v1\/bootscript\?mac=/,
    );

    // What an admin watching sees: the same steps, one line each, with time since the boot began.
    const watch = await ochami(["bss", "history", "--follow", "--once", "--group", "compute"]);
    writeFileSync(path.join(dir, "watch.txt"), watch);
    const lines = watch.trim().split("\n");
    expect(lines.map((l) => l.split(/\s+/)[2]).filter((ep, i, all) => ep !== all[i - 1])).toEqual(sequence);
    expect(lines.every((l) => l.split(/\s+/)[1] === NODE.xname)).toBe(true);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3}\s+x1000c0s0b0n0\s+dhcp\s+\+0\.0s\s+ACK 10\.64\.1\.21 file=/);
    expect(lines.at(-1)).toMatch(/cloud-init-group\s+\+\d+\.\ds\s+/);
  }, 240_000);

  it("an unknown MAC bootloops until it is added to SMD, then boots without any restart", async () => {
    const t0 = Date.now();
    const vm = startVm({ tap: LATE.tap, mac: LATE.mac, serialLog: path.join(dir, "node2.serial"), reboot: true });
    vms.push(vm);
    const byMac = async () =>
      ((await nsHttp("GET", `${API}/boot/v1/endpoint-history?history=true&endpoint=dhcp,tftp`)).json() as any[]).filter(
        (e) => e.mac === LATE.mac,
      );
    // Two rounds of the loop: pool address, the reboot script over TFTP, and again.
    const loop = await until(
      "two bootloop rounds",
      150_000,
      async () => {
        const h = await byMac();
        return h.filter((e) => e.endpoint === "tftp").length >= 2 ? h : undefined;
      },
      vm,
    );
    timings.bootloopTwoRounds = Date.now() - t0;
    const acked = loop.find((e) => e.endpoint === "dhcp" && e.detail.startsWith("bootloop ACK"));
    expect(acked).toMatchObject({ name: "", detail: expect.stringMatching(/^bootloop ACK 10\.64\.1\.2(0\d|1\d|20) file=default$/) });
    expect(loop.find((e) => e.endpoint === "tftp")).toMatchObject({ detail: "default" });
    expect(vm.serial()).not.toContain(MARK.up);

    const t1 = Date.now();
    const send = async (method: string, p: string, body?: unknown) => admin(method, p, body);
    // A new node for an existing group: discover it, then add it to the group (ochami smd group member add).
    const log = await discoverStatic(send, nodesYaml(LATE, []));
    expect(
      log.filter(([, , status]) => status >= 300),
      JSON.stringify(log),
    ).toEqual([]);
    expect((await admin("POST", "/hsm/v2/groups/compute/members", { id: LATE.xname })).status).toBe(201);
    const code = await Promise.race([vm.exited, new Promise((r) => setTimeout(() => r("timeout"), 180_000))]);
    timings.bootAfterAdding = Date.now() - t1;
    const serial = vm.serial();
    expect(code, serial.slice(-3000)).toBe(0);
    expect(serial).toContain(MARK.done);
    expect(serial).toMatch(new RegExp(`${MARK.dhcp} ip=${LATE.ip.replaceAll(".", "\\.")} mask=24 hostname=nid0002`));
    expect(section(serial, "meta-data")).toContain("local-hostname: nid002");
    const events = await until("the late node's cloud-init-group step", 10_000, async () => {
      const h = await history(LATE.xname);
      return h.some((e) => e.endpoint === "cloud-init-group") ? h : undefined;
    });
    const steps = events
      .sort((a, b) => a.epoch_ms - b.epoch_ms || a.id - b.id)
      .map((e) => e.endpoint)
      .filter((ep, i, all) => ep !== all[i - 1]);
    expect(steps).toEqual(["dhcp", "bootscript", "kernel", "initrd", "dhcp", "meta-data", "user-data", "vendor-data", "cloud-init-group"]);
  }, 400_000);
});
