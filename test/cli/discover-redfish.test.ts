import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../head-node/ports";
import { requirements } from "../support/requirements";
import { type FakeBmc, type FakeBmcs, makeCertificates, removeDir, startFakeBmcs } from "./fake-redfish";
import { type Home, loggedInHome, makeHome, OCHAMI_BIN, ochami, startTestApi, type TestApi } from "./harness";

/**
 * `ochami discover redfish` against HTTPS Redfish BMCs on loopback (127.99.0.11-16): an ordinary
 * one, a Dell-like one with paged collections, one like the seed's hardware (host MACs only under
 * Chassis NetworkAdapters), a slow one, one with other credentials, and an address where nothing
 * listens. The nodes file it writes is checked line by line and then loaded into a
 * real API with `discover static`.
 */
const USER = "admin";
const PASSWORD = "Password123!";
const BMCS: FakeBmc[] = [
  {
    ip: "127.99.0.11",
    managerNics: [
      { id: "eth1", mac: "02:00:00:00:0b:01", enabled: false },
      { id: "eth0", mac: "c2:77:05:e2:03:41", ipv4: "127.99.0.11" },
    ],
    systemNics: [{ id: "1", mac: "ec:e7:a7:05:a1:f1" }],
  },
  {
    ip: "127.99.0.12",
    dell: true,
    pageSize: 1,
    managerNics: [{ id: "NIC.1", mac: "c2:77:05:e2:03:42", ipv4: "127.99.0.12" }],
    systemNics: [
      { id: "NIC.Integrated.1-1-1", mac: "ec:e7:a7:05:a1:e2", linkUp: false },
      { id: "NIC.Integrated.1-2-1", mac: "ec:e7:a7:05:a1:f2" },
    ],
  },
  // The seed's hardware: host MACs only under Chassis/.../NetworkAdapters/Nic259/NetworkPorts.
  {
    ip: "127.99.0.13",
    managerNics: [{ id: "eth0", mac: "c2:77:05:e2:03:43", ipv4: "127.99.0.13" }],
    systemNics: [],
    chassisPorts: [{ id: "NICChannel0", mac: "ec:e7:a7:05:a1:f3" }],
  },
  {
    ip: "127.99.0.14",
    delayMs: 150,
    managerNics: [{ id: "eth0", mac: "c2:77:05:e2:03:44", ipv4: "127.99.0.14" }],
    systemNics: [{ id: "1", mac: "ec:e7:a7:05:a1:f4" }],
  },
  // 127.99.0.15: nothing listens.
  {
    ip: "127.99.0.16",
    password: "other",
    managerNics: [{ id: "eth0", mac: "c2:77:05:e2:03:46" }],
    systemNics: [{ id: "1", mac: "ec:e7:a7:05:a1:f6" }],
  },
];

const nodeLines = (i: number, mac: string) => [
  `  - name: nid00${i}`,
  `    nid: ${i}`,
  `    xname: x1000c1s7b${i}n0`,
  `    bmc: x1000c1s7b${i}`,
  "    groups:",
  "      - compute",
  "    interfaces:",
  `      - mac_addr: ${mac}`,
  "        ip_addrs:",
  "          - name: management",
  `            ip_addr: 172.16.0.${i}`,
];
const bmcLines = (i: number, mac: string) => [
  `  - name: nid-bmc00${i}`,
  `    xname: x1000c1s7b${i}`,
  `    mac: ${mac}`,
  `    ip: 127.99.0.1${i}`,
];

/** The fake BMCs' certificates are made with openssl. */
const missing = requirements({ commands: ["openssl"] });

