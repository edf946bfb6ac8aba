import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { buildDiscoveryPayloads, discoverStatic } from "../api/ochami-discover";
import { type Home, loggedInHome, ochami, startTestApi, type TestApi } from "./harness";
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
      expect(again.stderr).toMatch(/smd redfish endpoints: 0 added, \d+ replaced/);
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
    expect(r.stderr).toMatch(new RegExp(`^dry run: ${expected.length} requests printed, nothing sent`));
    expect((await smdState()).comps).toEqual([]);
  });

  it("without --overwrite a re-run reports each conflict and exits 4; --discovery-version 1 also posts interfaces", async () => {
    const file = `@${path.join(fixtures, "nodes.new-format.yaml")}`;
    expect((await run("discover", "static", "-d", file)).code).toBe(0);
    const again = await run("discover", "static", "-d", file);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain(
      "error: POST /hsm/v2/Inventory/RedfishEndpoints (x1000c1s0b0): 409 Conflict: operation would conflict with an existing resource that has the same FQDN or xname ID. (it exists already; --overwrite replaces it)\n",
    );
    expect(again.stderr).toContain("error: POST /hsm/v2/groups (compute): 409 Conflict:");
    const v1 = await run("discover", "static", "--overwrite", "--discovery-version", "1", "-d", file);
    expect(v1.code, v1.stderr).toBe(0);
    expect(v1.stderr).toContain("smd interfaces: 0 added, 1 updated");
    const iface = (await call("GET", "/hsm/v2/Inventory/EthernetInterfaces/deadbeeeeef1")).body;
    expect(iface).toMatchObject({ ComponentID: "x1000c1s0b0n0", IPAddresses: [{ IPAddress: "172.16.0.1", Network: "internal" }] });
    await wipeSmd();
  });

  it("a bad nodes file is a usage error listing every problem; nothing is sent", async () => {
    const bad = home.file(
      "bad.yaml",
      stringify({
        nodes: [
          { name: "a", xname: "x1c1s1b1", bmc_mac: "zz", interfaces: [{ mac_addr: "ec:e7:a7:05:a1:f1" }] },
          { name: "b", xname: "x1c1s1b2n0", bmc_ip: "1.2.3.4", interfaces: [{ mac_addr: "EC-E7-A7-05-A1-F1" }] },
        ],
      }),
    );
    const r = await run("discover", "static", "-d", `@${bad}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `error: ${bad}: 3 problems:\n` +
        "  nodes[0] (a).xname 'x1c1s1b1' is not a Node xname (like x1000c1s7b0n0)\n" +
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
      "smd components: 9 set",
      "smd redfish endpoints: 9 added, 0 replaced (with their nodes' interfaces)",
      "smd groups: compute (9), ssh (9), chrony (9), disk_config (1)",
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
