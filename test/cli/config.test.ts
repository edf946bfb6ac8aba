import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildProgram } from "../../cli/program";
import { type Home, makeHome, ochami } from "./harness";

/**
 * `ochami config ...` against real files in a temporary HOME, help texts, usage errors and their
 * exit codes. No API needed.
 */
describe("ochami config", () => {
  let home: Home;
  const run = (...args: string[]) => ochami(args, { env: home.env });
  const userFile = () => path.join(home.dir, ".config", "ochami", "config.yaml");
  const systemFile = () => home.env.OCHAMI_SYSTEM_CONFIG!;

  beforeAll(() => {
    home = makeHome();
  });
  afterAll(() => home.remove());

  it("explains how to start when no cluster is configured (exit 2)", async () => {
    const r = await run("smd", "component", "get");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^error: no cluster configured \(config files read: none\) and no `npm start` state in \S+: configure one \(ochami config cluster set --default demo cluster\.uri http:\/\/127\.0\.0\.1:8081\), .*\n$/,
    );
  });

  it("cluster set creates the user file; the first cluster becomes the default", async () => {
    expect((await run("config", "cluster", "set", "demo", "cluster.uri", "https://demo.openchami.cluster:8443/")).code).toBe(0);
    // Block style, as upstream's ochami writes its config files.
    expect(readFileSync(userFile(), "utf8")).toBe(
      "clusters:\n  - name: demo\n    cluster:\n      uri: https://demo.openchami.cluster:8443\ndefault-cluster: demo\n",
    );
    expect((await run("config", "cluster", "set", "lab", "cluster.smd.uri", "/hsm/v2")).code).toBe(0);
    expect((await run("config", "cluster", "set", "lab", "cluster.enable-auth", "false")).code).toBe(0);
    const shown = await run("config", "cluster", "show", "lab");
    expect(parse(shown.stdout)).toEqual({ name: "lab", cluster: { smd: { uri: "/hsm/v2" }, "enable-auth": false } });
    expect((await run("config", "show", "default-cluster")).stdout).toBe("demo\n");
  });

  it("--default, rename and delete keep default-cluster consistent", async () => {
    expect((await run("config", "cluster", "set", "--default", "lab", "cluster.uri", "http://127.0.0.1:8081")).code).toBe(0);
    expect((await run("config", "show", "default-cluster")).stdout).toBe("lab\n");
    expect((await run("config", "cluster", "set", "lab", "name", "lab2")).code).toBe(0);
    expect((await run("config", "show", "default-cluster")).stdout).toBe("lab2\n");
    const del = await run("config", "cluster", "delete", "lab2");
    expect(del.code).toBe(0);
    expect(del.stderr).toContain("lab2 was the default cluster");
    const cfg = parse(readFileSync(userFile(), "utf8"));
    expect(cfg["default-cluster"]).toBeUndefined();
    expect(cfg.clusters.map((c: any) => c.name)).toEqual(["demo"]);
    expect((await run("config", "set", "default-cluster", "demo")).code).toBe(0);
  });

  it("a file in flow style (as earlier versions wrote it) is rewritten in block style; comments, order and inline maps of a block file stay", async () => {
    const before = readFileSync(userFile(), "utf8");
    try {
      home.file(
        ".config/ochami/config.yaml",
        '{ clusters: [ { name: old, cluster: { uri: "http://old:8081" } } ], default-cluster: old }\n',
      );
      expect((await run("config", "set", "timeout", "10s")).code).toBe(0);
      expect(readFileSync(userFile(), "utf8")).toBe(
        'clusters:\n  - name: old\n    cluster:\n      uri: "http://old:8081"\ndefault-cluster: old\ntimeout: 10s\n',
      );
      home.file(".config/ochami/config.yaml", "# lab\ntimeout: 5s # short\nclusters:\n  - name: a\n    cluster: { uri: http://a }\n");
      expect((await run("config", "cluster", "set", "a", "cluster.smd.uri", "/hsm/v2")).code).toBe(0);
      expect(readFileSync(userFile(), "utf8")).toBe(
        "# lab\ntimeout: 5s # short\nclusters:\n  - name: a\n    cluster: { uri: http://a, smd: { uri: /hsm/v2 } }\n",
      );
      // Upstream's `config show -f` is --format; ours --format-output. Both are read.
      expect(JSON.parse((await run("config", "show", "--format", "json", "timeout")).stdout)).toBe("5s");
      expect(JSON.parse((await run("config", "cluster", "show", "--format", "json", "a", "cluster.smd.uri")).stdout)).toBe("/hsm/v2");
    } finally {
      home.file(".config/ochami/config.yaml", before);
    }
  });

  it("set/unset top-level keys with checked values; comments in the file survive", async () => {
    const text = readFileSync(userFile(), "utf8");
    home.file(".config/ochami/config.yaml", `# my clusters\n${text}`);
    expect((await run("config", "set", "log.level", "info")).code).toBe(0);
    expect((await run("config", "set", "default-output-format", "table")).code).toBe(0);
    const bad = await run("config", "set", "log.level", "loud");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("error: log.level must be one of debug, info, warning, error, not 'loud'\n");
    const unknown = await run("config", "set", "colour", "red");
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: unknown key 'colour'; known: default-cluster, timeout/);
    expect((await run("config", "cluster", "set", "demo", "cluster.enable-auth", "maybe")).stderr).toContain(
      "cluster.enable-auth must be true or false",
    );
    expect(readFileSync(userFile(), "utf8")).toMatch(/^# my clusters\n/);
    expect((await run("config", "unset", "log.level")).code).toBe(0);
    const cfg = parse(readFileSync(userFile(), "utf8"));
    expect(cfg.log).toBeUndefined();
    expect(cfg["default-output-format"]).toBe("table");
    expect((await run("config", "unset", "log.level")).code).toBe(2);
    expect((await run("config", "unset", "default-output-format")).code).toBe(0);
  });

  it("reads the system file too, the user's winning per key; --system writes there", async () => {
    expect((await run("config", "--system", "cluster", "set", "demo", "cluster.cacert", "/etc/pki/ochami.pem")).code).toBe(0);
    expect((await run("config", "--system", "cluster", "set", "demo", "cluster.uri", "https://system.example")).code).toBe(0);
    expect(parse(readFileSync(systemFile(), "utf8")).clusters[0].cluster).toEqual({
      cacert: "/etc/pki/ochami.pem",
      uri: "https://system.example",
    });
    const merged = parse((await run("config", "cluster", "show", "demo")).stdout);
    expect(merged.cluster).toEqual({ uri: "https://demo.openchami.cluster:8443", cacert: "/etc/pki/ochami.pem" });
    expect(parse((await run("config", "--system", "show")).stdout)["default-cluster"]).toBe("demo");
    expect(JSON.parse((await run("config", "show", "-f", "json", "clusters")).stdout)).toHaveLength(1);
  });

  it("--config reads and writes only that file; broken files are usage errors naming the file", async () => {
    const other = path.join(home.dir, "other.yaml");
    expect((await run("--config", other, "config", "cluster", "set", "x", "cluster.uri", "http://x")).code).toBe(0);
    expect(statSync(other).mode & 0o777).toBe(0o644);
    expect(parse((await run("--config", other, "config", "show")).stdout)).toEqual({
      clusters: [{ name: "x", cluster: { uri: "http://x" } }],
      "default-cluster": "x",
    });
    const broken = home.file("broken.yaml", "clusters: [\n");
    const r = await run("--config", broken, "smd", "component", "get");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`config file ${broken} is not valid YAML`);
    const wrong = home.file("wrong.yaml", "clusters:\n  - cluster: {uri: http://x}\n");
    expect((await run("--config", wrong, "config", "show")).stderr).toContain("clusters[0] needs a name");
  });
});

