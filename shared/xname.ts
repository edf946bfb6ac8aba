/**
 * HMS component names (xnames): normalisation, validation and type derivation, as hms-xname
 * v1.4.0 does it (its regex table, type by type). Types are always derived from the name;
 * a client's own `Type` field is never trusted.
 */

/** [type, regex applied to the normalised lower-case id]. Order matters only for documentation. */
const XNAME_TYPES: ReadonlyArray<readonly [string, RegExp]> = [
  ["All", /^all$/],
  ["AllSvc", /^all_svc$/],
  ["AllComp", /^all_comp$/],
  // Upstream's Partition regex has an unescaped '.', so "p1x2" is a Partition too; kept for compatibility.
  ["Partition", /^p([0-9]+)(.([0-9]+))?$/],
  ["System", /^s0$/],
  ["SMSBox", /^sms([0-9]+)$/],
  ["CDU", /^d([0-9]+)$/],
  ["CDUMgmtSwitch", /^d([0-9]+)w([0-9]+)$/],
  ["CabinetCDU", /^x([0-9]{1,4})d([0-1])$/],
  ["CabinetPDUController", /^x([0-9]{1,4})m([0-3])$/],
  ["CabinetPDU", /^x([0-9]{1,4})m([0-3])p([0-7])$/],
  ["CabinetPDUNic", /^x([0-9]{1,4})m([0-3])i([0-3])$/],
  ["CabinetPDUOutlet", /^x([0-9]{1,4})m([0-3])p([0-7])j([1-9][0-9]*)$/],
  ["CabinetPDUPowerConnector", /^x([0-9]{1,4})m([0-3])p([0-7])v([1-9][0-9]*)$/],
  ["CEC", /^x([0-9]{1,4})e([0-1])$/],
  ["Cabinet", /^x([0-9]{1,4})$/],
  ["CabinetBMC", /^x([0-9]{1,4})b([0])$/],
  ["Chassis", /^x([0-9]{1,4})c([0-7])$/],
  ["ChassisBMC", /^x([0-9]{1,4})c([0-7])b([0])$/],
  ["ChassisBMCNic", /^x([0-9]{1,4})c([0-7])b([0])i([0-3])$/],
  ["CMMFpga", /^x([0-9]{1,4})c([0-7])f([0])$/],
  ["CMMRectifier", /^x([0-9]{1,4})c([0-7])t([0-9])$/],
  ["ComputeModule", /^x([0-9]{1,4})c([0-7])s([0-9]+)$/],
  ["StorageGroup", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)g([0-9]+)$/],
  ["Drive", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)g([0-9]+)k([0-9]+)$/],
  ["NodeFpga", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)f([0])$/],
  ["NodeBMC", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)$/],
  ["NodeBMCNic", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)i([0-3])$/],
  ["NodeEnclosure", /^x([0-9]{1,4})c([0-7])s([0-9]+)e([0-9]+)$/],
  ["NodeEnclosurePowerSupply", /^x([0-9]{1,4})c([0-7])s([0-9]+)e([0-9]+)t([0-9]+)$/],
  ["NodePowerConnector", /^x([0-9]{1,4})c([0-7])s([0-9]+)[jv]([1-2])$/],
  ["HSNBoard", /^x([0-9]{1,4})c([0-7])r([0-9]+)e([0-9]+)$/],
  ["Node", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)$/],
  ["VirtualNode", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)v([0-9]+)$/],
  ["NodeNic", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)i([0-3])$/],
  ["NodeHsnNic", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)h([0-3])$/],
  ["NodeAccel", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)a([0-9]+)$/],
  ["NodeAccelRiser", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)r([0-7])$/],
  ["Memory", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)d([0-9]+)$/],
  ["Processor", /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)p([0-3])$/],
  ["RouterModule", /^x([0-9]{1,4})c([0-7])r([0-9]+)$/],
  ["RouterFpga", /^x([0-9]{1,4})c([0-7])r([0-9]+)f([01])$/],
  ["RouterTOR", /^x([0-9]{1,4})c([0-7])r([0-9]+)t([0-9]+)$/],
  ["RouterTORFpga", /^x([0-9]{1,4})c([0-7])r([0-9]+)t([0-9]+)f([0-1])$/],
  ["RouterBMC", /^x([0-9]{1,4})c([0-7])r([0-9]+)b([0-9]+)$/],
  ["RouterBMCNic", /^x([0-9]{1,4})c([0-7])r([0-9]+)b([0-9]+)i([0-3])$/],
  ["RouterPowerConnector", /^x([0-9]{1,4})c([0-7])r([0-9]+)v([1-2])$/],
  ["HSNAsic", /^x([0-9]{1,4})c([0-7])r([0-9]+)a([0-3])$/],
  ["HSNConnector", /^x([0-9]{1,4})c([0-7])r([0-9]+)j([1-9][0-9]*)$/],
  ["HSNConnectorPort", /^x([0-9]{1,4})c([0-7])r([0-9]+)j([1-9][0-9]*)p([012])$/],
  ["HSNLink", /^x([0-9]{1,4})c([0-7])r([0-9]+)a([0-3])l([0-9]+)$/],
  ["MgmtSwitch", /^x([0-9]{1,4})c([0-7])w([1-9][0-9]*)$/],
  ["MgmtSwitchConnector", /^x([0-9]{1,4})c([0-7])w([1-9][0-9]*)j([1-9][0-9]*)$/],
  ["MgmtHLSwitchEnclosure", /^x([0-9]{1,4})c([0-7])h([1-9][0-9]*)$/],
  ["MgmtHLSwitch", /^x([0-9]{1,4})c([0-7])h([1-9][0-9]*)s([1-9])$/],
];

