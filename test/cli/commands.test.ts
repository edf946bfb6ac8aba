import { spawn } from "node:child_process";
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ProcessOutput } from "../support/output";
import { waitFor } from "../support/wait";
import { type Home, loggedInHome, OCHAMI_BIN, ochami, startTestApi, type TestApi } from "./harness";

/**
 * Every SMD, BSS and cloud-init command against the real API (workerd + D1, auth on), run as an
 * admin runs them. One API for the file; the tests build on each other's state, in order.
 */
let api: TestApi;
let home: Home;
const run = (...args: string[]) => ochami(args, { env: home.env });
const input = (text: string, ...args: string[]) => ochami(args, { env: home.env, input: text });
const json = async (...args: string[]) => {
  const r = await run(...args);
  expect(r.code, `ochami ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout);
};
const ok = async (...args: string[]) => {
  const r = await run(...args);
  expect(r.code, `ochami ${args.join(" ")}: ${r.stderr}`).toBe(0);
  return r;
};

beforeAll(async () => {
  api = await startTestApi();
  home = await loggedInHome(api);
});
afterAll(async () => {
  home?.remove();
  await api?.stop();
});

/** A reverse proxy to `target` on loopback that counts the boot history polls passing through it. */
async function pollCountingProxy(target: string) {
  let polls = 0;
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url?.includes("/endpoint-history")) polls++;
    const { host: _, ...headers } = req.headers;
    const up = request(new URL(req.url ?? "/", target), { method: req.method, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
    });
    up.on("error", () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    polls: () => polls,
    close: () => new Promise((r) => server.close(r)),
  };
}

describe("smd", () => {
  it("status and service values need no token", async () => {
    expect(await json("--no-token", "smd", "status")).toEqual({ code: 0, message: "HSM is healthy" });
    expect((await json("--no-token", "smd", "service", "values", "role")).Role).toContain("Compute");
    // --uri replaces the service's base: absolute, or a path under the cluster URI.
    expect(await json("--no-token", "smd", "--uri", `${api.url}/hsm/v2/`, "status")).toEqual({ code: 0, message: "HSM is healthy" });
    const wrong = await run("smd", "--uri", "/smd/v2", "group", "get");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: 404 Not Found: /);
    expect(await json("--no-token", "bss", "--uri", "/apis/bss/boot/v1", "status")).toEqual({ "bss-status": "running" });
  });

  it("component add (with the NID upstream forgets), get by xname, NID and filters, in every format", async () => {
    await ok("smd", "component", "add", "--role", "Service", "x1000c1s7b0n0", "7");
    const one = await json("smd", "component", "get", "-x", "x1000c1s7b0n0");
    expect(one).toMatchObject({ ID: "x1000c1s7b0n0", Type: "Node", State: "Ready", Enabled: true, Role: "Service", NID: 7, Arch: "X86" });
    expect(await json("smd", "component", "get", "-n", "7")).toEqual(one);
    await ok(
      "smd",
      "component",
      "add",
      "-d",
      JSON.stringify({ Components: [{ ID: "x1000c1s7b1n0", State: "On", NID: 8, Role: "Compute" }] }),
    );
    await input("- ID: x1000c1s7b2n0\n  State: Off\n  NID: 9\n", "smd", "component", "add", "-d", "@-", "-f", "yaml");
    const all = await json("--no-token", "smd", "component", "get", "--type", "Node", "--state", "On", "--state", "Off");
    expect(all.Components.map((c: any) => c.ID)).toEqual(["x1000c1s7b1n0", "x1000c1s7b2n0"]);
    const yaml = parse((await ok("smd", "component", "get", "-x", "x1000c1s7b0n0,x1000c1s7b1n0", "-F", "yaml")).stdout);
    expect(yaml.Components.map((c: any) => c.NID)).toEqual([7, 8]);
    const table = (await ok("smd", "component", "get", "-F", "table")).stdout.split("\n");
    expect(table[0]).toMatch(/^ID\s+TYPE\s+STATE\s+FLAG\s+ENABLED\s+ROLE\s+NID\s+ARCH$/);
    expect(table[1]).toMatch(/^x1000c1s7b0n0\s+Node\s+Ready\s+OK\s+true\s+Service\s+7\s+X86$/);
    expect((await ok("smd", "component", "get", "-F", "json-pretty")).stdout).toMatch(/^\{\n {2}"Components": \[\n/);
  });

  it("component add refuses an existing xname (SMD would keep the old one silently); set overwrites it", async () => {
    const r = await run("smd", "component", "add", "x1000c1s7b0n0", "99");
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: already in SMD: x1000c1s7b0n0; nothing added (use `ochami smd component set` to overwrite)\n");
    await ok("smd", "component", "set", "--state", "On", "--role", "Compute", "--disabled", "x1000c1s7b0n0", "70");
    expect(await json("smd", "component", "get", "-x", "x1000c1s7b0n0")).toMatchObject({
      State: "On",
      Role: "Compute",
      NID: 70,
      Enabled: false,
    });
  });

  it("component update uses SMD's PATCH routes, several xnames at once, and refuses unknown xnames", async () => {
    // SMD refuses On → Standby unless forced (and answers 204 all the same); the CLI says so.
    const refused = await run("smd", "component", "update", "--state", "Standby", "x1000c1s7b0n0", "x1000c1s7b1n0");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "error: SMD kept x1000c1s7b0n0 On, x1000c1s7b1n0 On: it does not allow that change of state without --force\n",
    );
    await ok(
      "smd",
      "component",
      "update",
      "--force",
      "--state",
      "Standby",
      "--flag",
      "Warning",
      "--enabled",
      "true",
      "x1000c1s7b0n0",
      "x1000c1s7b1n0",
    );
    await ok("smd", "component", "update", "--nid", "71", "--role", "Service", "--subrole", "Worker", "x1000c1s7b0n0");
    const got = await json("smd", "component", "get", "-x", "x1000c1s7b0n0,x1000c1s7b1n0");
    expect(got.Components.map((c: any) => [c.State, c.Flag, c.Enabled])).toEqual([
      ["Standby", "Warning", true],
      ["Standby", "Warning", true],
    ]);
    expect(got.Components[0]).toMatchObject({ NID: 71, Role: "Service", SubRole: "Worker" });
    const missing = await run("smd", "component", "update", "--state", "Off", "x1000c1s7b0n0", "x9c0s0b0n0");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("error: not in SMD: x9c0s0b0n0; nothing changed\n");
    const bad = await run("smd", "component", "update", "--state", "Sleepy", "x1000c1s7b0n0");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: 400 Bad Request: .+\n$/);
  });

  it("rfe add/get/update/set/delete; an endpoint with Systems makes component endpoints (compep)", async () => {
    await ok("smd", "rfe", "add", "--domain", "openchami.cluster", "x1000c1s7b0", "bmc0", "172.16.0.100", "de:ca:fc:00:00:00");
    const got = await json("smd", "rfe", "get", "-x", "x1000c1s7b0");
    expect(got.RedfishEndpoints[0]).toMatchObject({
      ID: "x1000c1s7b0",
      Type: "NodeBMC",
      Name: "bmc0",
      FQDN: "x1000c1s7b0.openchami.cluster",
      IPAddress: "172.16.0.100",
    });
    const updated = await json("smd", "rfe", "update", "x1000c1s7b0", "--ip", "172.16.0.110");
    expect(updated.IPAddress).toBe("172.16.0.110");
    expect((await json("smd", "rfe", "get", "--ip", "172.16.0.110")).RedfishEndpoints).toHaveLength(1);
    const withSystems = {
      RedfishEndpoints: [
        {
          ID: "x1000c1s7b3",
          SchemaVersion: 1,
          MACAddr: "de:ca:fc:00:00:03",
          IPAddress: "172.16.0.103",
          Systems: [
            {
              uri: "/redfish/v1/Systems/1",
              uuid: "00000000-0000-4000-8000-000000000003",
              name: "n3",
              ethernet_interfaces: [{ mac: "02:00:00:00:00:03", ip: "172.16.0.3" }],
            },
          ],
          Managers: [
            {
              uri: "/redfish/v1/Managers/1",
              name: "bmc3",
              type: "NodeBMC",
              ethernet_interfaces: [{ mac: "de:ca:fc:00:00:03", ip: "172.16.0.103" }],
            },
          ],
        },
      ],
    };
    await ok("smd", "rfe", "set", "-d", JSON.stringify(withSystems));
    const compeps = await json("smd", "compep", "get");
    expect(compeps.ComponentEndpoints.map((c: any) => c.ID).sort()).toEqual(["x1000c1s7b3", "x1000c1s7b3n0"]);
    expect((await json("smd", "compep", "get", "x1000c1s7b3n0")).ComponentEndpoints[0]).toMatchObject({
      RedfishEndpointID: "x1000c1s7b3",
      Type: "Node",
    });
    await ok("smd", "compep", "delete", "--no-confirm", "x1000c1s7b3n0");
    expect((await json("smd", "compep", "get")).ComponentEndpoints.map((c: any) => c.ID)).toEqual(["x1000c1s7b3"]);
    await ok("smd", "rfe", "delete", "--no-confirm", "x1000c1s7b3");
    const gone = await run("smd", "rfe", "delete", "--no-confirm", "x1000c1s7b3");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toBe("error: 404 Not Found: no such xname.\n");
  });

  it("iface add with network,ip pairs, get by component, ID and IPs, update, delete", async () => {
    await ok("smd", "iface", "add", "x1000c1s7b0n0", "52:54:00:be:ef:00", "management,172.16.0.50", "hsn,10.1.0.50");
    const list = await json("--no-token", "smd", "iface", "get", "--comp-id", "x1000c1s7b0n0");
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({
      ID: "525400beef00",
      MACAddress: "52:54:00:be:ef:00",
      Description: "Undescribed Ethernet Interface",
      IPAddresses: [
        { IPAddress: "172.16.0.50", Network: "management" },
        { IPAddress: "10.1.0.50", Network: "hsn" },
      ],
    });
    expect(await json("smd", "iface", "get", "-i", "525400beef00", "--by-ip")).toEqual(list[0].IPAddresses);
    await ok("smd", "iface", "update", "52:54:00:be:ef:00", "--ip", "management,172.16.0.51", "-D", "boot NIC");
    expect(await json("smd", "iface", "get", "-i", "525400beef00")).toMatchObject({
      Description: "boot NIC",
      IPAddresses: [{ IPAddress: "172.16.0.51", Network: "management" }],
    });
    const table = (await ok("smd", "iface", "get", "-m", "52:54:00:be:ef:00", "-F", "table")).stdout;
    expect(table).toMatch(/\n525400beef00\s+52:54:00:be:ef:00\s+x1000c1s7b0n0\s+Node\s+172\.16\.0\.51\(management\)\s+boot NIC\n$/);
    await ok(
      "smd",
      "iface",
      "add",
      "-d",
      JSON.stringify([{ ComponentID: "x1000c1s7b1n0", MACAddress: "52:54:00:be:ef:01", IPAddresses: [{ IPAddress: "172.16.0.1" }] }]),
    );
    const dup = await run("smd", "iface", "add", "x1000c1s7b1n0", "52:54:00:be:ef:01");
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe(
      "error: 409 Conflict: operation would conflict with an existing component ethernet interface that has the same MAC address.\n",
    );
    await ok("smd", "iface", "delete", "--no-confirm", "52:54:00:be:ef:00");
    expect(await json("--no-token", "smd", "iface", "get", "--comp-id", "x1000c1s7b0n0")).toEqual([]);
  });

  it("group add (members after -m, label last, as upstream), member add/delete/set, update, membership, delete", async () => {
    await ok("smd", "group", "add", "-D", "compute nodes", "--tag", "cpu", "-m", "x1000c1s7b1n0,x1000c1s7b2n0", "compute");
    expect(await json("smd", "group", "get", "compute")).toEqual([
      { label: "compute", description: "compute nodes", tags: ["cpu"], members: { ids: ["x1000c1s7b1n0", "x1000c1s7b2n0"] } },
    ]);
    const dup = await run("smd", "group", "add", "compute");
    expect(dup.code).toBe(1);
    expect(dup.stderr).toBe(
      "error: 409 Conflict: operation would conflict with an existing group that has the same label or duplicate ids found in request.\n",
    );
    await ok("smd", "group", "member", "add", "compute", "x1000c1s7b0n0");
    await ok("smd", "group", "member", "delete", "--no-confirm", "compute", "x1000c1s7b1n0");
    expect(await json("smd", "group", "member", "get", "compute")).toEqual({ ids: ["x1000c1s7b0n0", "x1000c1s7b2n0"] });
    await ok("smd", "group", "member", "set", "compute", "x1000c1s7b1n0", "x1000c1s7b2n0");
    expect((await json("smd", "group", "member", "get", "compute")).ids.sort()).toEqual(["x1000c1s7b1n0", "x1000c1s7b2n0"]);
    await ok("smd", "group", "update", "--tag", "cpu,x86", "-D", "all compute", "compute");
    expect((await json("smd", "group", "get", "--tag", "x86"))[0]).toMatchObject({ description: "all compute", tags: ["cpu", "x86"] });
    await input(JSON.stringify([{ label: "io", members: { ids: ["x1000c1s7b0n0"] } }]), "smd", "group", "add");
    expect(await json("smd", "membership", "get", "x1000c1s7b2n0")).toEqual({
      id: "x1000c1s7b2n0",
      groupLabels: ["compute"],
      partitionName: "",
    });
    expect((await json("smd", "group", "membership", "--group", "compute")).map((m: any) => m.id).sort()).toEqual([
      "x1000c1s7b1n0",
      "x1000c1s7b2n0",
    ]);
    const table = (await ok("smd", "membership", "get", "-F", "table")).stdout;
    expect(table).toMatch(/^ID\s+GROUPS\s+PARTITION\n/);
    expect(table).toMatch(/\nx1000c1s7b0n0\s+io\n/);
    await ok("smd", "group", "delete", "--no-confirm", "io");
    expect((await json("smd", "group", "get")).map((g: any) => g.label)).toEqual(["compute"]);
  });

  it("partition add/get/member/delete, shaped like groups", async () => {
    await ok("smd", "partition", "add", "-D", "rack 1", "-m", "x1000c1s7b1n0", "p1");
    expect(await json("smd", "partition", "get", "p1")).toEqual([
      { name: "p1", description: "rack 1", members: { ids: ["x1000c1s7b1n0"] } },
    ]);
    await ok("smd", "partition", "member", "add", "p1", "x1000c1s7b2n0");
    expect((await json("smd", "partition", "member", "get", "p1")).ids).toEqual(["x1000c1s7b1n0", "x1000c1s7b2n0"]);
    expect((await json("smd", "membership", "get", "--partition", "p1")).map((m: any) => m.partitionName)).toEqual(["p1", "p1"]);
    await ok("smd", "partition", "member", "delete", "--no-confirm", "p1", "x1000c1s7b2n0");
    await ok("smd", "partition", "delete", "--no-confirm", "p1");
    expect(await json("smd", "partition", "get")).toEqual([]);
  });

  it("several deletes: each is reported, and a partial failure exits 4", async () => {
    await ok("smd", "component", "add", "x1000c1s7b9n0", "19");
    const r = await run("smd", "component", "delete", "--no-confirm", "x1000c1s7b9n0", "x1000c1s7b8n0");
    expect(r.code).toBe(4);
    expect(r.stderr).toBe("error: x1000c1s7b8n0: 404 Not Found: no such xname.\n");
    expect((await json("--no-token", "smd", "component", "get", "-F", "json")).Components.map((c: any) => c.ID)).not.toContain(
      "x1000c1s7b9n0",
    );
  });
});

describe("bss", () => {
  const KERNEL = "http://172.16.0.254:8080/openchami/test/vmlinuz";
  const INITRD = "http://172.16.0.254:8080/openchami/test/initramfs.img";

  it("params set/get/add/update/delete, by role, MAC and NID, from flags and from -d", async () => {
    await ok("bss", "boot", "params", "set", "-x", "Default", "--kernel", KERNEL, "--initrd", INITRD, "-p", "ro ip=dhcp");
    expect(await json("bss", "boot", "params", "get", "-x", "Default")).toEqual([
      expect.objectContaining({ hosts: ["Default"], kernel: KERNEL, initrd: INITRD, params: "ro ip=dhcp" }),
    ]);
    await ok("bss", "boot", "params", "add", "-m", "52:54:00:be:ef:01", "--kernel", KERNEL, "-p", "console=ttyS0");
    const dup = await run("bss", "boot", "params", "add", "-m", "52-54-00-BE-EF-01", "--kernel", KERNEL);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/^error: 409 Conflict: .*52:54:00:be:ef:01.*\n$/);
    await ok("bss", "boot", "params", "update", "-m", "52:54:00:be:ef:01", "-p", "console=ttyS0,115200 quiet");
    expect((await json("bss", "boot", "params", "get", "-m", "52:54:00:be:ef:01"))[0]).toMatchObject({
      kernel: KERNEL,
      params: "console=ttyS0,115200 quiet",
    });
    // NID 8 and that MAC are one node's: a set by either changes what the node boots (its entry).
    const byNid = await input(`nids: [8]\nkernel: ${KERNEL}\nparams: nid-specific\n`, "bss", "boot", "params", "set", "-f", "yaml");
    expect(byNid.stderr).toBe("changed 1 node (they boot it now): x1000c1s7b1n0\n");
    expect((await json("bss", "boot", "params", "get", "-m", "52:54:00:be:ef:01"))[0].params).toBe("nid-specific");
    const table = (await ok("bss", "boot", "params", "get", "-F", "table")).stdout.split("\n");
    expect(table[0]).toMatch(/^HOSTS\s+MACS\s+NIDS\s+KERNEL\s+INITRD\s+PARAMS$/);
    expect(table).toHaveLength(4); // header, Default and the node's entry, final newline
    await ok("bss", "boot", "params", "delete", "--no-confirm", "-n", "8");
    const gone = await run("bss", "boot", "params", "get", "-n", "8");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^error: 404 Not Found: /);
    await ok("bss", "boot", "params", "add", "-m", "52:54:00:be:ef:01", "--kernel", KERNEL, "-p", "console=ttyS0,115200 quiet");
  });

  it("image set rewrites root= in the entries of the given nodes", async () => {
    await ok("bss", "boot", "image", "set", "-m", "52:54:00:be:ef:01", "live:http://172.16.0.254:8080/rootfs-2");
    expect((await json("bss", "boot", "params", "get", "-m", "52:54:00:be:ef:01"))[0].params).toBe(
      "root=live:http://172.16.0.254:8080/rootfs-2 console=ttyS0,115200 quiet",
    );
  });

  it("script get prints what the node gets (no token), and the fetch shows in the history", async () => {
    const script = await run("--no-token", "bss", "boot", "script", "get", "-m", "52:54:00:be:ef:01");
    expect(script.code, script.stderr).toBe(0);
    expect(script.stdout.split("\n").slice(0, 2)).toEqual([
      "#!ipxe",
      `kernel --name kernel ${KERNEL} root=live:http://172.16.0.254:8080/rootfs-2 console=ttyS0,115200 quiet xname=x1000c1s7b1n0 nid=8 ds=nocloud;s=${api.url}/cloud-init/ || goto boot_retry`,
    ]);
    expect(JSON.parse((await ok("bss", "boot", "script", "get", "-x", "x1000c1s7b1n0", "--json")).stdout)).toMatchObject({
      kernel: { path: KERNEL },
    });
    const latest = await json("bss", "history", "-x", "x1000c1s7b1n0", "--endpoint", "bootscript");
    // The latest fetch per node and step: the -x one (no MAC).
    expect(latest).toEqual([expect.objectContaining({ name: "x1000c1s7b1n0", endpoint: "bootscript", mac: "" })]);
    expect(latest[0].detail).toMatch(/matched by xname/);
    const events = await json("bss", "history", "--events");
    expect(events.length).toBeGreaterThanOrEqual(2);
    const after = await json("bss", "history", "--events", "--after-id", String(events[0].id));
    expect(after.map((e: any) => e.id)).toEqual(events.slice(1).map((e: any) => e.id));
    expect((await ok("bss", "history", "--events", "-F", "table")).stdout).toMatch(
      /^ID\s+TIME\s+NAME\s+ENDPOINT\s+MAC\s+IP\s+DETAIL\n1\s+\d{4}-/,
    );
  });

  it("history --follow prints new events as they happen, one JSON line each", async () => {
    const last = (await json("bss", "history", "--events")).at(-1).id;
    // Through a proxy that counts its polls: "nothing printed yet" is checked once it has polled.
    const proxy = await pollCountingProxy(api.url);
    const proc = spawn(
      process.execPath,
      [
        OCHAMI_BIN,
        ...["bss", "--uri", `${proxy.url}/boot/v1`, "history", "--events", "--follow", "--interval", "200ms"],
        ...["--after-id", String(last), "-F", "json"],
      ],
      { env: home.env, stdio: ["ignore", "pipe", "pipe"] },
    );
    const stdout = new ProcessOutput(proc, [proc.stdout]);
    const stderr = new ProcessOutput(proc, [proc.stderr]);
    try {
      // The loop polls one after the other: a second poll means the first answer was handled.
      await waitFor(
        () => proxy.polls() >= 2,
        10_000,
        () => `two polls of the history (stderr: ${stderr.text})`,
      );
      expect(stdout.text).toBe("");
      await ok("--no-token", "bss", "boot", "script", "get", "-x", "x1000c1s7b0n0");
      await stdout.until("\n", 10_000, "the new event's line");
      // Anything printed wrongly (an event up to --after-id) would come first: events are printed in time order.
      const line = JSON.parse(stdout.text.split("\n")[0]);
      expect(line).toMatchObject({ name: "x1000c1s7b0n0", endpoint: "bootscript" });
    } finally {
      proc.kill("SIGTERM");
      await proxy.close();
    }
  });

  it("hosts, dumpstate and status", async () => {
    expect((await json("--no-token", "bss", "hosts", "get", "-x", "x1000c1s7b1n0"))[0]).toMatchObject({ ID: "x1000c1s7b1n0", NID: 8 });
    const dump = await json("--no-token", "bss", "dumpstate");
    expect(Object.keys(dump).sort()).toEqual(["Components", "Params"]);
    expect(await json("--no-token", "bss", "status")).toEqual({ "bss-status": "running" });
    expect(Object.keys(await json("--no-token", "bss", "service", "version"))).toEqual(["bss-version"]);
  });
});

