import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { readClaims, refreshMargin } from "../../cli/auth/jwt";
import { mergeConfigs, tokenEnvName } from "../../cli/config/schema";
import { compress, compressTerms, expand } from "../../cli/generate/hostlist";
import { renderHosts, updateHostsFile } from "../../cli/generate/render";
import { parseClusterFile } from "../../cli/inventory/cluster-file";
import { InventoryError, parseNodesFile } from "../../cli/inventory/nodes-file";
import { discoveryPayloads, stableUuid } from "../../cli/inventory/payloads";
import { parseData, parseYamlData } from "../../cli/io/input";
import { renderTable } from "../../cli/io/output";
import { assignNodes, checkTemplate } from "../../cli/redfish/assign";
import type { BmcResult } from "../../cli/redfish/discover";
import { expandTargets } from "../../cli/redfish/targets";
import { instanceData, renderTemplate, withAliases } from "../../cli/render/jinja";
import { parseDuration } from "../../shared/duration";
import { buildDiscoveryPayloads } from "../api/ochami-discover";

/** The CLI's pure parts, without processes or sockets. */
const fixtures = path.join(import.meta.dirname, "..", "fixtures");

describe("host lists (powerman/conman syntax)", () => {
  it("folds zero-padded runs in order and expands back", () => {
    const names = ["nid001", "nid002", "nid003", "nid005", "nid006"];
    expect(compress(names)).toBe("nid[001-003,005-006]");
    expect(expand("nid[001-003,005-006]")).toEqual(names);
    expect(compress(["nid-bmc001", "nid-bmc002"])).toBe("nid-bmc[001-002]");
    expect(compress(["login", "nid1", "nid2"])).toBe("login,nid[1-2]");
    // Order is kept: a lower number after a higher one starts a new term.
    expect(compressTerms(["nid003", "nid001"])).toEqual(["nid003", "nid001"]);
    // Different widths never share a bracket.
    expect(compress(["n9", "n10"])).toBe("n9,n10");
  });
});

describe("BMC targets", () => {
  it("expands ranges, short ranges, CIDR blocks (host addresses only) and keeps the order", () => {
    expect(expandTargets(["172.16.0.101-103"]).map((t) => t.label)).toEqual(["172.16.0.101", "172.16.0.102", "172.16.0.103"]);
    expect(expandTargets(["10.0.0.254-10.0.1.1"]).map((t) => t.host)).toEqual(["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]);
    expect(expandTargets(["192.168.1.0/30"]).map((t) => t.host)).toEqual(["192.168.1.1", "192.168.1.2"]);
    expect(expandTargets(["192.168.1.8/31"]).map((t) => t.host)).toEqual(["192.168.1.8", "192.168.1.9"]);
    expect(expandTargets(["b.example:8443", "127.0.0.1:9000", "127.0.0.1:9000"]).map((t) => [t.host, t.port])).toEqual([
      ["b.example", 8443],
      ["127.0.0.1", 9000],
    ]);
    expect(() => expandTargets(["10.0.0.0/8"])).toThrow(/larger than \/16/);
    expect(() => expandTargets(["10.0.0.9-3"])).toThrow(/ends before/);
    expect(() => expandTargets(["bad host!"])).toThrow(/not an address/);
  });
});

describe("configuration", () => {
  it("merges clusters by name, the later file winning key by key", () => {
    const system = {
      "default-cluster": "demo",
      clusters: [
        { name: "demo", cluster: { uri: "https://a:8443", smd: { uri: "/hsm/v2" } } },
        { name: "lab", cluster: { uri: "http://lab" } },
      ],
    };
    const user = {
      clusters: [
        { name: "demo", cluster: { uri: "https://b:8443" } },
        { name: "mine", cluster: { uri: "http://m" } },
      ],
    };
    expect(mergeConfigs(system, user)).toEqual({
      "default-cluster": "demo",
      clusters: [
        { name: "demo", cluster: { uri: "https://b:8443", smd: { uri: "/hsm/v2" } } },
        { name: "lab", cluster: { uri: "http://lab" } },
        { name: "mine", cluster: { uri: "http://m" } },
      ],
    });
  });

  it("reads Go-style durations and names token variables as upstream", () => {
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("1m30s")).toBe(90_000);
    expect(parseDuration("250ms")).toBe(250);
    expect(parseDuration("2")).toBe(2000);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseDuration("1x")).toBeUndefined();
    expect(tokenEnvName("demo")).toBe("DEMO_ACCESS_TOKEN");
    expect(tokenEnvName("my-cluster")).toBe("MY_CLUSTER_ACCESS_TOKEN");
  });
});

