import { readFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline/promises";
import { Command, Option } from "commander";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import { parseDuration } from "../../shared/duration";
import { expandPath, writeAtomic } from "../config/files";
import type { GlobalOptions } from "../context";
import { EXIT, UsageError } from "../errors";
import { applyDiscovery } from "../inventory/apply";
import { type ClusterPlan, parseClusterFile } from "../inventory/cluster-file";
import { type Inventory, InventoryError, parseNodesFile, someOf } from "../inventory/nodes-file";
import { discoveryPayloads } from "../inventory/payloads";
import { readData } from "../io/input";
import { log } from "../log";
import { assignNodes, checkTemplate } from "../redfish/assign";
import { type BmcResult, discoverBmc, mapBounded } from "../redfish/discover";
import { expandTargets } from "../redfish/targets";
import { bmcCredentials } from "./bmc-credentials";
import { act, collect, type DataOptions, examples } from "./define";
import { parseInteger } from "./payload";

export function discoverCommand(): Command {
  const discover = new Command("discover").description("populate the inventory: from a nodes file (static) or by asking BMCs (redfish)");
  examples(discover, [
    "ochami discover redfish 172.16.0.101-109 --node-ip-start 172.16.0.1 -o nodes.yaml",
    "ochami discover static --overwrite -d @nodes.yaml --cluster-file cluster.yaml",
  ]);
  return discover.addCommand(staticCommand()).addCommand(redfishCommand());
}

// ----------------------------------------------------------------------------- static

function staticCommand(): Command {
  const cmd = act<DataOptions & { overwrite?: boolean; discoveryVersion: string; clusterFile?: string; dryRun?: boolean; yes?: boolean }>(
    new Command("static")
      .description(
        "send a nodes file to SMD as upstream's `ochami discover static` does (components, Redfish endpoints, groups); " +
          "with --cluster-file also BSS boot parameters, cloud-init defaults and groups, and more SMD groups",
      )
      .option(
        "-d, --data <data>",
        "the nodes file: @nodes.yaml, @- or raw data (either format: bmcs:+nodes:, or the deprecated bmc_mac/bmc_ip one)",
      )
      .option("-f, --format-input <format>", "format of -d: json or yaml (default: from the file's extension, else json)")
      .option(
        "--overwrite",
        "replace what exists with other values (components, endpoints, interfaces, group members) instead of reporting conflicts",
      )
      .option("-y, --yes", "with --overwrite, drop group members that are not in the files without asking (a warning names them)")
      .addOption(
        new Option("--discovery-version <n>", "2 (default): SMD makes node interfaces from the endpoints; 1: also POST them")
          .choices(["1", "2"])
          .default("2"),
      )
      .option("--cluster-file <file>", "also apply boot:, cloud-init: and groups: from this file (see the README)")
      .option("--dry-run", "print the requests upstream's ochami sends (one per line: METHOD path body); read and send nothing")
      // Upstream's flag: SMD's base URI or path, as `ochami smd --uri` (the requests all go to SMD).
      .option("--uri <uri>", "SMD base URI, absolute or a path under the cluster URI (default /hsm/v2)"),
    async (run) => {
      const o = run.opts;
      const nodes = readData({ data: o.data, format: o.formatInput }, run.ctx.inputFormat(), "the nodes file");
      if (!nodes && !o.clusterFile) throw new UsageError("give the nodes file with -d @nodes.yaml (and/or --cluster-file)");
      const inv = nodes ? parseOrExplain(() => parseNodesFile(nodes.value), nodes.from) : undefined;
      const plan = o.clusterFile ? readClusterFile(o.clusterFile, inv) : undefined;
      const empty: Inventory = { format: "current", bmcs: [], nodes: [], warnings: [] };
      // A dry run needs no cluster (nothing is sent).
      const api = o.dryRun ? (undefined as never) : run.ctx.api();
      const smdHost = o.dryRun ? "smd.example" : new URL(run.ctx.baseUrl("smd")).host;
      const payloads = discoveryPayloads(inv ?? empty, {
        smdHost,
        discoveryVersion: o.discoveryVersion === "1" ? 1 : 2,
        extraGroups: plan?.smdGroups,
      });
      if (inv) {
        log.info(`${inv.nodes.length} nodes and ${inv.bmcs.length} BMCs (${inv.format} format)`);
        for (const w of inv.warnings) log.warn(w);
      }
      const result = await applyDiscovery(api, payloads, plan, {
        overwrite: !!o.overwrite,
        dryRun: !!o.dryRun,
        report: (line) => process.stderr.write(`${line}\n`),
        print: (line) => process.stdout.write(`${line}\n`),
        confirmRemoval: (label, removed) => confirmRemoval(label, removed, !!o.yes),
      });
      return result.exitCode;
    },
  );
  cmd.addHelpText(
    "after",
    `
The nodes file (YAML or JSON):
  bmcs:
  - {name: bmc01, xname: x1000c1s0b0, mac: "de:ca:fc:0f:ee:ee", ip: 172.16.0.101, fqdn: bmc01.cluster}
  nodes:
  - name: node01
    nid: 1
    xname: x1000c1s0b0n0
    bmc: x1000c1s0b0          # the xname, name or MAC of a bmcs entry; default: the BMC in the node's xname
    groups: [compute]
    interfaces:
    - mac_addr: "de:ad:be:ee:ee:f1"
      ip_addrs: [{name: management, ip_addr: 172.16.0.1}]
The deprecated format (still read): nodes only, each with bmc_mac, bmc_ip, bmc_fqdn and group.
Each run reads SMD first: what the files describe is reported added, changed, unchanged or
conflicting; only what is new or differs is sent. --overwrite makes a group's members those of
the files (members it drops are asked about at a terminal; -y, or no terminal: a warning).
`,
  );
  return examples(cmd, [
    "ochami discover static -d @nodes.yaml",
    "ochami discover static --overwrite -d @nodes.yaml -f yaml",
    "ochami discover static --overwrite -d @nodes.yaml --cluster-file cluster.yaml   # the seed's whole setup",
    "ochami discover static --dry-run -d @nodes.yaml --cluster-file cluster.yaml",
  ]);
}

/**
 * --overwrite makes a group's members those of the files, so a partial nodes file shrinks the
 * groups it names: asked first at a terminal; with --yes, or with no terminal to ask on (a
 * script, ansible), done with a warning naming the members dropped.
 */
async function confirmRemoval(label: string, removed: string[], yes: boolean): Promise<boolean> {
  const what = `group ${label}: ${removed.length} member${removed.length === 1 ? "" : "s"} not in the files (${someOf(removed, 10)})`;
  if (yes || !process.stdin.isTTY || !process.stderr.isTTY) {
    log.warn(`${what} removed (--overwrite makes a group's members those of the files)`);
    return true;
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${what}: remove ${removed.length === 1 ? "it" : "them"}? (no: keep them, add the files') [y/N]: `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Inventory problems as a usage error naming the file. */
function parseOrExplain<T>(parse: () => T, from: string): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InventoryError) throw new UsageError(`${from}: ${err.message}`);
    throw err;
  }
}

function readClusterFile(name: string, inv: Inventory | undefined): ClusterPlan {
  const file = expandPath(name);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read the cluster file ${file}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new UsageError(`the cluster file ${file} is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const dir = path.dirname(file);
  return parseOrExplain(() => parseClusterFile(doc, inv, (p) => readFileSync(expandPath(p, dir), "utf8")), file);
}

// ----------------------------------------------------------------------------- redfish

/** The options of `discover redfish` (those with a default always set). */
interface RedfishOptions {
  targetsFile?: string;
  credentialsFile?: string;
  user?: string;
  scheme: "https" | "http";
  port?: string;
  concurrency: string;
  bmcTimeout: string;
  xname: string;
  nidStart: string;
  nodesPerBmc: string;
  nodeIpStart?: string;
  network: string;
  group?: string[];
  shortName: string;
  nidLength: string;
  domain?: string;
  allNics?: boolean;
  output?: string;
  allowPartial?: boolean;
  progress: boolean;
}

function redfishCommand(): Command {
  const cmd = act<RedfishOptions, [targets: string[]]>(
    new Command("redfish")
      .description(
        "ask BMCs over Redfish for their MACs and those of their nodes, and write a nodes file (the seed's gen_nodes_file.sh, done right)",
      )
      .argument("[targets...]", "BMC addresses: 172.16.0.101, 172.16.0.101-109, 172.16.0.96/28, host names; any with :port")
      .option("--targets-file <file>", "more targets, one per line")
      .option("--credentials-file <file>", "BMC credentials, first line user:password (else $OCHAMI_BMC_CREDENTIALS or $rf_pass)")
      .option("--user <user>", "BMC user, with the password in $OCHAMI_BMC_PASSWORD")
      .addOption(new Option("--scheme <scheme>", "Redfish scheme").choices(["https", "http"]).default("https"))
      .option("--port <port>", "Redfish port (default 443/80)")
      .option("--concurrency <n>", "BMCs asked at once", "16")
      .option("--bmc-timeout <duration>", "timeout per Redfish request", "10s")
      .option("--xname <template>", "node xname of the i-th target: {n} = i+1, {i} = i, {nid}", "x1000c1s7b{n}n0")
      .option("--nid-start <nid>", "NID of the first target's node", "1")
      .option("--nodes-per-bmc <k>", "systems written per BMC (NIDs and IPs are spaced by it)", "1")
      .option("--node-ip-start <ip>", "IP of the first target's node (then one more per node)")
      .option("--network <name>", "network name of the node IPs", "management")
      .option("--group <label>", "SMD group of the nodes (repeatable, or comma-separated; default compute)", collect)
      .option("--short-name <name>", "node names are <short-name><NID> and BMCs <short-name>-bmc<NID>", "nid")
      .option("--nid-length <digits>", "NID digits in names", "3")
      .option("--domain <domain>", "BMC FQDNs are <bmc name>.<domain>")
      .option("--all-nics", "write every NIC of a node, not only the boot NIC")
      .option("-o, --output <file>", "write the nodes file here (default: standard output)")
      .option("--allow-partial", "exit 0 when some BMCs failed (they are still reported)")
      .option("--no-progress", "no progress bar (there is none unless stderr is a terminal)"),
    async (run) => {
      const o = run.opts;
      const specs = [...run.args[0]];
      if (o.targetsFile) {
        try {
          specs.push(
            ...readFileSync(expandPath(o.targetsFile), "utf8")
              .split("\n")
              .map((l) => l.replace(/#.*/, "").trim())
              .filter(Boolean),
          );
        } catch (err) {
          throw new UsageError(`cannot read ${o.targetsFile}: ${(err as Error).message}`);
        }
      }
      if (!specs.length) throw new UsageError("no BMCs given: name addresses, ranges or blocks, or --targets-file");
      let targets: ReturnType<typeof expandTargets>;
      try {
        targets = expandTargets(specs);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const templateProblem = checkTemplate(o.xname);
      if (templateProblem) throw new UsageError(templateProblem);
      const concurrency = parseInteger(o.concurrency, "--concurrency");
      if (concurrency < 1) throw new UsageError("--concurrency must be at least 1");
      const timeoutMs = parseDuration(o.bmcTimeout);
      if (!timeoutMs) throw new UsageError(`--bmc-timeout must be a duration, not '${o.bmcTimeout}'`);
      const rules = {
        xnameTemplate: o.xname,
        nidStart: parseInteger(o.nidStart, "--nid-start"),
        nodesPerBmc: parseInteger(o.nodesPerBmc, "--nodes-per-bmc"),
        nodeIpStart: o.nodeIpStart,
        network: o.network,
        groups: (o.group ?? ["compute"]).flatMap((g) => g.split(",")).filter(Boolean),
        shortName: o.shortName,
        nidLength: parseInteger(o.nidLength, "--nid-length"),
        allNics: !!o.allNics,
        domain: o.domain,
      };
      if (rules.nidStart < 1 || rules.nodesPerBmc < 1) throw new UsageError("--nid-start and --nodes-per-bmc must be at least 1");
      if (rules.nodeIpStart && !/^[0-9]+(\.[0-9]+){3}$/.test(rules.nodeIpStart))
        throw new UsageError(`--node-ip-start must be an IPv4 address, not '${rules.nodeIpStart}'`);
      const creds = bmcCredentials({ user: o.user, credentialsFile: o.credentialsFile }, run.ctx.env);
      if (!rules.nodeIpStart) log.warn("no --node-ip-start: nodes get no IP address in the file (DHCP hands out only addresses SMD knows)");
      const g = run.cmd.optsWithGlobals<GlobalOptions>();
      let tls: { ca?: Buffer; insecure?: boolean } = { insecure: !!g.insecure };
      if (g.cacert) {
        try {
          tls = { ...tls, ca: readFileSync(expandPath(g.cacert)) };
        } catch (err) {
          throw new UsageError(`cannot read the CA bundle ${g.cacert}: ${(err as Error).message}`);
        }
      }
      const settings = {
        scheme: o.scheme,
        port: o.port ? parseInteger(o.port, "--port") : undefined,
        user: creds.user,
        password: creds.password,
        tls,
        timeoutMs,
      };

      const bar = o.progress !== false && process.stderr.isTTY ? await progressBar(targets.length) : undefined;
      let failedSoFar = 0;
      const results: BmcResult[] = await mapBounded(
        targets,
        concurrency,
        (t) => discoverBmc(t, settings),
        (r) => {
          if (!r.ok) failedSoFar++;
          bar?.increment(1, { failed: failedSoFar });
        },
      );
      bar?.stop();

      const failed = results.filter((r): r is Extract<BmcResult, { ok: false }> => !r.ok);
      const { doc, warnings } = assignNodes(results, rules);
      for (const w of warnings) log.warn(w);
      const okCount = results.length - failed.length;
      process.stderr.write(
        `discovered ${okCount} of ${results.length} BMCs (${doc.nodes.length} nodes)${failed.length ? `; ${failed.length} failed:` : ""}\n`,
      );
      for (const f of failed) process.stderr.write(`  ${f.target.label}: ${f.error}\n`);
      if (!okCount) {
        process.stderr.write("error: no BMC answered; nothing written\n");
        return EXIT.REQUEST;
      }
      const header =
        `# nodes file written by \`ochami discover redfish\` on ${new Date().toISOString()}\n` +
        `# ${okCount} of ${results.length} BMCs answered` +
        (failed.length ? `; missing (not written, numbers kept free): ${failed.map((f) => f.target.label).join(", ")}` : "") +
        "\n";
      const text = header + toYaml(doc, { lineWidth: 0, aliasDuplicateObjects: false });
      if (o.output) writeAtomic(expandPath(o.output), text, 0o644);
      else process.stdout.write(text);
      return failed.length && !o.allowPartial ? EXIT.PARTIAL : EXIT.OK;
    },
  );
  return examples(cmd, [
    "export OCHAMI_BMC_CREDENTIALS='admin:Password123!'",
    "ochami discover redfish -k 172.16.0.101-109 --node-ip-start 172.16.0.1 -o nodes.yaml",
    "ochami discover redfish --cacert bmc-ca.pem 172.16.0.96/28 --xname 'x1000c1s{n}b0n0' --nid-start 10",
    "ochami discover redfish -k --credentials-file ~/.bmc --targets-file bmcs.txt --allow-partial -o nodes.yaml",
    "ochami discover static --overwrite -d @nodes.yaml   # then load it",
  ]);
}

async function progressBar(total: number) {
  const { SingleBar, Presets } = (await import("cli-progress")).default;
  const bar = new SingleBar(
    {
      format: "BMCs [{bar}] {value}/{total} ({failed} failed) {eta_formatted}",
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    Presets.shades_classic,
  );
  bar.start(total, 0, { failed: 0 });
  return bar;
}
