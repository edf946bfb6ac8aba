import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../head-node/ports";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { type Home, loggedInHome, ochami, startTestApi, type TestApi } from "./harness";
import { SEED_CHRONY_TEMPLATE, SEED_CLUSTER_YAML, SEED_NODES_YAML, SEED_PUBKEY } from "./seed";

/**
 * `ochami generate hosts|powerman|conman` make, line for line, the files the seed writes by hand
 * (the OpenCHAMI tutorial's "Setup hosts" and "powerman + conman" steps), from a nodes file and from the live
 * inventory; Debian's powermand and conmand read what it generates.
 */
const SEED_HOSTS = `172.16.0.254    demo.openchami.cluster
172.16.0.1      nid001
172.16.0.2      nid002
172.16.0.3      nid003
172.16.0.4      nid004
172.16.0.5      nid005
172.16.0.6      nid006
172.16.0.7      nid007
172.16.0.8      nid008
172.16.0.9      nid009
172.16.0.101    nid-bmc001
172.16.0.102    nid-bmc002
172.16.0.103    nid-bmc003
172.16.0.104    nid-bmc004
172.16.0.105    nid-bmc005
172.16.0.106    nid-bmc006
172.16.0.107    nid-bmc007
172.16.0.108    nid-bmc008
172.16.0.109    nid-bmc009
`;

const SEED_POWERMAN = `include "/etc/powerman/ipmipower.dev"

device "ipmi0" "ipmipower" "/usr/sbin/ipmipower -D lanplus -u admin -p Password123! -h nid-bmc[001-009] -I 17 -W ipmiping |&"
node "nid[001-009]" "ipmi0" "nid-bmc[001-009]"
`;

const SEED_CONMAN = `SERVER keepalive=ON
SERVER logdir="/var/log/conman"
SERVER logfile="/var/log/conman.log"
SERVER loopback=ON
SERVER pidfile="/var/run/conman.pid"
SERVER resetcmd="/usr/bin/powerman -0 %N; sleep 5; /usr/bin/powerman -1 %N"
SERVER tcpwrappers=ON

GLOBAL seropts="115200,8n1"
GLOBAL log="/var/log/conman/console.%N"
GLOBAL logopts="sanitize,timestamp"

# Compute nodes
${Array.from({ length: 9 }, (_, k) => `CONSOLE name="nid00${k + 1}" dev="ipmi:nid-bmc00${k + 1}" ipmiopts="U:admin,P:Password123!,C:17,W:solpayloadsize"`).join("\n")}
`;

const withoutMarkers = (text: string) =>
  text
    .split("\n")
    .filter((l) => !l.startsWith("# BEGIN ochami") && !l.startsWith("# END ochami"))
    .join("\n");

let api: TestApi;
let home: Home;
let nodes: string;
const run = (...args: string[]) => ochami(args, { env: home.env });

beforeAll(async () => {
  api = await startTestApi();
  home = await loggedInHome(api, { OCHAMI_BMC_CREDENTIALS: "admin:Password123!" });
  nodes = home.file("seed/nodes.yaml", SEED_NODES_YAML);
});
afterAll(async () => {
  home?.remove();
  await api?.stop();
});

