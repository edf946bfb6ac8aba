import { bootLookupQuery } from "../boot/d1";
import { chooseBootConfig, withLowestId } from "../boot/precedence";
import type { BootConfig, BootKey, Candidate, MatchKind, Resolution } from "../boot/types";
import { decideBootscript, kernelCommandLine } from "../bss/bootscript/script";
import { type Config, nodeBaseUrl } from "../config";
import type { Db } from "../db";

/**
 * Why a node boots what it boots, for the dashboard's node view: every boot-parameters entry that
 * names it, in the order of precedence, the one that wins and by which key, and the script
 * GET /bootscript would answer it now. Read from D1 with the boot path's own query and rules
 * (workers/boot), and never recorded: asking /bootscript itself would add a step to the node's
 * boot history.
 */
export interface BootExplanation {
  node: { id: string; nid: number; role: string; enabled: boolean; macs: string[] } | null;
  /** The key the answer is for: the MAC the node boots from (the one DHCP hands iPXE), else its xname. */
  asked: { mac: string } | { name: string };
  /** Every entry that applies, most specific first; `wins` marks the one the node boots. */
  candidates: Array<{ kind: MatchKind; key: string; wins: boolean } & BootConfig>;
  matched_by: MatchKind | null;
  /** The kernel command line the script carries (the entry's params, then xname=, nid=, ds=). */
  command_line: string;
  /** The iPXE script, or the retry script a node with nothing to boot gets first. */
  script: string;
  /** Why it gets no kernel (a node with nothing to boot), else "". */
  reason: string;
}

const RANK: Record<MatchKind, number> = { xname: 1, mac: 2, nid: 3, role: 4, default: 5 };

interface BootRow {
  id: string;
  nid: number;
  role: string;
  enabled: number;
  macs: string;
  candidates: string;
}

export async function explainBoot(db: Db, config: Config, requestUrl: string, xname: string, mac?: string): Promise<BootExplanation> {
  const byName = withLowestId(await db.all<BootRow>(bootLookupQuery({ name: xname })));
  const macs = byName ? (JSON.parse(byName.macs) as string[]) : [];
  const bootingMac = mac ?? macs[0];
  const key: BootKey = bootingMac ? { mac: bootingMac } : { name: xname };
  const node = byName
    ? {
        id: byName.id,
        nid: byName.nid,
        role: byName.role,
        enabled: Boolean(byName.enabled),
        macs,
      }
    : null;
  const candidates = byName
    ? (JSON.parse(byName.candidates) as Array<[MatchKind, string, string, string, string]>).map(
        ([kind, key, kernel, initrd, params]): Candidate => ({ kind, key, config: { kernel, initrd, params } }),
      )
    : [];
  const chosen = node ? chooseBootConfig(node, bootingMac ?? "", candidates) : undefined;
  const winner = chosen && candidates.find((c) => c.config === chosen.config && c.kind === chosen.matchedBy);
  // A MAC the node does not hold boots nothing of it: answer as /bootscript?mac= would.
  const macHeld = !("mac" in key) || macs.includes(key.mac);
  const resolution: Resolution = node && macHeld ? { component: node, config: chosen?.config, matchedBy: chosen?.matchedBy } : {};
  const base = nodeBaseUrl(config, requestUrl);
  const settings = {
    chainUrl: `${base}/boot/v1/bootscript`,
    cloudInitUrl: `${base}/cloud-init/`,
    retryDelay: config.retryDelay,
    unknownDelay: config.unknownDelay,
  };
  const outcome = decideBootscript({ key, retry: 0, arch: "", ts: Math.floor(Date.now() / 1000), json: false }, resolution, settings);
  // It boots the winner only when /bootscript would hand it a kernel (whatever the reason it would not).
  const booting = outcome.kind === "script" && !outcome.note.startsWith("retry: ");
  return {
    node,
    asked: key,
    candidates: candidates
      .toSorted((a, b) => RANK[a.kind] - RANK[b.kind] || a.key.localeCompare(b.key))
      .map((c) => ({ kind: c.kind, key: c.key, ...c.config, wins: booting && c === winner })),
    matched_by: booting ? (chosen?.matchedBy ?? null) : null,
    command_line: booting && node ? kernelCommandLine(resolution.config!, { xname: node.id, nid: node.nid }, settings.cloudInitUrl) : "",
    script: outcome.kind === "script" ? outcome.body : "",
    reason: outcome.note.startsWith("retry: ") ? outcome.note.slice("retry: ".length) : "",
  };
}
