import { existsSync } from "node:fs";
import { Command, Option } from "commander";
import { type Document, isMap } from "yaml";
import { addCluster, clusterIndex, editConfigFile, readConfigFile, systemConfigPath, userConfigPath } from "../config/files";
import { CLUSTER_KEYS, type Config, GLOBAL_KEYS, getPath, parseValue } from "../config/schema";
import type { GlobalOptions } from "../context";
import { UsageError } from "../errors";
import { outputFormat, print } from "../io/output";
import { log } from "../log";
import { act, examples, type NoOptions, type OutputOptions, type Run } from "./define";
import { trustCaCommand } from "./trust-ca";

/** `config show -f`: upstream's long spelling is --format, ours --format-output (both accepted). */
interface ShowOptions extends OutputOptions {
  format?: string;
}

function formatSpelling(): Option {
  return new Option("--format <format>", "upstream's spelling of --format-output").hideHelp();
}

/**
 * `ochami config`: show and edit the configuration files (upstream's ochami-config(1)).
 * Reads show the merged configuration unless a file is named (--system, --user, --config);
 * writes go to the user file unless --system or --config says otherwise.
 */
export function configCommand(): Command {
  const config = new Command("config")
    .description("show and edit the ochami configuration (clusters, defaults)")
    .addOption(new Option("--system", "use the system-wide file (/etc/ochami/config.yaml)").conflicts("user"))
    .addOption(new Option("--user", "use the user's file (~/.config/ochami/config.yaml; the default for writes)"));
  examples(config, [
    "ochami config cluster set --default demo cluster.uri https://demo.openchami.cluster:8443",
    "ochami config show",
    "ochami --config ./ochami.yaml config set log.level info",
  ]);

  const show = act<ShowOptions, [key: string | undefined]>(
    new Command("show")
      .description("print the configuration in effect (or of one file), or one key of it")
      .argument("[key]", "dotted key, e.g. default-cluster or log.level")
      .option("-f, --format-output <format>", "yaml (default), json or json-pretty")
      .addOption(formatSpelling()),
    async (run) => {
      const { cfg } = readForShow(run);
      const key = run.args[0];
      const value = key ? getPath(cfg, key) : cfg;
      if (key && value === undefined) throw new UsageError(`'${key}' is not set`);
      print(value, outputFormat(run.opts.format ?? run.opts.formatOutput ?? "yaml", undefined));
    },
  );
  examples(show, ["ochami config show", "ochami config show default-cluster", "ochami config --system show -f json"]);

  const set = act<NoOptions, [key: string, value: string]>(
    new Command("set").description("set a top-level key").argument("<key>", Object.keys(GLOBAL_KEYS).join(", ")).argument("<value>"),
    async (run) => {
      const [key, raw] = run.args;
      const type = GLOBAL_KEYS[key];
      if (!type)
        throw new UsageError(
          `unknown key '${key}'; known: ${Object.keys(GLOBAL_KEYS).join(", ")} (cluster keys: ochami config cluster set)`,
        );
      const parsed = parseValue(type, key, raw);
      if (typeof parsed === "string") throw new UsageError(parsed);
      const file = targetFile(run);
      editConfigFile(file, (doc) => doc.setIn(key.split("."), parsed.value));
      log.info(`${file}: set ${key}`);
    },
  );
  examples(set, ["ochami config set default-cluster demo", "ochami config set log.level info", "ochami config --system set timeout 1m"]);

  const unset = act<NoOptions, [key: string]>(new Command("unset").description("remove a top-level key").argument("<key>"), async (run) => {
    const key = run.args[0];
    const file = targetFile(run);
    if (!existsSync(file)) throw new UsageError(`${file} does not exist`);
    editConfigFile(file, (doc) => {
      if (!doc.hasIn(key.split("."))) throw new UsageError(`'${key}' is not set in ${file}`);
      doc.deleteIn(key.split("."));
      pruneEmpty(doc, key.split(".").slice(0, -1));
    });
  });
  examples(unset, ["ochami config unset log.level", "ochami config --system unset default-cluster"]);

  config.addCommand(show).addCommand(set).addCommand(unset).addCommand(clusterCommand());
  return config;
}