/** Every HMS type name, as `/service/values/type` lists it (INVALID included, as upstream). */
export const HMS_TYPES: readonly string[] = ["INVALID", ...XNAME_TYPES.map(([t]) => t)];

/** Types that may own a Redfish endpoint. */
export const CONTROLLER_TYPES = new Set([
  "ChassisBMC",
  "RouterBMC",
  "NodeBMC",
  "CabinetPDUController",
  "MgmtSwitch",
  "MgmtHLSwitch",
  "CDUMgmtSwitch",
]);

/** Trim, drop leading zeros of each number, lower-case: `X0001C1S07B0N0` → `x1c1s7b0n0`. */
export function normalizeXname(raw: string): string {
  const s = raw.trim();
  if (s.length < 2) return s.toLowerCase();
  let out = "";
  let lastWasLetter = true;
  for (let i = 0; i < s.length - 1; i++) {
    const ch = s[i];
    if (ch === "0" && lastWasLetter && isDigit(s[i + 1])) continue;
    out += ch;
    lastWasLetter = !isDigit(ch);
  }
  out += s[s.length - 1];
  return out.toLowerCase();
}

/** The HMS type of a normalised xname, or undefined when it matches no pattern. */
export function xnameType(normalized: string): string | undefined {
  for (const [type, re] of XNAME_TYPES) if (re.test(normalized)) return type;
  return undefined;
}

export interface ParsedXname {
  id: string;
  type: string;
}

/** Normalises and validates; undefined when invalid. */
export function parseXname(raw: unknown): ParsedXname | undefined {
  if (typeof raw !== "string") return undefined;
  const id = normalizeXname(raw);
  const type = xnameType(id);
  return type ? { id, type } : undefined;
}

export function isValidXname(raw: unknown): boolean {
  return parseXname(raw) !== undefined;
}

/** Canonical spelling of a type name, case-insensitively (`nodebmc` → `NodeBMC`); wildcards are not types here. */
export function canonicalHmsType(raw: string): string | undefined {
  const lower = raw.trim().toLowerCase();
  return HMS_TYPES.find((t) => t.toLowerCase() === lower && !t.startsWith("All"));
}

/** Parent component: cabinets and CDUs hang off `s0`; otherwise strip the last `<letters><digits>`. */
export function xnameParent(id: string): string {
  const type = xnameType(id);
  if (type === "Cabinet" || type === "CDU") return "s0";
  return id.replace(/[0-9]+$/, "").replace(/[a-z]+$/, "");
}

/**
 * The NodeBMC a normalised xname sits under, or the xname itself when it is one: its leading
 * `x<n>c<n>s<n>b<n>` (`x1000c1s7b0n0` → `x1000c1s7b0`, `x1000c1s7b0` → itself); undefined when it
 * has no such prefix (a chassis, a switch…). Upstream's ochami derives a node's BMC the same way
 * (it reads the first four numbers of `x%dc%ds%db%d[n%d]`).
 */
export function nodeBmcOf(id: string): string | undefined {
  const prefix = /^x[0-9]+c[0-9]+s[0-9]+b[0-9]+/.exec(id)?.[0];
  return prefix !== undefined && xnameType(prefix) === "NodeBMC" ? prefix : undefined;
}

/**
 * The NID upstream invents for a Node/VirtualNode with no NID and no NodeMap entry:
 * (cabinet+1)·16384 + chassis·2048 + slot·32 + bmc·4 + node (VirtualNode uses its `v` index).
 */
export function bogusNid(id: string): number | undefined {
  const m = /^x([0-9]{1,4})c([0-7])s([0-9]+)b([0-9]+)n([0-9]+)(?:v([0-9]+))?$/.exec(id);
  if (!m) return undefined;
  const [cab, chassis, slot, bmc, node, virt] = m.slice(1).map((v) => (v === undefined ? undefined : Number(v)));
  return (cab! + 1) * 16384 + chassis! * 2048 + slot! * 32 + bmc! * 4 + (virt ?? node!);
}

function isDigit(ch: string | undefined): boolean {
  return ch !== undefined && ch >= "0" && ch <= "9";
}