describe("from the seed's nodes file", () => {
  it("hosts: the seed's /etc/hosts, between marker comments", async () => {
    const r = await run("generate", "hosts", "-d", `@${nodes}`, "--add", "172.16.0.254=demo.openchami.cluster");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe("# BEGIN ochami hosts (ochami generate hosts)");
    expect(withoutMarkers(r.stdout)).toBe(SEED_HOSTS);
    const fqdn = await run("generate", "hosts", "-d", `@${nodes}`, "--domain", "demo.cluster");
    expect(fqdn.stdout.split("\n")[1]).toBe("172.16.0.1      nid001.demo.cluster nid001");
  });

  it("powerman.conf and conman.conf: the seed's, to the byte", async () => {
    expect((await run("generate", "powerman", "-d", `@${nodes}`)).stdout).toBe(SEED_POWERMAN);
    expect((await run("generate", "conman", "-d", `@${nodes}`)).stdout).toBe(SEED_CONMAN);
    const out = path.join(home.dir, "powerman.conf");
    expect((await run("generate", "powerman", "-d", `@${nodes}`, "-o", out)).code).toBe(0);
    expect(statSync(out).mode & 0o777, "it holds the BMC password").toBe(0o600);
    const redfish = (await run("generate", "powerman", "--driver", "redfish", "-d", `@${nodes}`)).stdout;
    expect(redfish).toBe(
      'include "/etc/powerman/redfishpower-supermicro.dev"\n\ndevice "redfish0" "redfishpower-supermicro" "/usr/sbin/redfishpower -h nid-bmc[001-009] |&"\nnode "nid[001-009]" "redfish0" "nid-bmc[001-009]"\n',
    );
  });

  it("refuses credentials that would break the files, and asks for missing ones", async () => {
    const quote = await ochami(["generate", "conman", "-d", `@${nodes}`], { env: { ...home.env, OCHAMI_BMC_CREDENTIALS: 'admin:pa"ss' } });
    expect(quote.code).toBe(2);
    expect(quote.stderr).toBe("error: the BMC user or password contains a character conman.conf cannot hold (quote, space, comma or \\)\n");
    const none = await ochami(["generate", "powerman", "-d", `@${nodes}`], { env: { ...home.env, OCHAMI_BMC_CREDENTIALS: "" } });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/^error: BMC credentials needed/);
  });

  it("--update replaces its own block in a hosts file and keeps the rest", async () => {
    const file = home.file("hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost\n");
    expect((await run("generate", "hosts", "-d", `@${nodes}`, "--update", file)).code).toBe(0);
    const once = readFileSync(file, "utf8");
    expect(once.startsWith("127.0.0.1 localhost\n::1 localhost ip6-localhost\n# BEGIN ochami hosts")).toBe(true);
    expect((await run("generate", "hosts", "-d", `@${nodes}`, "--update", file)).code).toBe(0);
    expect(readFileSync(file, "utf8")).toBe(once);
    writeFileSync(file, `${once}10.9.9.9 other\n`);
    await run("generate", "hosts", "-d", `@${nodes}`, "--update", file, "--add", "172.16.0.254=demo.openchami.cluster");
    const after = readFileSync(file, "utf8");
    expect(after).toContain("# BEGIN ochami hosts (ochami generate hosts)\n172.16.0.254    demo.openchami.cluster\n");
    expect(after.endsWith("# END ochami hosts\n10.9.9.9 other\n")).toBe(true);
  });
});

describe("from the live inventory", () => {
  beforeAll(async () => {
    home.file("seed/cluster.yaml", SEED_CLUSTER_YAML);
    home.file("seed/id_rsa.pub", `${SEED_PUBKEY}\n`);
    home.file("seed/templates/chrony.yaml", SEED_CHRONY_TEMPLATE);
    const r = await run("discover", "static", "--overwrite", "-d", `@${nodes}`, "--cluster-file", path.join(home.dir, "seed/cluster.yaml"));
    expect(r.code, r.stderr).toBe(0);
  });

  it("names nodes as cloud-init names them (short-name nid, nid-length 3) and finds IPs and BMCs in SMD", async () => {
    const hosts = await run("generate", "hosts", "--add", "172.16.0.254=demo.openchami.cluster");
    expect(hosts.code, hosts.stderr).toBe(0);
    expect(withoutMarkers(hosts.stdout)).toBe(SEED_HOSTS);
    expect((await run("generate", "powerman")).stdout).toBe(SEED_POWERMAN);
    expect((await run("generate", "conman")).stdout).toBe(SEED_CONMAN);
  });

  it("a node's instance-info hostname wins, as on the node itself", async () => {
    await run("cloud-init", "node", "set", "-d", JSON.stringify([{ id: "x1000c1s7b9n0", "local-hostname": "login1" }]));
    const hosts = (await run("generate", "hosts")).stdout;
    expect(hosts).toContain("172.16.0.9      login1\n");
    expect(hosts).toContain("172.16.0.109    login-bmc1\n");
    await run("cloud-init", "node", "delete", "--no-confirm", "x1000c1s7b9n0");
  });

  it("two nodes with one NID (so one name) are refused, naming them; nothing is written", async () => {
    const hostsFile = home.file("etc/hosts", "127.0.0.1 localhost\n");
    expect((await run("smd", "component", "update", "--nid", "1", "x1000c1s7b2n0")).code).toBe(0);
    try {
      for (const args of [["hosts", "--update", hostsFile], ["powerman"], ["conman"]]) {
        const r = await run("generate", ...args);
        expect(r.code).toBe(1);
        expect(r.stderr).toBe(
          "error: 2 host names are given to more than one host: nid001 (node x1000c1s7b1n0 with NID 1, node x1000c1s7b2n0 with NID 1), " +
            "nid-bmc001 (BMC 172.16.0.101, BMC 172.16.0.102); nothing written: give the nodes distinct NIDs " +
            "(ochami smd component update --nid <nid> <xname>) or names (cloud-init instance-info local-hostname)\n",
        );
        expect(r.stdout).toBe("");
      }
      expect(readFileSync(hostsFile, "utf8")).toBe("127.0.0.1 localhost\n");
    } finally {
      expect((await run("smd", "component", "update", "--nid", "2", "x1000c1s7b2n0")).code).toBe(0);
    }
    const twice = home.file("twice.yaml", SEED_NODES_YAML.replace("name: nid002", "name: nid001"));
    const r = await run("generate", "hosts", "-d", `@${twice}`);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^error: 2 host names are given to more than one host: nid001 \(node x1000c1s7b1n0 with NID 1, node x1000c1s7b2n0 with NID 2\), nid-bmc001 .*give the nodes distinct names in the nodes file\n$/,
    );
  });
});