function clusterCommand(): Command {
  const cluster = new Command("cluster").description("add, change and remove cluster entries");
  examples(cluster, [
    "ochami config cluster set --default demo cluster.uri https://demo.openchami.cluster:8443",
    "ochami config cluster show demo",
    "ochami config cluster delete old",
    "ochami config cluster trust-ca demo --fingerprint <SHA-256 printed by npm start>",
  ]);

  const set = act<{ default?: boolean }, [name: string, key: string, value: string]>(
    new Command("set")
      .description("add a cluster or set one of its keys (the first cluster added becomes the default)")
      .option("-d, --default", "also make it the default cluster")
      .argument("<name>", "cluster name (its token variable is <NAME>_ACCESS_TOKEN)")
      .argument("<key>", "e.g. cluster.uri, cluster.enable-auth, cluster.smd.uri, cluster.cacert, name")
      .argument("<value>"),
    async (run) => {
      const [name, key, raw] = run.args;
      const type = CLUSTER_KEYS[key];
      if (!type) throw new UsageError(`unknown cluster key '${key}'; known: ${Object.keys(CLUSTER_KEYS).join(", ")}`);
      const parsed = parseValue(type, key, raw);
      if (typeof parsed === "string") throw new UsageError(parsed);
      editConfigFile(targetFile(run), (doc) => {
        let i = clusterIndex(doc, name);
        if (i < 0) {
          i = addCluster(doc, name);
          if (!doc.get("default-cluster") && !run.opts.default) doc.set("default-cluster", name);
        }
        if (key === "name") {
          const renamed = String(parsed.value);
          if (renamed !== name && clusterIndex(doc, renamed) >= 0) throw new UsageError(`a cluster named '${renamed}' exists already`);
          doc.setIn(["clusters", i, "name"], renamed);
          if (doc.get("default-cluster") === name) doc.set("default-cluster", renamed);
        } else {
          doc.setIn(["clusters", i, ...key.split(".")], parsed.value);
        }
        if (run.opts.default) doc.set("default-cluster", key === "name" ? String(parsed.value) : name);
      });
    },
  );
  examples(set, [
    "ochami config cluster set --default demo cluster.uri https://demo.openchami.cluster:8443",
    "ochami config cluster set demo cluster.smd.uri /hsm/v2",
    "ochami config cluster set demo cluster.enable-auth false",
    "ochami config cluster set demo cluster.cacert /etc/pki/ca-trust/source/anchors/ochami.pem",
    "ochami config cluster set demo name production",
  ]);

  const show = act<ShowOptions, [name: string | undefined, key: string | undefined]>(
    new Command("show")
      .description("print all cluster entries, one cluster, or one key of it")
      .argument("[name]")
      .argument("[key]", "e.g. cluster.uri")
      .option("-f, --format-output <format>", "yaml (default), json or json-pretty")
      .addOption(formatSpelling()),
    async (run) => {
      const [name, key] = run.args;
      const { cfg } = readForShow(run);
      const clusters = cfg.clusters ?? [];
      let value: unknown = clusters;
      if (name) {
        const entry = clusters.find((c) => c.name === name);
        if (!entry) throw new UsageError(`no cluster named '${name}'`);
        value = key ? getPath(entry, key) : entry;
        if (key && value === undefined) throw new UsageError(`'${key}' is not set for cluster ${name}`);
      }
      print(value, outputFormat(run.opts.format ?? run.opts.formatOutput ?? "yaml", undefined));
    },
  );
  examples(show, ["ochami config cluster show", "ochami config cluster show demo", "ochami config cluster show demo cluster.uri"]);

  const unset = act<NoOptions, [name: string, key: string]>(
    new Command("unset").description("remove one key of a cluster").argument("<name>").argument("<key>"),
    async (run) => {
      const [name, key] = run.args;
      if (key === "name") throw new UsageError("a cluster needs a name; use `ochami config cluster delete` to remove it");
      editConfigFile(targetFile(run), (doc) => {
        const i = clusterIndex(doc, name);
        if (i < 0) throw new UsageError(`no cluster named '${name}' in ${targetFile(run)}`);
        const p = ["clusters", i, ...key.split(".")];
        if (!doc.hasIn(p)) throw new UsageError(`'${key}' is not set for cluster ${name}`);
        doc.deleteIn(p);
        pruneEmpty(doc, p.slice(0, -1));
      });
    },
  );
  examples(unset, ["ochami config cluster unset demo cluster.smd.uri"]);

  const del = act<NoOptions, [name: string]>(
    new Command("delete").description("remove a cluster entry").argument("<name>"),
    async (run) => {
      const name = run.args[0];
      const file = targetFile(run);
      editConfigFile(file, (doc) => {
        const i = clusterIndex(doc, name);
        if (i < 0) throw new UsageError(`no cluster named '${name}' in ${file}`);
        doc.deleteIn(["clusters", i]);
        if (doc.get("default-cluster") === name) {
          doc.delete("default-cluster");
          log.warn(`${name} was the default cluster; set another with \`ochami config set default-cluster <name>\``);
        }
      });
    },
  );
  examples(del, ["ochami config cluster delete old-cluster"]);

  return cluster.addCommand(set).addCommand(show).addCommand(unset).addCommand(del).addCommand(trustCaCommand(targetFile));
}

/** `config --system` and `config --user`: which file to read or write. */
interface FileOptions {
  system?: boolean;
  user?: boolean;
}

/** The file a write goes to: --config, --system, else the user's file. */
function targetFile(run: Run): string {
  const o = run.cmd.optsWithGlobals<GlobalOptions & FileOptions>();
  if (o.config) return o.config;
  return o.system ? systemConfigPath(run.ctx.env) : userConfigPath(run.ctx.env);
}

/** What `show` prints: one named file as written, else the merged configuration. */
function readForShow(run: Run): { cfg: Config } {
  const o = run.cmd.optsWithGlobals<GlobalOptions & FileOptions>();
  if (o.system || o.user) {
    const file = o.system ? systemConfigPath(run.ctx.env) : userConfigPath(run.ctx.env);
    return { cfg: existsSync(file) ? readConfigFile(file) : {} };
  }
  return { cfg: run.ctx.config };
}

/** Drops maps left empty by an unset (`log: {}`), up the path. */
function pruneEmpty(doc: Document, path: Array<string | number>) {
  for (let p = path; p.length; p = p.slice(0, -1)) {
    const node = doc.getIn(p);
    if (isMap(node) && node.items.length === 0) doc.deleteIn(p);
    else break;
  }
}