describe("cloud-init", () => {
  const GROUPS = `
- name: compute
  description: compute nodes
  meta-data:
    syslog_aggregator: 172.16.0.254
  file:
    encoding: plain
    content: |
      ## template: jinja
      #cloud-config
      # {{ v1.variant | default("generic") }}
      write_files:
      - path: /etc/rsyslog.d/remote.conf
        content: "*.* @{{ ds.meta_data.instance_data.v1.vendor_data.groups.compute.syslog_aggregator }}"
      hostname: {{ local_hostname }}
- name: slurm
  file:
    encoding: base64
    content: ${Buffer.from("#cloud-config\nruncmd:\n- [systemctl, start, slurmd]\n").toString("base64")}
`;

  it("defaults set (merge), set --replace, get", async () => {
    await ok("cloud-init", "defaults", "set", "-d", JSON.stringify({ "cluster-name": "demo", "short-name": "nid", "nid-length": 3 }));
    await ok("cloud-init", "defaults", "set", "-d", JSON.stringify({ "base-url": "http://172.16.0.254:8081/cloud-init" }));
    expect(await json("cloud-init", "defaults", "get")).toMatchObject({
      "cluster-name": "demo",
      "short-name": "nid",
      "nid-length": 3,
      "base-url": "http://172.16.0.254:8081/cloud-init",
    });
    await ok(
      "cloud-init",
      "defaults",
      "set",
      "--replace",
      "-d",
      JSON.stringify({ "cluster-name": "demo", "short-name": "nid", "nid-length": 3 }),
    );
    expect((await json("cloud-init", "defaults", "get"))["base-url"]).toBeUndefined();
  });

  it("group add from YAML, get raw/config/meta-data, 409 on add again, set replaces", async () => {
    await input(GROUPS, "cloud-init", "group", "add", "-f", "yaml");
    const raw = await json("cloud-init", "group", "get", "raw");
    expect(raw.map((g: any) => g.name)).toEqual(["compute", "slurm"]);
    const config = (await ok("cloud-init", "group", "get", "config", "slurm")).stdout;
    expect(config).toBe("#cloud-config\nruncmd:\n- [systemctl, start, slurmd]\n");
    const both = (await ok("cloud-init", "group", "get", "config")).stdout;
    expect(both).toMatch(/^--- \(1\/2\) group=compute\n## template: jinja\n/);
    expect(both).toContain("--- (2/2) group=slurm\n#cloud-config\n");
    expect(await json("cloud-init", "group", "get", "meta-data", "compute")).toEqual([
      { name: "compute", "meta-data": { syslog_aggregator: "172.16.0.254" } },
    ]);
    const again = await input(GROUPS, "cloud-init", "group", "add", "-f", "yaml");
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      "error: compute: 409 Conflict: group 'compute' not added as it already exists\nerror: slurm: 409 Conflict: group 'slurm' not added as it already exists\n",
    );
    await input(JSON.stringify([{ name: "slurm", "meta-data": { slurmctld: "head" } }]), "cloud-init", "group", "set");
    expect((await json("cloud-init", "group", "get", "raw", "slurm"))[0]["meta-data"]).toEqual({ slurmctld: "head" });
  });

  it("node get meta-data/user-data/vendor-data/group impersonate a node; group render fills in its variables", async () => {
    // x1000c1s7b1n0 is in SMD group compute (above) and has IP 172.16.0.1.
    const [md] = await json("cloud-init", "node", "get", "meta-data", "x1000c1s7b1n0");
    expect(md).toMatchObject({ "local-hostname": "nid008", "cluster-name": "demo", instance_data: { v1: { local_ipv4: "172.16.0.1" } } });
    expect((await ok("cloud-init", "node", "get", "user-data", "x1000c1s7b1n0")).stdout).toBe("#cloud-config\n");
    expect((await ok("cloud-init", "node", "get", "vendor-data", "x1000c1s7b1n0")).stdout).toBe(
      `#include\n${api.url}/cloud-init/compute.yaml\n`,
    );
    expect((await ok("cloud-init", "node", "get", "group", "x1000c1s7b1n0", "compute")).stdout).toMatch(/^## template: jinja\n/);
    const rendered = await ok("cloud-init", "group", "render", "compute", "x1000c1s7b1n0");
    expect(rendered.stdout).toBe(
      `#cloud-config\n# generic\nwrite_files:\n- path: /etc/rsyslog.d/remote.conf\n  content: "*.* @172.16.0.254"\nhostname: nid008\n`,
    );
    const suse = await ok("cloud-init", "group", "render", "-e", '{"v1":{"variant":"suse"}}', "compute", "x1000c1s7b1n0");
    expect(suse.stdout.split("\n")[1]).toBe("# suse");
    const notMember = await run("cloud-init", "group", "render", "compute", "x1000c1s7b0n0");
    expect(notMember.code).toBe(1);
    expect(notMember.stderr).toBe(
      "error: 404 Not Found: node x1000c1s7b0n0 is not a member of group compute (node and/or group may not exist in SMD)\n",
    );
  });

  it("node set/get info/delete (instance-info overrides what the node gets)", async () => {
    await ok("cloud-init", "node", "set", "-d", JSON.stringify([{ id: "x1000c1s7b1n0", "local-hostname": "login1" }]));
    expect((await json("cloud-init", "node", "get", "info", "x1000c1s7b1n0"))[0]).toMatchObject({
      id: "x1000c1s7b1n0",
      "local-hostname": "login1",
    });
    expect((await json("cloud-init", "node", "get", "meta-data", "x1000c1s7b1n0"))[0]["local-hostname"]).toBe("login1");
    await ok("cloud-init", "node", "delete", "--no-confirm", "x1000c1s7b1n0");
    expect(await json("cloud-init", "node", "get", "info")).toEqual([]);
  });

  it("group delete; service status and version", async () => {
    await ok("cloud-init", "group", "delete", "--no-confirm", "slurm");
    expect((await json("cloud-init", "group", "get", "raw")).map((g: any) => g.name)).toEqual(["compute"]);
    expect((await ok("--no-token", "cloud-init", "service", "status")).stdout).toBe("cloud-init is running\n");
    expect((await run("--no-token", "cloud-init", "service", "status", "-q")).stdout).toBe("");
    expect(await json("--no-token", "cloud-init", "service", "version")).toMatchObject({ process_name: "cloud-init-server" });
  });
});

describe("upstream's spellings of flags and subcommands, as its man pages and cobra definitions write them", () => {
  it("cloud-init --headers, bss status --version, service status --smd/--storage/--all/--api, membership --id, member delete --no-confirm", async () => {
    // Group compute (cloud-init) and x1000c1s7b1n0 in SMD group compute are left by the tests above.
    const headers = await ok("cloud-init", "group", "get", "config", "--headers", "always", "compute");
    expect(headers.stdout).toMatch(/^--- \(1\/1\) group=compute\n## template: jinja\n/);
    expect((await ok("cloud-init", "node", "get", "group", "--headers", "never", "x1000c1s7b1n0", "compute")).stdout).toMatch(
      /^## template: jinja\n/,
    );
    expect((await run("cloud-init", "group", "get", "config", "--headers", "sometimes")).code).toBe(2);

    // Upstream's `--version` of `bss status` is that command's, not the program's.
    expect(await json("--no-token", "bss", "status", "--version")).toEqual(await json("--no-token", "bss", "service", "version"));
    expect(await json("--no-token", "bss", "service", "status", "--smd")).toEqual(await json("--no-token", "bss", "status", "--smd"));
    expect(await json("--no-token", "bss", "service", "status", "--storage")).toEqual(
      await json("--no-token", "bss", "status", "--storage"),
    );
    expect(await json("--no-token", "smd", "service", "status", "--all")).toEqual(await json("--no-token", "smd", "status", "--all"));
    expect((await json("--no-token", "cloud-init", "service", "status", "--api", "-F", "json")).openapi).toMatch(/^3\./);
    expect((await run("cloud-init", "service", "status", "--api", "-q")).code).toBe(2);

    expect(await json("smd", "group", "membership", "--id", "x1000c1s7b1n0")).toMatchObject({
      id: "x1000c1s7b1n0",
      groupLabels: expect.arrayContaining(["compute"]),
    });
    const asked = await run("smd", "group", "member", "delete", "compute", "x1000c1s7b1n0");
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain("not confirmed (standard input is not a terminal); pass --no-confirm");
    await ok("smd", "group", "member", "delete", "--no-confirm", "compute", "x1000c1s7b1n0");
    expect((await json("smd", "group", "member", "get", "compute")).ids).not.toContain("x1000c1s7b1n0");
    await ok("smd", "group", "member", "add", "compute", "x1000c1s7b1n0");
  });

  it("global -v, --log-color, --show-token; discover static --uri", async () => {
    const verbose = await ok("-v", "--log-color", "off", "smd", "status");
    expect(verbose.stderr).toMatch(/^debug: GET http:\/\/127\.0\.0\.1:\d+\/hsm\/v2\/service\/ready\n/);
    const token = (await ok("auth", "token")).stdout.trim();
    const shown = await ok("--show-token", "-l", "debug", "smd", "group", "get");
    expect(shown.stderr).toContain(`: ${token}\n`);
    expect((await ok("-l", "debug", "smd", "group", "get")).stderr).not.toContain(token);

    const nodes = home.file("uri-nodes.yaml", "nodes:\n- {xname: x7000c0s0b0n0, nid: 700, interfaces: []}\n");
    const wrong = await run("discover", "static", "--uri", "/no/such/smd", "-d", `@${nodes}`);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^error: 404 Not Found: .*\n$/m);
    const right = await run("discover", "static", "--uri", `${api.url}/hsm/v2`, "-d", `@${nodes}`);
    expect(right.code, right.stderr).toBe(0);
    expect(right.stderr).toContain("smd components: 1 added\n");
    await ok("smd", "component", "delete", "--no-confirm", "x7000c0s0b0n0");
  });
});
