import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { buildDiscoveryPayloads, discoverStatic } from "../api/ochami-discover";
import { requirements } from "../support/requirements";
import { type Home, loggedInHome, OCHAMI_BIN, ochami, startTestApi, type TestApi } from "./harness";
import {
  SEED_CHRONY_TEMPLATE,
  SEED_CLUSTER_YAML,
  SEED_INITRD,
  SEED_KERNEL,
  SEED_NODES,
  SEED_NODES_YAML,
  SEED_PARAMS,
  SEED_PUBKEY,
} from "./seed";

/**
 * `ochami discover static` against the real API: the SMD it leaves is the SMD upstream's ochami
 * leaves (test/api/ochami-discover.ts replays upstream independently), re-runs are idempotent
 * with --overwrite, and with a cluster file one command sets up the seed's whole cluster.
 */
const fixtures = path.join(import.meta.dirname, "..", "fixtures");
let api: TestApi;
let home: Home;
let token: string;
const run = (...args: string[]) => ochami(args, { env: home.env });

async function call(method: string, p: string, body?: unknown) {
  const res = await fetch(api.url + p, {
    method,
    headers: { authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** SMD as the clients read it, without what is random or time-dependent. */
async function smdState() {
  const comps = (await call("GET", "/hsm/v2/State/Components")).body.Components;
  const ifaces = (await call("GET", "/hsm/v2/Inventory/EthernetInterfaces")).body.map(({ LastUpdate: _t, ...i }: any) => i);
  const rfes = (await call("GET", "/hsm/v2/Inventory/RedfishEndpoints")).body.RedfishEndpoints.map(({ UUID: _u, ...r }: any) => r);
  const ces = (await call("GET", "/hsm/v2/Inventory/ComponentEndpoints")).body.ComponentEndpoints.map(({ UUID: _u, ...c }: any) => c);
  const groups = (await call("GET", "/hsm/v2/groups")).body;
  return { comps, ifaces, rfes, ces, groups };
}

async function wipeSmd() {
  for (const p of ["/hsm/v2/State/Components", "/hsm/v2/Inventory/RedfishEndpoints", "/hsm/v2/Inventory/EthernetInterfaces"]) {
    const r = await call("DELETE", p);
    expect([200, 404]).toContain(r.status);
  }
  for (const g of (await call("GET", "/hsm/v2/groups")).body) expect((await call("DELETE", `/hsm/v2/groups/${g.label}`)).status).toBe(200);
  expect((await smdState()).comps).toEqual([]);
}

beforeAll(async () => {
  api = await startTestApi();
  home = await loggedInHome(api);
  token = (await run("auth", "token")).stdout.trim();
});
afterAll(async () => {
  home?.remove();
  await api?.stop();
});

describe("same SMD as upstream's ochami", () => {
  for (const fixture of ["nodes.tutorial-9-nodes.yaml", "nodes.new-format.yaml"]) {
    it(`${fixture}: first run and --overwrite re-run`, async () => {
      const file = path.join(fixtures, fixture);
      const text = readFileSync(file, "utf8");
      const upstreamLog = await discoverStatic((m, p, b) => call(m, p, b), text);
      expect(
        upstreamLog.every(([, , s]) => s < 300),
        JSON.stringify(upstreamLog),
      ).toBe(true);
      const upstream = await smdState();
      expect(upstream.comps.length).toBeGreaterThan(0);
      await wipeSmd();

      const first = await run("discover", "static", "-d", `@${file}`);
      expect(first.code, first.stderr).toBe(0);
      expect(await smdState()).toEqual(upstream);

      const again = await run("discover", "static", "--overwrite", "-d", `@${file}`, "-f", "yaml");
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toMatch(
        /^smd components: \d+ unchanged\nsmd redfish endpoints: \d+ unchanged\nsmd groups: 1 unchanged \(compute\)\n$/m,
      );
      expect(await smdState()).toEqual(upstream);
      await wipeSmd();
    });
  }

  it("--dry-run prints upstream's request sequence and bodies (endpoints in one request), and sends nothing", async () => {
    const text = readFileSync(path.join(fixtures, "nodes.tutorial-9-nodes.yaml"), "utf8");
    const r = await run("discover", "static", "--dry-run", "-d", `@${path.join(fixtures, "nodes.tutorial-9-nodes.yaml")}`);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => {
        const [method, p, ...body] = l.split(" ");
        return { method, path: p, body: JSON.parse(body.join(" ")) };
      });
    const expected: Array<{ method: string; path: string; body: unknown }> = [];
    await discoverStatic(async (method, p, body) => {
      expected.push({ method, path: p, body });
      return { status: 201 };
    }, text);
    // Where we differ on purpose: upstream's one POST per Redfish endpoint goes as SMD's array form.
    const rfes = expected.filter((r) => r.path === "/hsm/v2/Inventory/RedfishEndpoints");
    expect(rfes.length).toBeGreaterThan(1);
    expected.splice(expected.indexOf(rfes[0]), rfes.length, {
      method: "POST",
      path: rfes[0].path,
      body: { RedfishEndpoints: rfes.map((r) => r.body) },
    });
    const strip = (x: unknown) =>
      JSON.parse(
        JSON.stringify(x)
          .replace(/"(uuid|UUID)":"[^"]*"/g, '"$1":"-"')
          .replace(/https:\/\/[^/"]+\/redfish/g, "https://H/redfish"),
      );
    expect(strip(lines)).toEqual(strip(expected));
    expect(r.stderr).toMatch(new RegExp(`^dry run: ${expected.length} requests printed, nothing sent`, "m"));
    expect((await smdState()).comps).toEqual([]);
  });

  it("--discovery-version 1 also posts interfaces (upstream's network names), once", async () => {
    const file = `@${path.join(fixtures, "nodes.new-format.yaml")}`;
    expect((await run("discover", "static", "-d", file)).code).toBe(0);
    const v1 = await run("discover", "static", "--overwrite", "--discovery-version", "1", "-d", file);
    expect(v1.code, v1.stderr).toBe(0);
    // SMD made the interface from the endpoint, without a network name; the PATCH adds it.
    expect(v1.stderr).toContain("smd interfaces: 1 changed\n");
    const iface = (await call("GET", "/hsm/v2/Inventory/EthernetInterfaces/deadbeeeeef1")).body;
    expect(iface).toMatchObject({ ComponentID: "x1000c1s0b0n0", IPAddresses: [{ IPAddress: "172.16.0.1", Network: "internal" }] });
    const again = await run("discover", "static", "--overwrite", "--discovery-version", "1", "-d", file);
    expect(again.stderr).toContain("smd interfaces: 1 unchanged\n");
    await wipeSmd();
  });

  it("a bad nodes file is a usage error listing every problem; nothing is sent", async () => {
    const bad = home.file(
      "bad.yaml",
      stringify({
        nodes: [
          { name: "a", xname: "nid001", bmc_mac: "zz", interfaces: [{ mac_addr: "ec:e7:a7:05:a1:f1" }] },
          { name: "b", xname: "x1c1s1b2n0", bmc_ip: "1.2.3.4", interfaces: [{ mac_addr: "EC-E7-A7-05-A1-F1" }] },
        ],
      }),
    );
    const r = await run("discover", "static", "-d", `@${bad}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: ${bad}: 3 problems:\n` +
        "  nodes[0] (a).xname 'nid001' is not a component xname (like x1000c1s7b0n0)\n" +
        "  nodes[0] (a).bmc_mac 'zz' is not a MAC address\n" +
        "  nodes[1].interfaces[0]: MAC ec:e7:a7:05:a1:f1 is also used by nodes[0].interfaces[0]\n",
    );
    expect((await smdState()).comps).toEqual([]);
  });
});

describe("the seed's whole setup in one command (--cluster-file)", () => {
  let nodes: string;
  let cluster: string;
  beforeAll(() => {
    nodes = home.file("seed/nodes.yaml", SEED_NODES_YAML);
    cluster = home.file("seed/cluster.yaml", SEED_CLUSTER_YAML);
    home.file("seed/id_rsa.pub", `${SEED_PUBKEY}\n`);
    home.file("seed/templates/chrony.yaml", SEED_CHRONY_TEMPLATE);
  });

  it("sets SMD, BSS and cloud-init: nodes boot the seed's image and get the seed's cloud-init data", async () => {
    const r = await run("discover", "static", "--overwrite", "-d", `@${nodes}`, "--cluster-file", cluster);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr.split("\n")).toEqual([
      "warning: the nodes file is in the deprecated format (nodes with bmc_mac/bmc_ip), which upstream's ochami will stop reading; " +
        "the current one lists bmcs: and names each node's bmc: (see `ochami discover static --help`)",
      "warning: nodes[0] (nid001), nodes[1] (nid002), nodes[2] (nid003), nodes[3] (nid004), nodes[4] (nid005) and 4 more use 'group', " +
        "which is deprecated; use 'groups' instead",
      "smd components: 9 added",
      "smd redfish endpoints: 9 added",
      "smd groups: 4 added (compute, ssh, chrony, disk_config)",
      "bss boot parameters: 1 of 1 entries set",
      "cloud-init defaults: set",
      "cloud-init groups: compute, chrony, ssh",
      "",
    ]);
    for (const n of SEED_NODES) {
      const script = await fetch(`${api.url}/boot/v1/bootscript?mac=${n.interfaces[0].mac_addr}`).then((res) => res.text());
      expect(script.split("\n")[1]).toBe(
        `kernel --name kernel ${SEED_KERNEL} initrd=initrd ${SEED_PARAMS} xname=${n.xname} nid=${n.nid} || goto boot_retry`,
      );
      expect(script.split("\n")[2]).toBe(`initrd --name initrd ${SEED_INITRD} || goto boot_retry`);
    }
    const [md] = JSON.parse((await run("cloud-init", "node", "get", "meta-data", "x1000c1s7b3n0")).stdout);
    expect(md).toMatchObject({
      "local-hostname": "nid003",
      "cluster-name": "demo",
      instance_data: {
        v1: {
          local_ipv4: "172.16.0.3",
          public_keys: [SEED_PUBKEY],
          vendor_data: {
            cloud_init_base_url: "http://172.16.0.254:8081/cloud-init",
            groups: { compute: { chrony_server: "172.16.0.254" } },
          },
        },
      },
    });
    expect((await run("cloud-init", "node", "get", "vendor-data", "x1000c1s7b3n0")).stdout).toBe(
      "#include\nhttp://172.16.0.254:8081/cloud-init/chrony.yaml\nhttp://172.16.0.254:8081/cloud-init/ssh.yaml\n",
    );
    const rendered = (await run("cloud-init", "group", "render", "chrony", "x1000c1s7b3n0")).stdout;
    expect(rendered).toContain("      server 172.16.0.254 iburst\n");
    expect((await call("GET", "/hsm/v2/groups/disk_config")).body.members.ids).toEqual(["x1000c1s7b1n0"]);
  });

  it("a re-run changes nothing; an edited file changes just what was edited (group members too)", async () => {
    const before = {
      smd: await smdState(),
      boot: (await call("GET", "/boot/v1/bootparameters")).body,
      ci: (await call("GET", "/cloud-init/admin/groups")).body,
    };
    const again = await run("discover", "static", "--overwrite", "-d", `@${nodes}`, "--cluster-file", cluster);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(
      "smd components: 9 unchanged\nsmd redfish endpoints: 9 unchanged\nsmd groups: 4 unchanged (compute, ssh, chrony, disk_config)\n",
    );
    expect({
      smd: await smdState(),
      boot: (await call("GET", "/boot/v1/bootparameters")).body,
      ci: (await call("GET", "/cloud-init/admin/groups")).body,
    }).toEqual(before);

    home.file(
      "seed/cluster.yaml",
      SEED_CLUSTER_YAML.replace("disk_config: [x1000c1s7b1n0]", "disk_config: [nid002, nid003]").replace(
        "ipv6.disable=1",
        "ipv6.disable=0",
      ),
    );
    const edited = await run("discover", "static", "--overwrite", "-d", `@${nodes}`, "--cluster-file", cluster);
    expect(edited.code, edited.stderr).toBe(0);
    // No terminal to ask on: the member dropped is named in a warning.
    expect(edited.stderr).toContain(
      "warning: group disk_config: 1 member not in the files (x1000c1s7b1n0) removed (--overwrite makes a group's members those of the files)\n",
    );
    expect(edited.stderr).toContain("smd groups: 1 changed (disk_config: +2 -1), 3 unchanged (compute, ssh, chrony)\n");
    expect((await call("GET", "/hsm/v2/groups/disk_config")).body.members.ids.sort()).toEqual(["x1000c1s7b2n0", "x1000c1s7b3n0"]);
    const boot = (await call("GET", "/boot/v1/bootparameters")).body;
    expect(boot).toHaveLength(1);
    expect(boot[0].params).toBe(SEED_PARAMS.replace("ipv6.disable=1", "ipv6.disable=0"));
  });

  it("mistakes in the cluster file are listed before anything is sent", async () => {
    const bad = home.file(
      "seed/bad-cluster.yaml",
      "boot:\n  - groups: [gpu]\n    kernel: http://k\ncloud-init:\n  groups:\n    - name: x\n      file: {path: nowhere.yaml}\n",
    );
    const r = await run("discover", "static", "-d", `@${nodes}`, "--cluster-file", bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `^error: ${bad.replace(/[.]/g, "\\.")}: 2 problems:\n  boot\\[0\\]\\.groups: group 'gpu' has no nodes in the nodes file or the groups section\n  cloud-init\\.groups\\[0\\]\\.file\\.path: cannot read nowhere\\.yaml: no such file\n$`,
      ),
    );
  });
});

describe("payloads match the independent replay for the seed file too", () => {
  it("(sanity of the seed fixture used above and in generate.test.ts)", () => {
    const p = buildDiscoveryPayloads(SEED_NODES_YAML);
    expect(p.components).toHaveLength(9);
    expect(p.groups).toEqual([{ label: "compute", description: "The compute group", members: { ids: SEED_NODES.map((n) => n.xname) } }]);
  });
});

describe("nodes files as upstream's ochami reads them", () => {
  afterAll(async () => {
    await wipeSmd();
  });

  it("node xnames in BMC form (one node per BMC, as recipes write them): SMD ends up as upstream's ochami leaves it", async () => {
    // Upstream derives a node's BMC from the `x…c…s…b…` its xname starts with, so x1000c0s0b1 is
    // its own BMC; SMD types the component from its xname (NodeBMC) and makes the node behind the
    // endpoint x1000c0s0b1n0. The replay sends upstream's requests; ours must leave the same SMD.
    const nodes = [1, 2, 3].map((i) => ({
      name: `nid00${i}`,
      xname: `x1000c0s0b${i}`,
      nid: i,
      group: "compute",
      bmc_mac: `de:ca:fc:0f:fe:e${i}`,
      bmc_ip: `172.16.0.10${i}`,
      interfaces: [{ mac_addr: `52:54:00:be:ef:0${i}`, ip_addrs: [{ network: "management", ip_addr: `172.16.0.${i}` }] }],
    }));
    const text = stringify({ nodes });
    const file = home.file("recipe/nodes.yaml", text);
    await wipeSmd();
    const upstreamLog = await discoverStatic((m, p, b) => call(m, p, b), text);
    expect(
      upstreamLog.every(([, , st]) => st < 300),
      JSON.stringify(upstreamLog),
    ).toBe(true);
    const upstream = await smdState();
    expect(upstream.comps.map((c: any) => [c.ID, c.Type])).toEqual([
      ["x1000c0s0b1", "NodeBMC"],
      ["x1000c0s0b1n0", "Node"],
      ["x1000c0s0b2", "NodeBMC"],
      ["x1000c0s0b2n0", "Node"],
      ["x1000c0s0b3", "NodeBMC"],
      ["x1000c0s0b3n0", "Node"],
    ]);
    await wipeSmd();

    const r = await run("discover", "static", "-d", `@${file}`, "-f", "yaml");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      "warning: nodes[0] (nid001) x1000c0s0b1, nodes[1] (nid002) x1000c0s0b2, nodes[2] (nid003) x1000c0s0b3: a BMC's xname, not a node's: " +
        "SMD records it as a NodeBMC, and the node behind that BMC as <xname>n0, which gets the interfaces and a NID of SMD's choosing " +
        "(as with upstream's ochami). A node's xname ends in n<k> (x1000c0s0b1n0)\n",
    );
    expect(r.stderr).toContain("smd components: 3 added\nsmd redfish endpoints: 3 added\nsmd groups: 1 added (compute)\n");
    expect(await smdState()).toEqual(upstream);

    const again = await run("discover", "static", "--overwrite", "-d", `@${file}`, "-f", "yaml");
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("smd components: 3 unchanged\nsmd redfish endpoints: 3 unchanged\nsmd groups: 1 unchanged (compute)\n");
    expect(await smdState()).toEqual(upstream);
  });

  it("the current format: bmc: by MAC, an unknown bmc:, nid 0, an empty group:, network names", async () => {
    await wipeSmd();
    const file = home.file(
      "quirks.yaml",
      stringify({
        bmcs: [{ name: "bmc-a", xname: "x3000c0s1b0", mac: "02:00:00:00:0a:01", ip: "10.1.0.1" }],
        nodes: [
          {
            name: "a",
            nid: 0,
            xname: "x3000c0s1b0n0",
            bmc: "02:00:00:00:0a:01",
            group: "",
            groups: ["compute"],
            interfaces: [{ mac_addr: "02:00:00:00:00:01", ip_addrs: [{ name: "mgmt", ip_addr: "10.0.0.1" }] }],
          },
          {
            name: "b",
            nid: 2,
            xname: "x3000c0s2b0n0",
            bmc: "bmc-nope",
            groups: ["compute"],
            interfaces: [{ mac_addr: "02:00:00:00:00:02", ip_addrs: [{ network: "hsn", ip_addr: "10.0.0.2" }] }],
          },
        ],
      }),
    );
    const r = await run("discover", "static", "-d", `@${file}`);
    expect(r.code, r.stderr).toBe(0);
    // Upstream logs "no such bmc" and sends the node without a BMC; its interfaces go on their own here.
    expect(r.stderr).toContain(
      "warning: nodes[1] (b).bmc 'bmc-nope' is not the xname, name or MAC of an entry in bmcs: the node is sent without a BMC\n",
    );
    expect(r.stderr).toContain(
      "warning: nodes[1] (b) has no BMC in the file: no Redfish endpoint; its interfaces are sent to SMD on their own\n",
    );
    expect(r.stderr).not.toContain("'group'");
    const comps = (await call("GET", "/hsm/v2/State/Components")).body.Components;
    // nid: 0 sends no NID (as upstream): SMD numbers the node itself.
    expect(comps.find((c: any) => c.ID === "x3000c0s1b0n0").NID).toBeGreaterThan(0);
    expect(comps.find((c: any) => c.ID === "x3000c0s2b0n0").NID).toBe(2);
    expect((await call("GET", "/hsm/v2/Inventory/RedfishEndpoints/x3000c0s1b0")).status).toBe(200);
    const ifaceB = (await call("GET", "/hsm/v2/Inventory/EthernetInterfaces/020000000002")).body;
    expect(ifaceB).toMatchObject({ ComponentID: "x3000c0s2b0n0", IPAddresses: [{ IPAddress: "10.0.0.2", Network: "hsn" }] });
    expect((await call("GET", "/hsm/v2/groups/compute")).body.members.ids.sort()).toEqual(["x3000c0s1b0n0", "x3000c0s2b0n0"]);
  });
});

describe("reports say what changed", () => {
  const nodesOf = (count: number, ip = (i: number) => `172.16.0.${i}`) =>
    stringify({
      bmcs: Array.from({ length: count }, (_, k) => ({
        xname: `x2000c0s${k + 1}b0`,
        mac: `02:00:00:00:0b:0${k + 1}`,
        ip: `172.16.1.${k + 1}`,
      })),
      nodes: Array.from({ length: count }, (_, k) => ({
        name: `n${k + 1}`,
        nid: 100 + k + 1,
        xname: `x2000c0s${k + 1}b0n0`,
        groups: ["rack"],
        interfaces: [{ mac_addr: `02:00:00:00:0c:0${k + 1}`, ip_addrs: [{ name: "mgmt", ip_addr: ip(k + 1) }] }],
      })),
    });
  const lastUpdates = async () =>
    (await call("GET", "/hsm/v2/Inventory/EthernetInterfaces")).body.map((f: any) => `${f.ID} ${f.LastUpdate}`).sort();

  it("a re-run says unchanged and writes nothing; an edit is a conflict without --overwrite, a change with it", async () => {
    await wipeSmd();
    const file = home.file("rack.yaml", nodesOf(3));
    const first = await run("discover", "static", "-d", `@${file}`);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe("smd components: 3 added\nsmd redfish endpoints: 3 added\nsmd groups: 1 added (rack)\n");
    const state = await smdState();
    const stamps = await lastUpdates();

    for (const flags of [[], ["--overwrite"]]) {
      const again = await run("discover", "static", ...flags, "-d", `@${file}`);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stderr).toBe("smd components: 3 unchanged\nsmd redfish endpoints: 3 unchanged\nsmd groups: 1 unchanged (rack)\n");
      expect(await smdState()).toEqual(state);
      expect(await lastUpdates()).toEqual(stamps);
    }

    home.file(
      "rack.yaml",
      nodesOf(3, (i) => (i === 2 ? "172.16.0.222" : `172.16.0.${i}`)),
    );
    const conflict = await run("discover", "static", "-d", `@${file}`);
    expect(conflict.code).toBe(4);
    expect(conflict.stderr).toBe(
      "smd components: 3 unchanged\n" +
        "smd redfish endpoints: 2 unchanged, 1 conflicting\n" +
        "  conflict: redfish endpoint x2000c0s2b0: interface 02:00:00:00:0c:02: IPs 172.16.0.2 in SMD, 172.16.0.222 in the file\n" +
        "  (--overwrite replaces them with the file's)\n" +
        "smd groups: 1 unchanged (rack)\n",
    );
    expect(await smdState()).toEqual(state);

    const applied = await run("discover", "static", "--overwrite", "-d", `@${file}`);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stderr).toBe(
      "smd components: 3 unchanged\nsmd redfish endpoints: 1 changed, 2 unchanged\nsmd groups: 1 unchanged (rack)\n",
    );
    expect((await call("GET", "/hsm/v2/Inventory/EthernetInterfaces/020000000c02")).body.IPAddresses).toEqual([
      { IPAddress: "172.16.0.222" },
    ]);
  });

  const tty = requirements({ commands: ["/usr/bin/script"] });
  it.skipIf(tty)(
    "--overwrite with a partial file: asks at a terminal before dropping group members; -y and scripts get a warning",
    async () => {
      await wipeSmd();
      const all = home.file("rack.yaml", nodesOf(3));
      const part = home.file("rack-part.yaml", nodesOf(2));
      expect((await run("discover", "static", "-d", `@${all}`)).code).toBe(0);
      const members = async () => (await call("GET", "/hsm/v2/groups/rack")).body.members.ids.sort();

      const declined = await onTerminal(["discover", "static", "--overwrite", "-d", `@${part}`], "n");
      expect(declined.code, declined.output).toBe(0);
      expect(declined.output).toContain(
        "group rack: 1 member not in the files (x2000c0s3b0n0): remove it? (no: keep them, add the files') [y/N]: ",
      );
      expect(declined.output).toContain("smd groups: 1 unchanged (rack: 1 kept)");
      expect(await members()).toEqual(["x2000c0s1b0n0", "x2000c0s2b0n0", "x2000c0s3b0n0"]);

      const accepted = await onTerminal(["discover", "static", "--overwrite", "-d", `@${part}`], "y");
      expect(accepted.code, accepted.output).toBe(0);
      expect(accepted.output).toContain("smd groups: 1 changed (rack: -1)");
      expect(await members()).toEqual(["x2000c0s1b0n0", "x2000c0s2b0n0"]);

      expect((await run("discover", "static", "--overwrite", "-d", `@${all}`)).code).toBe(0);
      const yes = await onTerminal(["discover", "static", "--overwrite", "-y", "-d", `@${part}`]);
      expect(yes.output).not.toContain("[y/N]");
      expect(yes.output).toContain(
        "warning: group rack: 1 member not in the files (x2000c0s3b0n0) removed (--overwrite makes a group's members those of the files)",
      );
      expect(await members()).toEqual(["x2000c0s1b0n0", "x2000c0s2b0n0"]);
    },
  );
});

/**
 * Runs the CLI on a pseudo-terminal (script(1)), as an admin at a shell: standard input and error
 * are the terminal. `answer` is typed once the CLI asks; stdout and stderr come back as one output.
 */
function onTerminal(args: string[], answer?: string): Promise<{ code: number | null; output: string }> {
  const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
  const command = [process.execPath, OCHAMI_BIN, ...args].map(quote).join(" ");
  return new Promise((resolve, reject) => {
    const proc = spawn("/usr/bin/script", ["-q", "-e", "-c", command, "/dev/null"], { env: home.env, cwd: home.dir });
    let output = "";
    let answered = false;
    proc.stdout.on("data", (d) => {
      output += d;
      if (answer !== undefined && !answered && output.includes("[y/N]: ")) {
        answered = true;
        proc.stdin.write(`${answer}\r`);
      }
    });
    proc.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
    proc.on("error", reject);
    proc.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output: output.replace(/\r\n/g, "\n") });
    });
  });
}
