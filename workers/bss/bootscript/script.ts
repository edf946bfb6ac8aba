import type { BootConfig, BootKey, Resolution } from "../../boot/types";
import { describeIpxeSyntax, ipxeSyntaxInParams, ipxeSyntaxInUrl } from "../params/ipxe-syntax";

/**
 * The /bootscript answer as a pure function of the request, what the lookup found and the
 * settings: iPXE script text in upstream BSS's line format, the `json=1` form, or a 404.
 * No I/O, so every branch is testable without HTTP or a database.
 */

export interface ScriptSettings {
  /** Absolute URL of this bootscript endpoint as nodes reach it (`<node base>/boot/v1/bootscript`). */
  chainUrl: string;
  /** The NoCloud seed URL put in `ds=` (`<node base>/cloud-init/`). */
  cloudInitUrl: string;
  /** Seconds to sleep before re-chaining after a failed kernel/initrd/boot. */
  retryDelay: number;
  /** Seconds an unknown node sleeps before its one retry. */
  unknownDelay: number;
}

export interface BootRequest {
  key: BootKey;
  retry: number;
  /** iPXE `${buildarch}` when the request carries it; "" on the first round. */
  arch: string;
  /** Unix seconds, echoed into the unknown-node chain URL. */
  ts: number;
  json: boolean;
}

export type Outcome =
  | { kind: "script"; body: string; note: string }
  | { kind: "json"; body: BootJson; note: string }
  | { kind: "problem"; status: 404; detail: string; note: string };

export interface BootJson {
  params: string;
  kernel: { path: string };
  initrd: { path: string };
}

/**
 * The kernel command line, in upstream's order: the stored params, then `xname=`, `nid=` and the
 * NoCloud `ds=` seed, each only when no token with that prefix is present already; with an initrd,
 * `initrd=initrd` goes first and any `initrd=…` token of the params is dropped (iPXE names the
 * image `initrd`). Tokens are joined by one space: upstream's double spaces (empty params, a
 * removed `initrd=`) are not reproduced, and its raw substring search for "initrd" (which also hit
 * `rd.initrd…` and crashed on a last token) is replaced by a token match.
 */
export function kernelCommandLine(config: BootConfig, node: { xname: string; nid: number }, cloudInitUrl: string): string {
  const { params, has } = factsOf(config);
  let line = params;
  // A token appended here (xname=, nid=, ds=) never has a prefix a later step looks for, so the
  // stored params alone decide each step.
  if (node.xname !== "" && !has.xname) line += ` xname=${node.xname}`;
  if (node.nid >= 0 && !has.nid) line += ` nid=${node.nid}`;
  if (!has.ds) line += ` ds=nocloud;s=${cloudInitUrl}`;
  const text = line.trim();
  if (!config.initrd) return text;
  return text === "" ? "initrd=initrd" : `initrd=initrd ${text}`;
}

/** Upstream's script for a node that has something to boot; ends in an empty line, as upstream's. */
export function bootScript(config: BootConfig, commandLine: string, chain: string, retryDelay: number): string {
  const kernel = ["kernel --name kernel", config.kernel, commandLine, "|| goto boot_retry"].filter((s) => s !== "").join(" ");
  return (
    "#!ipxe\n" +
    `${kernel}\n` +
    (config.initrd ? `initrd --name initrd ${config.initrd} || goto boot_retry\n` : "") +
    "boot || goto boot_retry\n" +
    ":boot_retry\n" +
    `sleep ${retryDelay}\n` +
    `chain ${chain}\n` +
    "\n"
  );
}

/** The first-round answer for a node with nothing to boot: wait, then ask again with the architecture. */
export function retryScript(chain: string, delay: number): string {
  return `#!ipxe\nsleep ${delay}\nchain ${chain}\n\n`;
}

/** `mac=` (the booting MAC, else the node's first), else `name=`, else `nid=`: how the chain asks again. */
function chainIdentity(req: BootRequest, res: Resolution): string {
  const mac = "mac" in req.key ? req.key.mac : res.component?.macs[0];
  if (mac) return `mac=${mac}`;
  const name = "name" in req.key ? req.key.name : res.component?.id;
  if (name) return `name=${name}`;
  return `nid=${"nid" in req.key ? req.key.nid : res.component!.nid}`;
}

/** Upstream's description of the requester: `MAC m (x…)`, `x…`, `NID n (x…)`. */
export function describeRequester(key: BootKey, xname?: string): string {
  if ("mac" in key) return `MAC ${key.mac}${xname ? ` (${xname})` : ""}`;
  if ("name" in key) return key.name;
  return `NID ${key.nid}${xname ? ` (${xname})` : ""}`;
}

