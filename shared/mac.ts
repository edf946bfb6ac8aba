/**
 * MAC addresses. Stored and compared in one spelling, lower-case colon form (`aa:bb:cc:dd:ee:ff`),
 * which is what coresmd keys its DHCP map on; an EthernetInterface ID is the same 12 hex digits
 * without separators.
 */
export type MacResult = { ok: true; mac: string; id: string } | { ok: false; error: string };

/** The stored spelling itself, as iPXE's `${net0/mac}` and coresmd send it. */
const CANONICAL = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

export function parseMac(raw: unknown): MacResult {
  if (typeof raw !== "string") return { ok: false, error: "MAC string has invalid length" };
  // Every boot request names its MAC so: one test instead of five passes over the string.
  if (CANONICAL.test(raw)) return { ok: true, mac: raw, id: raw.replaceAll(":", "") };
  const hex = raw.trim().toLowerCase().replace(/[-:.]/g, "");
  if (hex.length !== 12) return { ok: false, error: "MAC string has invalid length" };
  if (!/^[0-9a-f]{12}$/.test(hex)) return { ok: false, error: `MAC string '${raw}' has invalid characters` };
  return { ok: true, mac: hex.match(/../g)!.join(":"), id: hex };
}

/** Lower-case colon form, or undefined. */
export function normalizeMac(raw: unknown): string | undefined {
  const r = parseMac(raw);
  return r.ok ? r.mac : undefined;
}

/** Interface ID from a MAC or an ID given by a client: lower-case hex, separators removed. */
export function interfaceIdFromMac(raw: string): string {
  return raw
    .trim()
    .toLowerCase()
    .replace(/[-:._]/g, "");
}