describe("help, usage errors, exit codes", () => {
  it("every command's --help has examples", () => {
    const missing: string[] = [];
    const walk = (cmd: Command, prefix: string) => {
      const name = `${prefix} ${cmd.name()}`.trim();
      // Commander's own `help` pseudo-command is not ours.
      if (cmd.name() !== "help") {
        let text = "";
        cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s) });
        cmd.outputHelp();
        if (!/\nExamples:\n {2}\S/.test(text)) missing.push(name);
      }
      for (const sub of cmd.commands) walk(sub, name);
    };
    const program = buildProgram();
    walk(program, "");
    expect(missing).toEqual([]);
    // And it is a real tree: the commands the task lists are there.
    const names = new Set<string>();
    const collect = (cmd: Command, prefix: string) => {
      for (const sub of cmd.commands) {
        const n = `${prefix} ${sub.name()}`.trim();
        names.add(n);
        collect(sub, n);
      }
    };
    collect(program, "");
    for (const n of [
      "config cluster set",
      "smd component update",
      "smd compep delete",
      "smd rfe set",
      "smd iface update",
      "smd group member set",
      "smd partition member add",
      "smd membership get",
      "bss boot params update",
      "bss boot script get",
      "bss history",
      "bss hosts get",
      "bss dumpstate",
      "cloud-init group render",
      "cloud-init node get vendor-data",
      "discover static",
      "discover redfish",
      "generate conman",
      "auth login",
    ])
      expect(names, n).toContain(n);
  });

  it("--help exits 0; usage errors exit 2 with commander's message", async () => {
    const home = makeHome();
    try {
      const bare = await ochami([], { env: home.env });
      expect(bare.code).toBe(0);
      expect(bare.stdout).toMatch(/^Usage: ochami \[options\] \[command\]\n/);
      expect(bare.stdout).toContain("Exit codes:\n  0  success\n");
      const help = await ochami(["smd", "component", "get", "--help"], { env: home.env });
      expect(help.code).toBe(0);
      expect(help.stdout).toContain("Examples:\n  ochami smd component get\n");
      const unknown = await ochami(["smd", "componnet"], { env: home.env });
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain("(Did you mean component?)");
      const badOpt = await ochami(["bss", "boot", "params", "get", "--kernal", "x"], { env: home.env });
      expect(badOpt.code).toBe(2);
      expect(badOpt.stderr).toContain("error: unknown option '--kernal'");
      const version = await ochami(["--version"], { env: home.env });
      expect(version).toMatchObject({
        code: 0,
        stdout: `${JSON.parse(readFileSync(path.join(import.meta.dirname, "../../package.json"), "utf8")).version}\n`,
      });
      const noData = await ochami(["--cluster-uri", "http://127.0.0.1:9", "cloud-init", "group", "set"], { env: home.env });
      expect(noData.code).toBe(2);
      expect(noData.stderr).toContain("error: groups needed: pass -d <json>, -d @file or -d @-");
      const badJson = await ochami(["--cluster-uri", "http://127.0.0.1:9", "cloud-init", "group", "set", "-d", "{nope"], { env: home.env });
      expect(badJson.code).toBe(2);
      expect(badJson.stderr).toMatch(/^error: cannot parse --data as JSON: .*\(pass -f yaml for YAML\)\n$/);
      const unreachable = await ochami(["--cluster-uri", "http://127.0.0.1:9", "smd", "status"], { env: home.env });
      expect(unreachable.code).toBe(1);
      expect(unreachable.stderr).toBe("error: cannot reach http://127.0.0.1:9 (GET /hsm/v2/service/ready): connection refused\n");
      const noToken = await ochami(["--cluster-uri", "http://127.0.0.1:9", "smd", "group", "get"], { env: home.env });
      expect(noToken.code).toBe(3);
      expect(noToken.stderr).toContain("error: no token: pass --token, set OCHAMI_ACCESS_TOKEN, or store a client credential");
      const deleting = await ochami(["--cluster-uri", "http://127.0.0.1:9", "--no-token", "smd", "group", "delete", "compute"], {
        env: home.env,
      });
      expect(deleting.code).toBe(2);
      expect(deleting.stderr).toContain("not confirmed (standard input is not a terminal); pass --no-confirm");
    } finally {
      home.remove();
    }
  });
});
