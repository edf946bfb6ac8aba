import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { requirements } from "../support/requirements";
import { freePort } from "./ports";

/**
 * A real client: Debian's cloud-init (its NoCloud datasource, URL helper, YAML loader, #include
 * processing and jinja renderer) reads our endpoints over HTTP from inside a network namespace
 * whose address is the node's in SMD, as a booting node would. See cloud-init-nocloud.py.
 *
 * Needs root (namespaces), /usr/bin/python3 and the cloud-init package (scripts/system-deps.sh).
 */
const NS = "ci-node";
const HOST_IF = "ci-h0";
const NODE_IF = "ci-n0";
const HOST_IP = "10.63.0.1";
const NODE = { id: "x1000c0s0b0n0", nid: 1, ip: "10.63.0.10", mac: "02:63:00:00:00:10" };
const CLIENT = path.join(import.meta.dirname, "cloud-init-nocloud.py");
const PYTHON = "/usr/bin/python3";

const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
const quiet = (cmd: string, ...args: string[]) => {
  try {
    run(cmd, ...args);
  } catch {
    /* already gone */
  }
};

function removeNetwork() {
  quiet("ip", "link", "del", HOST_IF);
  quiet("ip", "netns", "del", NS);
}

function createNetwork() {
  removeNetwork();
  run("ip", "netns", "add", NS);
  run("ip", "link", "add", HOST_IF, "type", "veth", "peer", "name", NODE_IF);
  run("ip", "link", "set", NODE_IF, "netns", NS);
  run("ip", "addr", "add", `${HOST_IP}/24`, "dev", HOST_IF);
  run("ip", "link", "set", HOST_IF, "up");
  run("ip", "-n", NS, "addr", "add", `${NODE.ip}/24`, "dev", NODE_IF);
  run("ip", "-n", NS, "link", "set", NODE_IF, "up");
  run("ip", "-n", NS, "link", "set", "lo", "up");
}

const missing = requirements({ root: true, commands: ["ip", PYTHON], python: ["cloudinit"] });

/** Values a YAML 1.1 reader takes for other types when written plain. */
const TRICKY = {
  syslog_aggregator: HOST_IP,
  selinux: "off",
  answer: "yes",
  padded: "0042",
  not_a_date: "2024-13-02",
  equals: "=",
  big: 10_000_000,
  ratio: 0.5,
  key: "-----BEGIN KEY-----\nMIIE\n-----END KEY-----\n",
  empty: "",
  nothing: null,
  list: ["a", 1, true, "no"],
  "x:y": { nested: "on" },
};
const COMPUTE_FILE = `## template: jinja
#cloud-config
write_files:
- path: /etc/chrony.conf
  content: |
    server {{ ds.meta_data.instance_data.v1.vendor_data.groups.compute.syslog_aggregator }} iburst
    # {{ ds.meta_data.instance_data.v1.vendor_data.cluster_name }} {{ v1.local_hostname }}
`;
const SLURM_FILE = "#cloud-config\nruncmd:\n- [systemctl, start, slurmd]\n";

describe.skipIf(missing)("Debian cloud-init reads our NoCloud endpoints", () => {
  // Made in beforeAll, not at collection: a skipped or filtered-out suite must leave nothing behind.
  let stateDir = "";
  let api: ApiServer;

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "ochami-ci-client-"));
    createNetwork();
    api = await startApiServer({ host: HOST_IP, port: await freePort(), stateDir, vars: { OCHAMI_AUTH: "off" }, onLog: () => {} });
    const send = async (method: string, p: string, body: unknown) => {
      const r = await fetch(`${api.url}${p}`, { method, body: JSON.stringify(body) });
      expect(r.status, `${method} ${p}: ${await r.text()}`).toBeLessThan(300);
    };
    await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: NODE.id, State: "Ready", NID: NODE.nid }] });
    await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
      MACAddress: NODE.mac,
      ComponentID: NODE.id,
      IPAddresses: [{ IPAddress: NODE.ip }],
    });
    for (const label of ["compute", "slurm", "x1000"]) await send("POST", "/hsm/v2/groups", { label, members: { ids: [NODE.id] } });
    await send("POST", "/cloud-init/admin/cluster-defaults", {
      "cluster-name": "demo",
      "short-name": "nid",
      "nid-length": 3,
      "base-url": `${api.url}/cloud-init`,
      "public-keys": ["ssh-ed25519 AAAAC3Nza admin@head"],
    });
    await send("PUT", "/cloud-init/admin/groups/compute", {
      name: "compute",
      description: "compute nodes",
      "meta-data": TRICKY,
      file: { encoding: "plain", content: COMPUTE_FILE },
    });
    await send("PUT", "/cloud-init/admin/groups/slurm", {
      name: "slurm",
      file: { encoding: "base64", content: Buffer.from(SLURM_FILE).toString("base64") },
    });
  });

  afterAll(async () => {
    await api?.stop();
    removeNetwork();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("parses meta-data, user-data and vendor-data, expands #include and renders the group template", async () => {
    const { stdout } = await promisify(execFile)("ip", ["netns", "exec", NS, PYTHON, CLIENT, `${api.url}/cloud-init/`], {
      timeout: 60_000,
    });
    const seen = JSON.parse(stdout);
    const expected = parse(await (await fetch(`${api.url}/cloud-init/admin/impersonation/${NODE.id}/meta-data`)).text());

    expect(seen.dsmode).toBe("net");
    expect(seen.instance_id).toMatch(/^i-[0-9a-f]{16}$/);
    expect(seen.instance_id).toBe(expected["instance-id"]);
    expect(seen.metadata["local-hostname"]).toBe("nid001");
    expect(seen.metadata["cluster-name"]).toBe("demo");
    const v1 = seen.metadata.instance_data.v1;
    expect(v1.local_ipv4).toBe(NODE.ip);
    expect(v1.public_keys).toEqual(["ssh-ed25519 AAAAC3Nza admin@head"]);
    // Every value as the admin gave it, none turned into a boolean, number, date or error.
    expect(v1.vendor_data.groups).toEqual({
      compute: { Description: "compute nodes", ...TRICKY },
      slurm: { Description: "No description Found" },
      x1000: { Description: "No description Found" },
    });

    expect(seen.userdata_raw).toBe("#cloud-config");
    expect(seen.vendordata_raw).toBe(`#include\n${api.url}/cloud-init/compute.yaml\n${api.url}/cloud-init/slurm.yaml\n`);
    expect(seen.vendor_parts).toEqual([
      {
        type: "text/jinja2",
        payload: COMPUTE_FILE,
        rendered: `#cloud-config
write_files:
- path: /etc/chrony.conf
  content: |
    server ${HOST_IP} iburst
    # demo nid001
`,
      },
      { type: "text/cloud-config", payload: SLURM_FILE },
    ]);
  });

  it("the boot history shows the node reached each cloud-init step", async () => {
    const history = await (await fetch(`${api.url}/boot/v1/endpoint-history?name=${NODE.id}`)).json();
    const steps = Object.fromEntries((history as any[]).map((e) => [e.endpoint, e]));
    expect(Object.keys(steps).sort()).toEqual(["cloud-init-group", "meta-data", "user-data", "vendor-data"]);
    for (const e of Object.values(steps)) expect(e).toMatchObject({ name: NODE.id, ip: NODE.ip });
    expect(steps["vendor-data"].detail).toBe("2 includes");
  });
});
