/**
 * HMS enumerations (hms-base v2.3.0): accepted case-insensitively, stored and returned in their
 * canonical spelling.
 */
export const HMS_VALUES = {
  Arch: ["X86", "ARM", "UNKNOWN", "Other"],
  Class: ["River", "Mountain", "Hill"],
  Flag: ["Unknown", "OK", "Warning", "Alert", "Locked"],
  NetType: ["Sling", "Infiniband", "Ethernet", "OEM", "None"],
  Role: ["Compute", "Service", "System", "Application", "Storage", "Management"],
  SubRole: ["Master", "Worker", "Storage"],
  State: ["Unknown", "Empty", "Populated", "Off", "On", "Standby", "Halt", "Ready"],
} as const;

export type HmsValueKind = keyof typeof HMS_VALUES;

const ALIASES: Partial<Record<HmsValueKind, Record<string, string>>> = { Flag: { warn: "Warning" } };

/** Canonical spelling of `raw` for `kind`, or undefined when it is not a known value. */
export function canonicalValue(kind: HmsValueKind, raw: string): string | undefined {
  const lower = raw.trim().toLowerCase();
  const alias = ALIASES[kind]?.[lower];
  if (alias) return alias;
  return (HMS_VALUES[kind] as readonly string[]).find((v) => v.toLowerCase() === lower);
}

/** State transitions allowed by a StateData PATCH without Force: target ← allowed start states. */
export const VALID_START_STATES: Record<string, readonly string[]> = {
  Off: ["Off", "On", "Standby", "Halt", "Ready"],
  On: ["On", "Off", "Standby", "Halt"],
  Standby: ["Standby", "Ready"],
  Halt: ["Halt", "Ready"],
  Ready: ["Ready", "On", "Off", "Standby", "Halt"],
};