/** Why a node gets no kernel, in words an admin can act on; undefined when it can boot. */
function whyNotBooting(req: BootRequest, res: Resolution): string | undefined {
  const node = res.component;
  if (!node) {
    if ("mac" in req.key) return "no Node in SMD has this MAC (add the node and its EthernetInterface to SMD)";
    if ("name" in req.key) return "SMD has no Node component with this xname";
    return "no Node in SMD has this NID";
  }
  if (!node.enabled) return "the node is disabled in SMD (Enabled is false)";
  if (!res.config)
    return `this host not configured for booting: no boot parameters for its xname, MACs, NID${node.role ? `, role ${node.role}` : ""} or Default`;
  // Writes refuse these since the check exists; an entry stored before (or by SQL) is not rendered.
  const syntax = factsOf(res.config).unsafe;
  if (syntax) return `its boot parameters are not rendered: ${syntax} (set them again)`;
  return undefined;
}

/**
 * What the script needs of a config, worked out once per config object: the snapshot's configs
 * are shared by every node that boots them and never change, so a node's answer only puts its own
 * tokens in. (The D1 reader's configs are new on each read, and worked out each time.)
 */
interface ConfigFacts {
  /** Why the config cannot go on an iPXE line as it is (the rule of writes, params/ipxe-syntax.ts), or undefined. */
  unsafe: string | undefined;
  /** The stored params split on single spaces, without `initrd=` tokens when there is an initrd, joined again. */
  params: string;
  /** Upstream's paramExists, per prefix: some token of the params starts with it. */
  has: { xname: boolean; nid: boolean; ds: boolean };
}

const facts = new WeakMap<BootConfig, ConfigFacts>();

function factsOf(config: BootConfig): ConfigFacts {
  let known = facts.get(config);
  if (known === undefined) {
    const params = config.params.trim();
    const tokens = params === "" ? [] : params.split(" ");
    const has = (prefix: string) => tokens.some((t) => t.startsWith(prefix));
    known = {
      unsafe: unsafeFieldNow(config),
      params: (config.initrd ? tokens.filter((t) => !t.startsWith("initrd=")) : tokens).join(" "),
      has: { xname: has("xname="), nid: has("nid="), ds: has("ds=") },
    };
    facts.set(config, known);
  }
  return known;
}

function unsafeFieldNow(config: BootConfig): string | undefined {
  for (const [field, found] of [
    ["kernel", ipxeSyntaxInUrl(config.kernel)],
    ["initrd", ipxeSyntaxInUrl(config.initrd)],
    ["params", ipxeSyntaxInParams(config.params)],
  ] as const)
    if (found.length) return describeIpxeSyntax(field, found);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses.
  if (/[\u0000-\u001f\u007f]/.test(config.params) || /[\s\u0000-\u001f\u007f]/.test(config.kernel + config.initrd))
    return "kernel, initrd or params contains a line break or control character";
  return undefined;
}

export function decideBootscript(req: BootRequest, res: Resolution, s: ScriptSettings): Outcome {
  const node = res.component;
  const descr = describeRequester(req.key, node?.id);
  const why = whyNotBooting(req, res);
  if (why !== undefined) {
    const who = `${node ? "" : "Unknown "}${descr}${req.arch ? ` architecture ${req.arch}` : ""}`;
    // iPXE gets one more round (the node may be being added right now); a client that is not
    // iPXE, or the second round, gets the reason.
    if (!req.json && req.arch === "") {
      const chain = `${s.chainUrl}?${chainIdentity(req, res)}&arch=\${buildarch}&ts=${req.ts}`;
      return { kind: "script", body: retryScript(chain, s.unknownDelay), note: `retry: ${why}` };
    }
    return { kind: "problem", status: 404, detail: `${who}: ${why}`, note: `404: ${why}` };
  }
  const config = res.config!;
  const line = kernelCommandLine(config, { xname: node!.id, nid: node!.nid }, s.cloudInitUrl);
  const note = `${config.kernel} (matched by ${res.matchedBy}${res.matchedBy === "role" ? ` ${node!.role}` : ""}; retry ${req.retry})`;
  if (req.json) {
    return {
      kind: "json",
      body: { params: `kernel ${line}`, kernel: { path: config.kernel }, initrd: { path: config.initrd } },
      note,
    };
  }
  const chain = `${s.chainUrl}?${chainIdentity(req, res)}&retry=${Math.max(0, req.retry) + 1}`;
  return { kind: "script", body: bootScript(config, line, chain, s.retryDelay), note };
}
