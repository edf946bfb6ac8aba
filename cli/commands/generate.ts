import { existsSync, readFileSync, statSync } from "node:fs";
import { Command, Option } from "commander";
import { expandPath, writeAtomic } from "../config/files";
import { CliError, EXIT, UsageError } from "../errors";
import { checkLogin, type HostEntry, renderConman, renderHosts, renderPowerman, updateHostsFile } from "../generate/render";
import { entriesFromApi, entriesFromInventory, nameConflicts } from "../generate/sources";
import { InventoryError, parseNodesFile, someOf } from "../inventory/nodes-file";
import { readData } from "../io/input";
import { log } from "../log";
import { bmcCredentials } from "./bmc-credentials";
import { act, collect, type DataOptions, examples, type Run } from "./define";
import { parseInteger } from "./payload";

/**
 * `ochami generate hosts|powerman|conman` (ours): the /etc/hosts lines, powerman.conf and
 * conman.conf the seed writes by hand, from a nodes file (-d) or from the live inventory.
 */
export function generateCommand(): Command {
  const generate = new Command("generate").description("write /etc/hosts lines, powerman.conf and conman.conf from the inventory");
  examples(generate, [
    "ochami generate hosts --update /etc/hosts",
    "ochami generate powerman -o /etc/powerman/powerman.conf",
    "ochami generate conman -d @nodes.yaml",
  ]);

  const source = (cmd: Command) =>
    cmd
      .option("-d, --data <nodes>", "read the nodes file (@nodes.yaml) instead of asking the API")
      .option("-f, --format-input <format>", "format of -d: json or yaml")
      .option(
        "--short-name <name>",
        "node names <short-name><NID> (default: from the cloud-init defaults; nid for a nodes file without names)",
      )
      .option("--nid-length <digits>", "NID digits in node names")
      .option("--network <name>", "prefer node IPs on this network");
  const outputOpt = (cmd: Command) =>
    cmd.option("-o, --output <file>", "write to this file (mode 0600 when it holds BMC passwords) instead of standard output");
  const credentialOpts = (cmd: Command) =>
    cmd
      .option("--credentials-file <file>", "BMC credentials, first line user:password (else $OCHAMI_BMC_CREDENTIALS or $rf_pass)")
      .option("--user <user>", "BMC user, with the password in $OCHAMI_BMC_PASSWORD")
      .option("--cipher-suite <n>", "IPMI cipher suite", "17");

  const hosts = act<SourceOptions & OutputFileOptions & { domain?: string; add?: string[]; update?: string }>(
    outputOpt(
      source(
        new Command("hosts")
          .description("/etc/hosts lines for nodes and BMCs, between BEGIN/END marker comments")
          .option("--domain <domain>", "also name each host <name>.<domain>")
          .option("--add <ip=name>", "an extra line, e.g. 172.16.0.254=demo.openchami.cluster (repeatable)", collect)
          .option("--update <file>", "replace the marked block in this file (e.g. /etc/hosts), or append it"),
      ),
    ),
    async (run) => {
      const entries = await entriesOf(run);
      const extra = (run.opts.add ?? []).map((a): [string, string] => {
        const i = a.indexOf("=");
        if (i <= 0) throw new UsageError(`--add '${a}' is not ip=name`);
        return [a.slice(0, i), a.slice(i + 1)];
      });
      const block = renderHosts(entries, { domain: run.opts.domain, extra });
      if (run.opts.update) {
        const file = expandPath(run.opts.update);
        const current = existsSync(file) ? readFileSync(file, "utf8") : "";
        writeAtomic(file, updateHostsFile(current, block), existsSync(file) ? statSync(file).mode & 0o777 : 0o644);
        process.stderr.write(`${file}: ${entries.length} nodes written between the ochami markers\n`);
        return;
      }
      emit(run, block, 0o644);
    },
  );
  examples(hosts, [
    "ochami generate hosts",
    "ochami generate hosts --add 172.16.0.254=demo.openchami.cluster --update /etc/hosts",
    "ochami generate hosts -d @nodes.yaml --domain openchami.cluster",
  ]);

  const powerman = act<SourceOptions & OutputFileOptions & CredentialOptions & { driver: "ipmi" | "redfish"; redfishSpec: string }>(
    outputOpt(
      credentialOpts(
        source(
          new Command("powerman")
            .description("powerman.conf: one IPMI (ipmipower) or Redfish (redfishpower) device for all BMCs, and the nodes on it")
            .addOption(new Option("--driver <driver>", "ipmi (the seed's) or redfish").choices(["ipmi", "redfish"]).default("ipmi"))
            .option(
              "--redfish-spec <name>",
              "with --driver redfish: the powerman device specification (its .dev file holds the login)",
              "redfishpower-supermicro",
            ),
        ),
      ),
    ),
    async (run) => {
      const entries = await entriesOf(run);
      const o = run.opts;
      const login = o.driver === "ipmi" ? bmcCredentials({ user: o.user, credentialsFile: o.credentialsFile }, run.ctx.env) : undefined;
      if (login) {
        const bad = checkLogin(login, "powerman");
        if (bad) throw new UsageError(bad);
      }
      warnWithoutBmc(entries);
      const text = renderPowerman(entries, login, {
        driver: o.driver,
        cipherSuite: parseInteger(o.cipherSuite, "--cipher-suite"),
        redfishSpec: o.redfishSpec,
      });
      emit(run, text, login ? 0o600 : 0o644);
    },
  );
  examples(powerman, [
    "OCHAMI_BMC_CREDENTIALS='admin:Password123!' ochami generate powerman -o /etc/powerman/powerman.conf",
    "ochami generate powerman -d @nodes.yaml --credentials-file ~/.bmc",
    "ochami generate powerman --driver redfish --redfish-spec redfishpower-supermicro",
  ]);

  const conman = act<SourceOptions & OutputFileOptions & CredentialOptions & { logdir: string }>(
    outputOpt(
      credentialOpts(
        source(
          new Command("conman")
            .description("conman.conf: serial-over-LAN consoles of the nodes through their BMCs")
            .option("--logdir <dir>", "console log directory", "/var/log/conman"),
        ),
      ),
    ),
    async (run) => {
      const entries = await entriesOf(run);
      const o = run.opts;
      const login = bmcCredentials({ user: o.user, credentialsFile: o.credentialsFile }, run.ctx.env);
      const bad = checkLogin(login, "conman");
      if (bad) throw new UsageError(bad);
      warnWithoutBmc(entries);
      emit(run, renderConman(entries, login, { cipherSuite: parseInteger(o.cipherSuite, "--cipher-suite"), logdir: o.logdir }), 0o600);
    },
  );
  examples(conman, [
    "OCHAMI_BMC_CREDENTIALS='admin:Password123!' ochami generate conman -o /etc/conman.conf",
    "ochami generate conman -d @nodes.yaml --credentials-file ~/.bmc",
  ]);

  return generate.addCommand(hosts).addCommand(powerman).addCommand(conman);
}

