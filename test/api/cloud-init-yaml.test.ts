import { describe, expect, it } from "vitest";
import type { NodeView } from "../../workers/boot/types";
import { EMPTY_DEFAULTS } from "../../workers/boot/types";
import {
  generateHostname,
  type MetaDataTemplate,
  metaDataDocument,
  renderMetaData,
  renderMetaDataShared,
  renderVendorData,
} from "../../workers/cloud-init/metadata";
import { mergeClusterDefaults, parseClusterDefaults } from "../../workers/cloud-init/model";
import { formatNumber, goKeyCompare, renderYaml } from "../../workers/cloud-init/yaml";

/**
 * The pure document builders. Expected YAML comes from gopkg.in/yaml.v2 2.4.0 (Debian
 * golang-gopkg-yaml.v2-dev), which upstream's server marshals meta-data with, run on the same
 * values; where we differ on purpose the test says why.
 */

/** [value, what yaml.v2 writes for `{v: value}`]. */
const GO_YAML: Array<[string, string]> = [
  ["plain text", "v: plain text\n"],
  ["", 'v: ""\n'],
  ["yes", 'v: "yes"\n'],
  ["No", 'v: "No"\n'],
  ["on", 'v: "on"\n'],
  ["OFF", 'v: "OFF"\n'],
  ["y", 'v: "y"\n'],
  ["~", 'v: "~"\n'],
  ["null", 'v: "null"\n'],
  ["0042", 'v: "0042"\n'],
  ["0089", 'v: "0089"\n'],
  ["42", 'v: "42"\n'],
  ["-1", 'v: "-1"\n'],
  ["4.2", 'v: "4.2"\n'],
  [".5", 'v: ".5"\n'],
  ["1e3", 'v: "1e3"\n'],
  ["0x1F", 'v: "0x1F"\n'],
  ["0o17", 'v: "0o17"\n'],
  ["1_000", 'v: "1_000"\n'],
  ["12:30", 'v: "12:30"\n'],
  ["2024-01-02", 'v: "2024-01-02"\n'],
  ["1.0", 'v: "1.0"\n'],
  ["a: b", "v: 'a: b'\n"],
  ["a:b", "v: a:b\n"],
  ["a:", "v: 'a:'\n"],
  ["-a", "v: -a\n"],
  ["- a", "v: '- a'\n"],
  ["#x", "v: '#x'\n"],
  ["a #b", "v: 'a #b'\n"],
  ["a#b", "v: a#b\n"],
  ["'q'", "v: '''q'''\n"],
  ["it's", "v: it's\n"],
  ['say "hi"', 'v: say "hi"\n'],
  ["@x", "v: '@x'\n"],
  ["%x", "v: '%x'\n"],
  ["[a]", "v: '[a]'\n"],
  ["{a}", "v: '{a}'\n"],
  [" lead", "v: ' lead'\n"],
  ["trail ", "v: 'trail '\n"],
  ["tab\there", 'v: "tab\\there"\n'],
  ["delx", 'v: "del\\x7Fx"\n'],
  ["é日本", "v: é日本\n"],
  ["http://172.16.0.254:8081/cloud-init", "v: http://172.16.0.254:8081/cloud-init\n"],
  ["10.0.0.9@o2ib", "v: 10.0.0.9@o2ib\n"],
  ["ssh-ed25519 AAAAC3Nza user@head", "v: ssh-ed25519 AAAAC3Nza user@head\n"],
  ["line1\nline2", "v: |-\n  line1\n  line2\n"],
  ["line1\nline2\n", "v: |\n  line1\n  line2\n"],
  ["line1\n\n", "v: |+\n  line1\n\n"],
  [" indented\nx", "v: |2-\n   indented\n  x\n"],
  ["x \ny", 'v: "x \\ny"\n'],
  ["-----BEGIN KEY-----\nMIIE\n-----END KEY-----\n", "v: |\n  -----BEGIN KEY-----\n  MIIE\n  -----END KEY-----\n"],
];