describe("Debian's daemons read the generated files", () => {
  const noPowerman = requirements({ commands: ["/usr/sbin/powermand", "/usr/bin/pm"] });
  // conmand runs in a mount namespace of its own (below): root, unshare and mount.
  const noConman = requirements({ root: true, commands: ["unshare", "mount", "/usr/sbin/conmand", "/usr/bin/conman"] });

  it.skipIf(noPowerman)("powermand serves the nodes of the generated powerman.conf", async () => {
    const port = await freePort();
    const conf = path.join(home.dir, "pm.conf");
    expect((await run("generate", "powerman", "-d", `@${nodes}`, "-o", conf)).code).toBe(0);
    writeFileSync(conf, `${readFileSync(conf, "utf8")}listen "127.0.0.1:${port}"\n`);
    const daemon = spawn("/usr/sbin/powermand", ["-f", "-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
    try {
      // powermand prints nothing when it is ready: ask it, as an admin's `pm` would, until it answers.
      let listed = "";
      await waitFor(
        () => {
          listed = spawnSync("/usr/bin/pm", ["-h", `127.0.0.1:${port}`, "-l"], { encoding: "utf8" }).stdout ?? "";
          return listed.includes("nid");
        },
        5_000,
        () => `powermand to list its nodes (pm -l: ${JSON.stringify(listed)})`,
        { everyMs: 100 },
      );
      expect(listed).toBe("nid[001-009]\n");
    } finally {
      daemon.kill("SIGTERM");
    }
  });

  it.skipIf(noConman)(
    "conmand serves the consoles of the generated conman.conf, the BMC names resolved by the generated hosts file",
    async () => {
      // conmand 0.2.7 stops answering when several console hosts do not resolve, so it runs in a
      // mount namespace whose /etc/hosts is the one `generate hosts` writes, for a copy of the seed
      // whose BMCs are on loopback addresses (nothing is sent elsewhere).
      const local = home.file("seed/nodes-loopback.yaml", SEED_NODES_YAML.replace(/bmc_ip: 172\.16\.0\.10(\d)/g, "bmc_ip: 127.99.1.$1"));
      const hostsFile = path.join(home.dir, "hosts");
      expect((await run("generate", "hosts", "-d", `@${local}`, "--add", "127.0.0.1=localhost", "-o", hostsFile)).code).toBe(0);
      expect(readFileSync(hostsFile, "utf8")).toContain("127.99.1.9      nid-bmc009\n");
      const port = await freePort();
      const conf = path.join(home.dir, "conman.conf");
      expect((await run("generate", "conman", "-d", `@${local}`, "--logdir", path.join(home.dir, "conman-logs"), "-o", conf)).code).toBe(0);
      // Keep the daemon's pid file out of /var/run (the only line changed for the test).
      writeFileSync(
        conf,
        readFileSync(conf, "utf8").replace('pidfile="/var/run/conman.pid"', `pidfile="${path.join(home.dir, "conman.pid")}"`),
      );
      mkdirSync(path.join(home.dir, "conman-logs"), { recursive: true });
      const script = `mount --bind '${hostsFile}' /etc/hosts && exec /usr/sbin/conmand -F -c '${conf}' -p ${port}`;
      const daemon = spawn("unshare", ["-m", "sh", "-c", script], { stdio: ["ignore", "pipe", "pipe"] });
      let log = "";
      daemon.stderr.on("data", (d) => (log += d));
      try {
        // conmand, too, is asked until it answers.
        let listed = "";
        let client = "";
        await waitFor(
          () => {
            const q = spawnSync("/usr/bin/conman", ["-d", `127.0.0.1:${port}`, "-q"], { encoding: "utf8", timeout: 5000 });
            listed = q.stdout ?? "";
            client = `${q.stderr ?? ""} (status ${q.status})`;
            return listed.includes("nid009");
          },
          10_000,
          () => `conmand to list the consoles (conman -q: ${JSON.stringify(listed)}; ${client}; conmand: ${log})`,
          { everyMs: 100 },
        );
        expect(listed.trim().split("\n"), `${log}\nconman: ${client}`).toEqual(Array.from({ length: 9 }, (_, k) => `nid00${k + 1}`));
        expect(log).not.toContain("hostname invalid");
      } finally {
        daemon.kill("SIGTERM");
      }
    },
  );
});