/** The options `source` adds: where the inventory comes from, and how nodes are named. */
interface SourceOptions extends DataOptions {
  shortName?: string;
  nidLength?: string;
  network?: string;
}

/** -o (outputOpt). */
interface OutputFileOptions {
  output?: string;
}

/** The options `credentialOpts` adds (the cipher suite has a default). */
interface CredentialOptions {
  credentialsFile?: string;
  user?: string;
  cipherSuite: string;
}

async function entriesOf(run: Run<SourceOptions>): Promise<HostEntry[]> {
  const o = run.opts;
  const naming = { shortName: o.shortName, nidLength: o.nidLength !== undefined ? parseInteger(o.nidLength, "--nid-length") : undefined };
  // Only -d reads a file: without it the inventory comes from the API (standard input is not read).
  const file =
    o.data !== undefined ? readData({ data: o.data, format: o.formatInput }, run.ctx.inputFormat(), "the nodes file") : undefined;
  let entries: HostEntry[];
  if (file) {
    try {
      entries = entriesFromInventory(parseNodesFile(file.value), naming);
    } catch (err) {
      if (err instanceof InventoryError) throw new UsageError(`${file.from}: ${err.message}`);
      throw err;
    }
  } else {
    entries = await entriesFromApi(run.ctx.api(), naming, o.network);
  }
  if (!entries.length) log.warn("the inventory has no nodes");
  // Refused, as the nodes file refuses duplicate NIDs and names: the files would be wrong.
  const conflicts = nameConflicts(entries);
  if (conflicts.length) {
    const fix = file
      ? "give the nodes distinct names in the nodes file"
      : "give the nodes distinct NIDs (ochami smd component update --nid <nid> <xname>) or names (cloud-init instance-info local-hostname)";
    throw new CliError(
      `${conflicts.length === 1 ? "a host name is" : `${conflicts.length} host names are`} given to more than one host: ` +
        `${someOf(conflicts, 5)}; nothing written: ${fix}`,
      file ? EXIT.USAGE : EXIT.REQUEST,
    );
  }
  return entries;
}

function warnWithoutBmc(entries: HostEntry[]) {
  const without = entries.filter((e) => !e.bmc).map((e) => e.node);
  if (without.length) log.warn(`no BMC known for ${without.join(", ")}: left out`);
}

function emit(run: Run<OutputFileOptions>, text: string, mode: number) {
  if (run.opts.output) {
    const file = expandPath(run.opts.output);
    writeAtomic(file, text, mode);
    process.stderr.write(`wrote ${file}\n`);
  } else process.stdout.write(text);
}