describe("meta-data YAML matches go-yaml v2", () => {
  it.each(GO_YAML)("%j", (value, expected) => {
    const ours = renderYaml(new Map([["v", value]]));
    if (value === "x \ny") {
      // Inside double quotes the `yaml` package escapes a space before a newline (`\ `); same value.
      expect(ours).toBe('v: "x\\ \\ny"\n');
    } else {
      expect(ours).toBe(expected);
    }
  });

  it("quotes strings PyYAML (cloud-init) would read as another type, where go-yaml does not", () => {
    // go-yaml writes these plain; PyYAML then fails on the whole document (month 13, `=`, `<<`)
    // or turns the value into a datetime.
    for (const v of ["2024-13-02", "2001-12-14 21:59:43.10 -5", "=", "<<"]) {
      expect(renderYaml(new Map([["v", v]]))).toBe(`v: ${JSON.stringify(v)}\n`);
    }
  });

  it("writes numbers so that PyYAML reads numbers back", () => {
    // go-yaml: 1e+06, 1e-07 (strings to PyYAML, which wants a dot in a float).
    expect([1_000_000, 6817, -2, 0.5, 1e-7, 1.5e-7, 1e21].map(formatNumber)).toEqual([
      "1000000",
      "6817",
      "-2",
      "0.5",
      "1.0e-7",
      "1.5e-7",
      "1.0e+21",
    ]);
    // ("n" is a YAML 1.1 boolean to go-yaml, so the key is quoted, as go-yaml does.)
    expect(renderYaml({ b: true, n: null, i: 10, l: [], m: {} })).toBe('b: true\ni: 10\nl: []\nm: {}\n"n": null\n');
  });

  it("sorts map keys in go-yaml's order (digit runs by value, non-letters first)", () => {
    const keys = [
      "x10",
      "x9",
      "x1000c0",
      "x1000c10",
      "x1000c2",
      "a",
      "B",
      "_u",
      "1",
      "10",
      "2",
      "a1",
      "a01",
      "a001",
      "a10b",
      "a9b",
      "Z",
      "z",
      "ab",
      "a-b",
      "a_b",
      "a.b",
      "compute",
      "Compute",
      "x1000c0s1b0n0",
      "x1000c0s10b0n0",
    ];
    expect([...keys].sort(goKeyCompare)).toEqual([
      "_u",
      "1",
      "2",
      "10",
      "B",
      "Compute",
      "Z",
      "a",
      "a-b",
      "a.b",
      "a_b",
      "a1",
      "a01",
      "a001",
      "a9b",
      "a10b",
      "ab",
      "compute",
      "x9",
      "x10",
      "x1000c0",
      "x1000c0s10b0n0",
      "x1000c0s1b0n0",
      "x1000c2",
      "x1000c10",
      "z",
    ]);
  });

  it("does not fold long lines (go-yaml folds at column 80; a parser reads both the same)", () => {
    const key = `ssh-rsa ${"A".repeat(300)} root@head`;
    expect(renderYaml(new Map([["public_keys", [key]]]))).toBe(`public_keys:\n- ${key}\n`);
  });
});

