import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Document, isMap, isSeq, parse, parseDocument, visit } from "yaml";
import { UsageError } from "../errors";
import { type Config, mergeConfigs, validateConfig } from "./schema";

/**
 * Where configuration lives, as upstream: `/etc/ochami/config.yaml` (system, --system), then
 * `~/.config/ochami/config.yaml` (user, the default for writes; $XDG_CONFIG_HOME is honoured);
 * both are read and merged, the user's winning. `OCHAMI_SYSTEM_CONFIG` moves the system file
 * (containers, packaging, tests).
 */
export function systemConfigPath(env = process.env): string {
  return env.OCHAMI_SYSTEM_CONFIG || "/etc/ochami/config.yaml";
}

export function userConfigDir(env = process.env): string {
  return path.join(env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), ".config"), "ochami");
}

export function userConfigPath(env = process.env): string {
  return path.join(userConfigDir(env), "config.yaml");
}

export function cacheDir(env = process.env): string {
  return path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), ".cache"), "ochami");
}

/** `~/x` → home-relative; other relative paths are relative to `base` (the config file's directory). */
export function expandPath(p: string, base?: string, env = process.env): string {
  if (p === "~" || p.startsWith("~/")) return path.join(env.HOME || os.homedir(), p.slice(1));
  return base ? path.resolve(base, p) : path.resolve(p);
}

export interface LoadedConfig {
  config: Config;
  /** Files read, in merge order. */
  files: string[];
}

export function readConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let cfg: unknown;
  try {
    cfg = parse(text) ?? {};
  } catch (err) {
    throw new UsageError(`config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  const problems = validateConfig(cfg, file);
  if (problems.length) throw new UsageError(problems.join("\n"));
  return cfg as Config;
}

/** The configuration in effect: `--config FILE` alone, or the system file merged with the user file. */
export function loadConfig(opts: { configFile?: string; ignore?: boolean }, env = process.env): LoadedConfig {
  if (opts.ignore) return { config: {}, files: [] };
  if (opts.configFile) return { config: readConfigFile(opts.configFile), files: [opts.configFile] };
  let config: Config = {};
  const files: string[] = [];
  for (const file of [systemConfigPath(env), userConfigPath(env)]) {
    if (!existsSync(file)) continue;
    config = mergeConfigs(config, readConfigFile(file));
    files.push(file);
  }
  return { config, files };
}

/**
 * Edits one file through the YAML document model, so comments and key order survive
 * `ochami config set`; creates the file (and its directory) when missing. Written atomically, in
 * block style as upstream's ochami writes it (`clusters:` then `- name: demo` on lines of their
 * own); a file whose whole mapping is in flow style (`{ clusters: [ … ] }`, as earlier versions
 * of this CLI wrote it) is turned into block style, while flow collections inside a block file
 * (`smd: { uri: /hsm/v2 }`, written by hand) stay as they are.
 */
export function editConfigFile(file: string, edit: (doc: Document) => void): void {
  let doc: Document;
  if (existsSync(file)) {
    doc = parseDocument(readFileSync(file, "utf8"));
    if (doc.errors.length) throw new UsageError(`config file ${file} is not valid YAML: ${doc.errors[0].message}`);
    if (doc.contents !== null && !isMap(doc.contents)) throw new UsageError(`config file ${file} must hold a YAML mapping`);
  } else {
    doc = new Document({});
  }
  if (doc.contents === null) doc.contents = doc.createNode({});
  if (isMap(doc.contents) && doc.contents.flow)
    visit(doc, {
      Map: (_, node) => {
        node.flow = false;
      },
      Seq: (_, node) => {
        node.flow = false;
      },
    });
  edit(doc);
  const problems = validateConfig(doc.toJS(), file);
  if (problems.length) throw new UsageError(problems.join("\n"));
  writeAtomic(file, String(doc).replace(/^\{\}\n$/, ""), existsSync(file) ? statSync(file).mode & 0o777 : 0o644);
}

export function writeAtomic(file: string, text: string, mode: number): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

/**
 * Appends the entry `{name, cluster: {}}` to the document's `clusters` list (made when there is
 * none: a file read and validated has a list there, or nothing); returns its index.
 */
export function addCluster(doc: Document, name: string): number {
  const found = doc.get("clusters");
  const clusters = isSeq(found) ? found : doc.createNode<unknown[]>([]);
  if (clusters !== found) doc.set("clusters", clusters);
  clusters.add(doc.createNode({ name, cluster: {} }));
  return clusterIndex(doc, name);
}

/** Index of the cluster entry named `name` in the document's `clusters` list, or -1. */
export function clusterIndex(doc: Document, name: string): number {
  const seq = doc.get("clusters");
  if (!isSeq(seq)) return -1;
  return seq.items.findIndex((item) => isMap(item) && item.get("name") === name);
}