describe.skipIf(missing)("discover redfish", () => {
  const noScript = requirements({ commands: ["/usr/bin/script"] });
  let tls: ReturnType<typeof makeCertificates>;
  let bmcs: FakeBmcs;
  let home: Home;
  let targets: string;
  const run = (args: string[], env: NodeJS.ProcessEnv = home.env) => ochami(args, { env });

  beforeAll(async () => {
    tls = makeCertificates(BMCS.map((b) => b.ip));
    const port = await freePort();
    bmcs = await startFakeBmcs(BMCS, { port, cert: tls.cert, key: tls.key, caFile: tls.ca, user: USER, password: PASSWORD });
    home = makeHome({ OCHAMI_BMC_CREDENTIALS: `${USER}:${PASSWORD}` });
    targets = `127.99.0.11-16:${port}`;
  });
  afterAll(async () => {
    await bmcs?.stop();
    home?.remove();
    if (tls) removeDir(tls.dir);
  });

  it("writes the nodes file for the BMCs that answered, reports the others plainly, exits 4", async () => {
    const out = path.join(home.dir, "nodes.yaml");
    const r = await run([
      "discover",
      "redfish",
      "--cacert",
      tls.ca,
      "--bmc-timeout",
      "5s",
      "--node-ip-start",
      "172.16.0.1",
      targets,
      "-o",
      out,
    ]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr.split("\n")).toEqual([
      "discovered 4 of 6 BMCs (4 nodes); 2 failed:",
      `  127.99.0.15:${targets.split(":")[1]}: connection refused`,
      `  127.99.0.16:${targets.split(":")[1]}: 401 Unauthorized for /redfish/v1/Managers: check the BMC credentials`,
      "",
    ]);
    const lines = readFileSync(out, "utf8").split("\n");
    expect(lines[0]).toMatch(/^# nodes file written by `ochami discover redfish` on \d{4}-\d\d-\d\dT[\d:.]+Z$/);
    expect(lines[1]).toBe(
      `# 4 of 6 BMCs answered; missing (not written, numbers kept free): 127.99.0.15:${bmcs.port}, 127.99.0.16:${bmcs.port}`,
    );
    expect(lines.slice(2)).toEqual([
      "bmcs:",
      ...bmcLines(1, "c2:77:05:e2:03:41"),
      ...bmcLines(2, "c2:77:05:e2:03:42"),
      ...bmcLines(3, "c2:77:05:e2:03:43"),
      ...bmcLines(4, "c2:77:05:e2:03:44"),
      "nodes:",
      ...nodeLines(1, "ec:e7:a7:05:a1:f1"),
      // The Dell's first NIC has no link: the boot NIC is the second.
      ...nodeLines(2, "ec:e7:a7:05:a1:f2"),
      ...nodeLines(3, "ec:e7:a7:05:a1:f3"),
      ...nodeLines(4, "ec:e7:a7:05:a1:f4"),
      "",
    ]);
    // Bounded concurrency: several BMCs were asked at once (the slow one alone takes 8 × 150 ms).
    expect(bmcs.maxInFlight()).toBeGreaterThan(1);
  });

  it("--allow-partial exits 0; --concurrency 1 asks one BMC at a time", async () => {
    bmcs.resetStats();
    const r = await run(["discover", "redfish", "--cacert", tls.ca, "--concurrency", "1", "--allow-partial", targets]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("  - name: nid004\n");
    expect(bmcs.maxInFlight()).toBe(1);
  });

  it("a BMC slower than --bmc-timeout is reported as such", async () => {
    const r = await run([
      "discover",
      "redfish",
      "-k",
      "--bmc-timeout",
      "100ms",
      "--allow-partial",
      `127.99.0.14:${bmcs.port}`,
      `127.99.0.13:${bmcs.port}`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`  127.99.0.14:${bmcs.port}: no answer within 100 ms\n`);
    // Numbers follow the position in the list: the answering BMC is the second.
    expect(r.stdout).toContain("  - name: nid002\n    nid: 2\n    xname: x1000c1s7b2n0\n");
  });

  it("verifies TLS unless told otherwise: untrusted certificates fail every BMC (exit 1, nothing written)", async () => {
    const out = path.join(home.dir, "none.yaml");
    const r = await run(["discover", "redfish", targets, "-o", out]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `  127.99.0.11:${bmcs.port}: TLS certificate not trusted: unable to verify the first certificate (use --cacert <pem>, or --insecure)\n`,
    );
    expect(r.stderr).toContain("error: no BMC answered; nothing written\n");
    expect(existsSync(out)).toBe(false);
    const insecure = await run(["discover", "redfish", "--insecure", "--allow-partial", `127.99.0.11:${bmcs.port}`]);
    expect(insecure.code).toBe(0);
    expect(insecure.stdout).toContain("mac_addr: ec:e7:a7:05:a1:f1");
  });

  it("needs credentials, never from the command line", async () => {
    const bare = makeHome();
    try {
      const r = await ochami(["discover", "redfish", "-k", targets], { env: bare.env });
      expect(r.code).toBe(2);
      expect(r.stderr).toBe(
        "error: BMC credentials needed: --credentials-file <file> (user:password), or OCHAMI_BMC_CREDENTIALS=user:password, or --user <name> with OCHAMI_BMC_PASSWORD\n",
      );
      const file = bare.file("bmc.cred", `${USER}:${PASSWORD}\n`, 0o600);
      const ok = await ochami(["discover", "redfish", "-k", "--credentials-file", file, `127.99.0.13:${bmcs.port}`], { env: bare.env });
      expect(ok.code, ok.stderr).toBe(0);
      // The seed's variable works too.
      expect(
        (await ochami(["discover", "redfish", "-k", `127.99.0.13:${bmcs.port}`], { env: { ...bare.env, rf_pass: `${USER}:${PASSWORD}` } }))
          .code,
      ).toBe(0);
    } finally {
      bare.remove();
    }
  });

  it.skipIf(noScript)("shows a progress bar only when stderr is a terminal", async () => {
    const out = path.join(home.dir, "tty.yaml");
    const cmd = [process.execPath, OCHAMI_BIN, "discover", "redfish", "-k", "--allow-partial", targets, "-o", out]
      .map((a) => `'${a}'`)
      .join(" ");
    // Asynchronously: the fake BMCs answer from this process.
    const tty = await new Promise<string>((resolve, reject) => {
      const proc = spawn("/usr/bin/script", ["-qec", cmd, "/dev/null"], { env: home.env, stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      proc.stdout.on("data", (d) => (text += d));
      proc.on("error", reject);
      proc.on("exit", () => resolve(text));
    });
    expect(tty).toMatch(/BMCs \[[^\]]*\] \d\/6 \(\d failed\)/);
    const piped = await run(["discover", "redfish", "-k", "--allow-partial", targets, "-o", out]);
    expect(piped.stderr).not.toContain("BMCs [");
  });

  describe("the file it writes loads into the API", () => {
    let api: TestApi;
    let admin: Home;
    beforeAll(async () => {
      api = await startTestApi();
      admin = await loggedInHome(api);
    });
    afterAll(async () => {
      admin?.remove();
      await api?.stop();
    });

    it("discover static reads it; SMD knows every node's boot MAC and IP and every BMC", async () => {
      const file = path.join(home.dir, "nodes.yaml");
      const r = await ochami(["discover", "static", "-d", `@${file}`], { env: admin.env });
      expect(r.code, r.stderr).toBe(0);
      const ifaces = JSON.parse((await ochami(["smd", "iface", "get"], { env: admin.env })).stdout);
      const byMac = Object.fromEntries(ifaces.map((i: any) => [i.MACAddress, [i.ComponentID, i.IPAddresses.map((a: any) => a.IPAddress)]]));
      expect(byMac).toEqual({
        "ec:e7:a7:05:a1:f1": ["x1000c1s7b1n0", ["172.16.0.1"]],
        "ec:e7:a7:05:a1:f2": ["x1000c1s7b2n0", ["172.16.0.2"]],
        "ec:e7:a7:05:a1:f3": ["x1000c1s7b3n0", ["172.16.0.3"]],
        "ec:e7:a7:05:a1:f4": ["x1000c1s7b4n0", ["172.16.0.4"]],
        "c2:77:05:e2:03:41": ["x1000c1s7b1", ["127.99.0.11"]],
        "c2:77:05:e2:03:42": ["x1000c1s7b2", ["127.99.0.12"]],
        "c2:77:05:e2:03:43": ["x1000c1s7b3", ["127.99.0.13"]],
        "c2:77:05:e2:03:44": ["x1000c1s7b4", ["127.99.0.14"]],
      });
      const hosts = await ochami(["generate", "hosts", "-d", `@${file}`], { env: admin.env });
      expect(hosts.stdout).toContain("172.16.0.2      nid002\n");
      expect(hosts.stdout).toContain("127.99.0.12     nid-bmc002\n");
    });
  });
});