describe("tokens", () => {
  const jwt = (claims: object) => `e30.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;
  it("reads claims without verifying and refreshes a minute (or half a short lifetime) early", () => {
    const c = readClaims(jwt({ exp: 2000, iat: 1940, scp: ["smd:read", "bss:read"], client_id: "c1" }))!;
    expect(c.scopes).toEqual(["smd:read", "bss:read"]);
    expect(refreshMargin(c)).toBe(30);
    expect(refreshMargin(readClaims(jwt({ exp: 7200, iat: 3600 }))!)).toBe(60);
    expect(readClaims(jwt({ scope: "a b" }))!.scopes).toEqual(["a", "b"]);
    expect(readClaims("opaque-token")).toBeUndefined();
  });
});

describe("nodes files", () => {
  it("reads the seed's deprecated format: one BMC per node, IP network names kept", () => {
    const inv = parseNodesFile(parse(readFileSync(path.join(fixtures, "nodes.deprecated-format.yaml"), "utf8")));
    expect(inv.format).toBe("deprecated");
    expect(inv.bmcs).toEqual([{ xname: "x1000c1s7b1", name: "nid001", mac: "c2:77:05:e2:03:48", ip: "172.16.0.101", fqdn: undefined }]);
    expect(inv.nodes[0]).toMatchObject({
      xname: "x1000c1s7b1n0",
      nid: 1,
      bmc: "x1000c1s7b1",
      groups: ["compute"],
      interfaces: [{ mac: "ec:e7:a7:05:a1:fc", ips: [{ ip: "172.16.0.1", network: "management" }] }],
    });
  });

  it("reports every problem with its place", () => {
    const bad = {
      nodes: [
        { name: "a", xname: "x1000c1s7b1", nid: -1, interfaces: [{ mac_addr: "zz", ip_addrs: [{ ip_addr: "300.1.1.1" }] }] },
        { name: "b", xname: "x1000c1s7b2n0", nid: 2, bmc: "nope", interfaces: [{ mac_addr: "52:54:00:00:00:01" }] },
        { name: "c", xname: "x1000c1s7b2n0", nid: 2, interfaces: [{ mac_addr: "52-54-00-00-00-01" }] },
      ],
    };
    let err: InventoryError | undefined;
    try {
      parseNodesFile(bad);
    } catch (e) {
      err = e as InventoryError;
    }
    expect(err?.problems).toEqual([
      "nodes[0] (a).nid must be a positive integer",
      "nodes[0] (a).interfaces[0].mac_addr 'zz' is not a MAC address",
      "nodes[0] (a).interfaces[0].ip_addrs[0].ip_addr '300.1.1.1' is not an IP address",
      "nodes[2]: xname x1000c1s7b2n0 is also used by nodes[1]",
      "nodes[2]: NID 2 is also used by nodes[1]",
      "nodes[2].interfaces[0]: MAC 52:54:00:00:00:01 is also used by nodes[1].interfaces[0]",
    ]);
  });

  it("reads what upstream reads: BMC-form node xnames, nid 0, group vs groups, bmc: by MAC, each format's network key", () => {
    const dep = parseNodesFile({
      nodes: [
        {
          name: "a",
          xname: "x1000c0s0b1",
          nid: 0,
          group: "compute",
          groups: ["ssh"],
          bmc_mac: "02:00:00:00:00:a1",
          bmc_fqdn: "a-bmc.cluster",
          interfaces: [{ mac_addr: "02:00:00:00:00:01", ip_addrs: [{ network: "mgmt", name: "other", ip_addr: "10.0.0.1" }] }],
        },
        { name: "b", xname: "x1000c0s0b2n0", group: "", bmc_ip: "10.1.0.2", interfaces: [] },
        { name: "c", xname: "x1000c0s0b3n0", interfaces: [] },
      ],
    });
    expect(dep.nodes.map((n) => [n.xname, n.bmc, n.nid, n.groups])).toEqual([
      ["x1000c0s0b1", "x1000c0s0b1", undefined, ["compute", "ssh"]],
      ["x1000c0s0b2n0", "x1000c0s0b2", undefined, []],
      ["x1000c0s0b3n0", undefined, undefined, []],
    ]);
    expect(dep.bmcs[0]).toEqual({ xname: "x1000c0s0b1", name: "a", mac: "02:00:00:00:00:a1", ip: undefined, fqdn: "a-bmc.cluster" });
    expect(dep.nodes[0].interfaces[0].ips).toEqual([{ ip: "10.0.0.1", network: "mgmt" }]);
    expect(dep.warnings).toHaveLength(4);
    expect(dep.warnings[1]).toBe("nodes[0] (a) uses 'group', which is deprecated; use 'groups' instead");
    expect(dep.warnings[3]).toBe("nodes[2] (c) has no BMC in the file: no Redfish endpoint; its interfaces are sent to SMD on their own");

    const cur = parseNodesFile({
      bmcs: [{ xname: "x1000c0s0b0", name: "b0", mac: "02:00:00:00:00:b0" }],
      nodes: [
        {
          xname: "x1000c0s0b0n0",
          bmc: "02-00-00-00-00-B0",
          interfaces: [{ mac_addr: "02:00:00:00:00:01", ip_addrs: [{ name: "mgmt", network: "x", ip_addr: "10.0.0.1" }] }],
        },
        {
          xname: "x1000c0s0b0n1",
          bmc: "b0",
          interfaces: [{ mac_addr: "02:00:00:00:00:02", ip_addrs: [{ network: "hsn", ip_addr: "10.0.0.2" }] }],
        },
      ],
    });
    expect(cur.nodes.map((n) => n.bmc)).toEqual(["x1000c0s0b0", "x1000c0s0b0"]);
    expect(cur.nodes.map((n) => n.interfaces[0].ips[0].network)).toEqual(["mgmt", "hsn"]);
    expect(cur.warnings).toEqual([]);

    // The deprecated format makes the BMC's endpoint from the node's xname: a chassis has no BMC in it.
    expect(() => parseNodesFile({ nodes: [{ xname: "x1000c0", bmc_mac: "02:00:00:00:00:c0" }] })).toThrow(
      "nodes[0].xname 'x1000c0' is a Chassis, with no BMC in it (x…c…s…b…): the deprecated format makes the BMC's endpoint from the node's xname",
    );
  });

  it("builds the bodies upstream's ochami builds (the independent replay in test/api/ochami-discover.ts)", () => {
    for (const file of ["nodes.deprecated-format.yaml", "nodes.new-format.yaml", "nodes.tutorial-9-nodes.yaml"]) {
      const text = readFileSync(path.join(fixtures, file), "utf8");
      const ours = discoveryPayloads(parseNodesFile(parse(text)), { smdHost: "demo.openchami.cluster:8443", discoveryVersion: 2 });
      const theirs = buildDiscoveryPayloads(text);
      expect(ours.components, file).toEqual(theirs.components);
      // UUIDs are random upstream, derived from the xname here.
      const noUuids = (list: any[]) => JSON.parse(JSON.stringify(list).replace(/"uuid":"[^"]*"|"UUID":"[^"]*"/gi, '"uuid":"-"'));
      expect(noUuids(ours.redfishEndpoints), file).toEqual(noUuids(theirs.rfes));
      expect(ours.groups, file).toEqual(theirs.groups);
      expect(ours.interfaces, file).toEqual([]);
    }
    expect(stableUuid("x1000c1s7b1")).toBe(stableUuid("x1000c1s7b1"));
    expect(stableUuid("x1000c1s7b1")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("posts the interfaces of nodes without a BMC entry (upstream drops them)", () => {
    const inv = parseNodesFile({
      nodes: [
        {
          name: "vm1",
          nid: 7,
          xname: "x9c0s0b0n0",
          interfaces: [{ mac_addr: "02:00:00:00:00:07", ip_addrs: [{ name: "mgmt", ip_addr: "10.0.0.7" }] }],
        },
      ],
    });
    const p = discoveryPayloads(inv, { smdHost: "h", discoveryVersion: 2 });
    expect(p.redfishEndpoints).toEqual([]);
    expect(p.interfaces).toEqual([
      {
        ComponentID: "x9c0s0b0n0",
        Type: "Node",
        Description: "Interface 0 for vm1",
        MACAddress: "02:00:00:00:00:07",
        IPAddresses: [{ IPAddress: "10.0.0.7", Network: "mgmt" }],
      },
    ]);
  });
});

describe("cluster files", () => {
  const inv = parseNodesFile(parse(readFileSync(path.join(fixtures, "nodes.tutorial-9-nodes.yaml"), "utf8")));
  it("resolves node references and groups, reads referenced files", () => {
    const files: Record<string, string> = { "k.pub": "ssh-ed25519 AAA a@b\n# comment\n", "t.yaml": "#cloud-config\n" };
    const plan = parseClusterFile(
      {
        groups: {
          ssh: "all",
          disk_config: ["compute1", "x1000c0s0b4n0"],
          tagged: { description: "T", tags: ["x"], members: ["compute2"] },
        },
        boot: [
          { groups: ["disk_config"], kernel: "http://k", params: "ro" },
          { hosts: ["Default"], kernel: "http://d" },
        ],
        "cloud-init": {
          defaults: { "cluster-name": "demo", "public-keys": ["ssh-rsa X"], "public-key-files": ["k.pub"] },
          groups: [{ name: "compute", file: { path: "t.yaml" } }],
        },
      },
      inv,
      (p) =>
        files[p] ??
        (() => {
          throw new Error("ENOENT");
        })(),
    );
    expect(plan.smdGroups.get("ssh")!.members.ids).toHaveLength(5);
    expect(plan.smdGroups.get("disk_config")!.members.ids).toEqual(["x1000c0s0b0n0", "x1000c0s0b4n0"]);
    expect(plan.smdGroups.get("tagged")).toEqual({ label: "tagged", description: "T", tags: ["x"], members: { ids: ["x1000c0s0b1n0"] } });
    expect(plan.boot).toEqual([
      { hosts: ["x1000c0s0b0n0", "x1000c0s0b4n0"], kernel: "http://k", params: "ro" },
      { hosts: ["Default"], kernel: "http://d" },
    ]);
    expect(plan.cloudInitDefaults).toEqual({ "cluster-name": "demo", "public-keys": ["ssh-rsa X", "ssh-ed25519 AAA a@b"] });
    expect(plan.cloudInitGroups).toEqual([{ name: "compute", file: { content: "#cloud-config\n", encoding: "plain" } }]);
  });

  it("lists every mistake", () => {
    expect(() =>
      parseClusterFile(
        { bot: [], boot: [{ nodes: ["nid999"], kernal: "x" }], "cloud-init": { groups: [{ file: { path: "missing" } }] } },
        inv,
        () => {
          throw new Error("ENOENT");
        },
      ),
    ).toThrow(
      new InventoryError([
        "unknown section 'bot' (known: boot, cloud-init, groups)",
        "boot[0]: unknown key 'kernal' (known: nodes, groups, hosts, macs, nids, kernel, initrd, params, cloud-init)",
        "boot[0].nodes: 'nid999' is neither a node xname nor the name of a node in the nodes file",
        "boot[0].kernel is missing",
        "cloud-init.groups[0].name is missing",
      ]),
    );
  });
});

describe("discover redfish assignment", () => {
  const ok = (host: string, mac: string, nics: Array<{ mac: string; enabled?: boolean; linkUp?: boolean }>): BmcResult => ({
    ok: true,
    facts: {
      target: { host, label: host },
      ip: host,
      mac,
      systems: [{ uri: "/redfish/v1/Systems/1", id: "1", name: "S", nics: nics.map((n, i) => ({ id: String(i), enabled: true, ...n })) }],
    },
  });
  it("numbers by position, skipping failed BMCs without shifting the others", () => {
    const results: BmcResult[] = [
      ok("10.0.0.101", "aa:00:00:00:00:01", [
        { mac: "bb:00:00:00:00:01", linkUp: false },
        { mac: "bb:00:00:00:00:02", linkUp: true },
      ]),
      { ok: false, target: { host: "10.0.0.102", label: "10.0.0.102" }, error: "connection refused" },
      ok("10.0.0.103", "aa:00:00:00:00:03", [{ mac: "bb:00:00:00:00:03" }]),
    ];
    const { doc } = assignNodes(results, {
      xnameTemplate: "x1000c1s7b{n}n0",
      nidStart: 1,
      nodesPerBmc: 1,
      nodeIpStart: "10.0.0.1",
      network: "management",
      groups: ["compute"],
      shortName: "nid",
      nidLength: 3,
      allNics: false,
    });
    expect(doc.bmcs).toEqual([
      { name: "nid-bmc001", xname: "x1000c1s7b1", mac: "aa:00:00:00:00:01", ip: "10.0.0.101" },
      { name: "nid-bmc003", xname: "x1000c1s7b3", mac: "aa:00:00:00:00:03", ip: "10.0.0.103" },
    ]);
    expect(doc.nodes.map((n) => [n.name, n.nid, n.xname, (n.interfaces as any)[0]])).toEqual([
      ["nid001", 1, "x1000c1s7b1n0", { mac_addr: "bb:00:00:00:00:02", ip_addrs: [{ name: "management", ip_addr: "10.0.0.1" }] }],
      ["nid003", 3, "x1000c1s7b3n0", { mac_addr: "bb:00:00:00:00:03", ip_addrs: [{ name: "management", ip_addr: "10.0.0.3" }] }],
    ]);
    expect(checkTemplate("x1000c1s7b0n0")).toMatch(/same xname/);
    expect(checkTemplate("x1000c1s{n}")).toMatch(/does not make a node xname/);
  });
});

describe("Jinja rendering as cloud-init does", () => {
  it("gives ds.meta_data, v1 and their aliases; strips the header; trims blocks", async () => {
    const md = {
      "instance-id": "i-1",
      "local-hostname": "nid001",
      instance_data: { v1: { public_keys: ["k1"], vendor_data: { groups: { compute: { ntp: "10.0.0.1" } } } } },
    };
    const vars = withAliases(instanceData(md));
    const out = await renderTemplate(
      "## template: jinja\n#cloud-config\n{% for k in v1.public_ssh_keys %}\n- {{ k }}\n{% endfor %}\nhost: {{ local_hostname }} {{ ds.meta_data.local_hostname }}\nntp: {{ ds.meta_data.instance_data.v1.vendor_data.groups['compute'].ntp }}\n{% if True %}{{ 'a-b'.upper() }} {{ ' x y '.split() | join('+') }} {{ d.items() | length }}{% endif %}\n",
      { ...vars, d: { a: 1, b: 2 } },
    );
    expect(out).toBe("#cloud-config\n- k1\nhost: nid001 nid001\nntp: 10.0.0.1\nA-B x+y 2"); // trim_blocks eats the newline after endif, as in Jinja2
    expect(await renderTemplate("#cloud-config\n{{ not_a_template }}\n", vars)).toBe("#cloud-config\n{{ not_a_template }}\n");
  });
});

describe("output", () => {
  it("aligns table columns and unwraps upstream's wrappers", () => {
    expect(
      renderTable({
        Components: [
          { ID: "x1", NID: 1, Enabled: true },
          { ID: "x22", Enabled: false },
        ],
      }),
    ).toBe("ID   NID  ENABLED\nx1   1    true\nx22       false\n");
    expect(renderTable({ a: 1, bb: [1, 2] })).toBe("KEY  VALUE\na    1\nbb   1,2\n");
  });

  it("keeps an existing hosts file around the marked block", () => {
    const block = renderHosts([{ node: "nid001", xname: "x", ip: "10.0.0.1", bmc: { name: "nid-bmc001", ip: "10.0.0.101" } }]);
    const once = updateHostsFile("127.0.0.1 localhost\n", block);
    expect(once).toBe(`127.0.0.1 localhost\n${block}`);
    expect(updateHostsFile(once, block)).toBe(once);
    expect(updateHostsFile(`${once}::1 ip6\n`, block.replace("10.0.0.1 ", "10.0.0.9 "))).toBe(
      `127.0.0.1 localhost\n${block.replace("10.0.0.1 ", "10.0.0.9 ")}::1 ip6\n`,
    );
  });
});

describe("-d YAML input (js-yaml)", () => {
  it("reads the nodes files as the yaml package does: core schema, MACs and times as strings, empty is null", () => {
    for (const file of ["nodes.deprecated-format.yaml", "nodes.new-format.yaml", "nodes.tutorial-9-nodes.yaml"]) {
      const text = readFileSync(path.join(fixtures, file), "utf8");
      expect(parseYamlData(text), file).toEqual(parse(text));
    }
    const scalars = "mac: de:ad:be:ee:ee:f1\nt: 12:30:00\nd: 2001-12-14\nb: yes\nn: 0x1F\nz: ~\nq: '08'\n";
    expect(parseYamlData(scalars)).toEqual(parse(scalars));
    expect(parseYamlData("")).toBeNull();
    expect(parseYamlData("# only a comment\n")).toBeNull();
    expect(parseYamlData("a: &x {b: 1}\nc: *x\nd: '*'\n")).toEqual({ a: { b: 1 }, c: { b: 1 }, d: "*" });
  });

  it("refuses several documents, and aliases that expand far beyond the text (billion laughs)", () => {
    expect(() => parseYamlData("a: 1\n---\nb: 2\n")).toThrow(/more than one YAML document/);
    const levels = ["a: &a [x,x,x,x,x,x,x,x,x]"];
    for (const [i, name] of ["b", "c", "d", "e", "f", "g"].entries()) {
      const prev = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(",")}]`);
    }
    expect(() => parseYamlData(levels.join("\n"))).toThrow(/aliases expand/);
    expect(() => parseData("a: [1, 2", "yaml", "--data")).toThrow(/cannot parse --data as YAML/);
  });
});