describe("meta-data document", () => {
  const view = (over: Partial<NodeView> = {}): NodeView => ({
    id: "x1000c0s0b0n0",
    inSmd: true,
    nid: 42,
    ip: "10.0.0.42",
    groups: [],
    groupData: [],
    defaults: EMPTY_DEFAULTS,
    instance: undefined,
    ...over,
  });

  it("generates hostnames as upstream: short-name (else 2 chars of the cluster name) + padded NID", () => {
    const d = (o: object) => ({ ...EMPTY_DEFAULTS, ...o });
    expect(generateHostname(d({ shortName: "nid", nidLength: 3 }), "", 1)).toBe("nid001");
    expect(generateHostname(d({}), "venado", 42)).toBe("ve0042");
    expect(generateHostname(d({}), "", 42)).toBe("0042");
    expect(generateHostname(d({ shortName: "n", nidLength: 2 }), "", 12345)).toBe("n12345");
    expect(generateHostname(d({ shortName: "n" }), "", -1)).toBe("n0000");
  });

  it("takes per-node region, zone, provider and cluster name over the cluster's (upstream ignores them)", () => {
    const defaults = { ...EMPTY_DEFAULTS, clusterName: "demo", region: "east", publicKeys: ["k1", "k2"] };
    const instance = {
      id: "x1000c0s0b0n0",
      instanceId: "",
      localHostname: "",
      hostname: "",
      clusterName: "",
      region: "west",
      availabilityZone: "w1",
      cloudProvider: "",
      instanceType: "",
      cloudInitBaseUrl: "",
      publicKeys: ["k2", "k3"],
    };
    const doc = metaDataDocument(view({ defaults, instance }), "i-1") as Map<string, any>;
    const v1 = doc.get("instance_data").get("v1") as Map<string, any>;
    expect([...v1.keys()]).toEqual(["availability_zone", "instance_id", "region", "local_ipv4", "public_keys", "vendor_data"]);
    expect(v1.get("region")).toBe("west");
    expect(v1.get("public_keys")).toEqual(["k1", "k2", "k3"]);
    expect(doc.get("local-hostname")).toBe("de0042");
  });

  it("meta-data from its group list's shared template is the document rendered whole, for any node", async () => {
    const kept = new Map<string, MetaDataTemplate | undefined>();
    let built = 0;
    const template = async (build: () => MetaDataTemplate | undefined) => {
      const key = "one group list";
      if (!kept.has(key)) {
        built++;
        kept.set(key, build());
      }
      return kept.get(key);
    };
    const defaults = {
      ...EMPTY_DEFAULTS,
      clusterName: "demo",
      shortName: "nid",
      nidLength: 6,
      publicKeys: ["ssh-ed25519 AAAA admin@head"],
    };
    const groupData = [{ name: "compute", description: "", metaData: { syslog: "10.0.0.254", note: "ochamiSlotIp7q" }, hasFile: true }];
    const base = { defaults, groups: ["compute"], groupData };
    const views: Array<[NodeView, string]> = [
      [view({ ...base, nid: 7, ip: "10.0.0.7" }), "i-00ff00ff00ff00ff"],
      [view({ ...base, nid: 123456, ip: "fd00::7" }), "i-1234"],
      [view({ ...base, nid: -1, ip: "" }), "i-abc"], // no IP: `local_ipv4: ""`, rendered whole
      [view({ ...base, nid: 8, ip: "10.0.0.8" }), "yes"], // an instance-id that must be quoted
      [view({ ...base, defaults: { ...defaults, shortName: "" }, nid: 9, ip: "10.0.0.9" }), "i-9"], // hostname `de000009`
    ];
    for (const [v, id] of views) expect(await renderMetaDataShared(v, id, template)).toBe(renderMetaData(v, id));
    expect(built).toBe(1);
    // The marker text in a group's meta-data makes the template's markers ambiguous: no template, rendered whole.
    expect(kept.get("one group list")).toBeUndefined();
    kept.clear();
    const plain = [{ ...groupData[0], metaData: { syslog: "10.0.0.254" } }];
    for (const [v, id] of views)
      expect(await renderMetaDataShared({ ...v, groupData: plain }, id, template)).toBe(renderMetaData({ ...v, groupData: plain }, id));
    expect(kept.get("one group list")?.slots).toEqual(["instanceId", "hostname", "hostname", "instanceId", "ip"]);
  });

  it("vendor-data lists member groups with a file, in label order", () => {
    const groupData = [
      { name: "b", description: "", metaData: null, hasFile: true },
      { name: "a", description: "", metaData: { x: 1 }, hasFile: false },
      { name: "c", description: "", metaData: null, hasFile: true },
    ];
    expect(renderVendorData(view({ groups: ["a", "b", "c", "d"], groupData }), "http://h/ci")).toBe(
      "#include\nhttp://h/ci/b.yaml\nhttp://h/ci/c.yaml\n",
    );
  });

  it("merges cluster defaults as upstream's POST does", () => {
    const cur = parseClusterDefaults({ "cluster-name": "demo", "public-keys": ["a"], "nid-length": 3 });
    const next = mergeClusterDefaults(cur, parseClusterDefaults({ "cluster-name": "", region: "r", "public-keys": [], "nid-length": 0 }));
    expect(next).toMatchObject({ clusterName: "demo", region: "r", publicKeys: ["a"], nidLength: 3 });
  });
});
