import type { BootConfig, BootNode, Candidate, MatchKind } from "./types";

/**
 * The boot path's rules, written once: both readers (D1 and the snapshot) gather the facts and
 * these pure functions decide.
 */

const RANK: Record<MatchKind, number> = { xname: 1, mac: 2, nid: 3, role: 4, default: 5 };

/**
 * Which boot-parameters entry a node boots, among the entries that name it: its xname; the MAC
 * it is booting with, then its other MACs (lowest MAC first); its NID; its SMD role; `Default`.
 * `candidates` may hold entries of other nodes' keys too: only those that match `node` count.
 */
export function chooseBootConfig(
  node: Pick<BootNode, "id" | "nid" | "role" | "macs">,
  bootingMac: string,
  candidates: readonly Candidate[],
): { matchedBy: MatchKind; config: BootConfig } | undefined {
  let best: Candidate | undefined;
  const better = (c: Candidate) => {
    if (!best || RANK[c.kind] !== RANK[best.kind]) return !best || RANK[c.kind] < RANK[best.kind];
    // Two MAC entries of one node: the booting MAC wins, then the lower MAC.
    if (c.kind !== "mac" || best.key === bootingMac) return false;
    return c.key === bootingMac || c.key < best.key;
  };
  for (const c of candidates) if (appliesTo(c, node) && better(c)) best = c;
  return best && { matchedBy: best.kind, config: best.config };
}

function appliesTo(c: Candidate, node: Pick<BootNode, "id" | "nid" | "role" | "macs">): boolean {
  switch (c.kind) {
    case "xname":
      return c.key === node.id;
    case "mac":
      return node.macs.includes(c.key);
    case "nid":
      return node.nid >= 0 && c.key === String(node.nid);
    case "role":
      return c.key === node.role;
    case "default":
      return true;
  }
}

/**
 * The component an address or a NID names when several hold it (SMD allows duplicates): the
 * lowest ID, compared by code unit, so every reader and every run picks the same node.
 */
export function takesPrecedence(id: string, held: string | undefined): boolean {
  return held === undefined || id < held;
}

/** The row of the component that takes precedence (see takesPrecedence). */
export function withLowestId<T extends { id: string }>(rows: readonly T[]): T | undefined {
  let best: T | undefined;
  for (const r of rows) if (takesPrecedence(r.id, best?.id)) best = r;
  return best;
}
