/**
 * OAuth scopes of this API: read and write per service, a scope for the on-prem agent's boot
 * reports, and `admin` (client management; implies every other scope). The route → scope policy
 * is workers/auth/policy.ts; this module only knows the names.
 */
export const SCOPES = {
  "smd:read": "read the SMD inventory (/hsm/v2)",
  "smd:write": "change the SMD inventory",
  "bss:read": "read boot parameters (/boot/v1)",
  "bss:write": "change boot parameters",
  "cloud-init:read": "read cloud-init configuration (/cloud-init/admin)",
  "cloud-init:write": "change cloud-init configuration",
  "boot:report": "report boot events (the on-prem agent)",
  admin: "manage OAuth clients (/auth/clients); implies every other scope",
} as const;

export type Scope = keyof typeof SCOPES;
export const ADMIN_SCOPE: Scope = "admin";
export const ALL_SCOPES = Object.keys(SCOPES) as Scope[];

/**
 * Scopes a client may ask for that grant nothing here. Hydra-era scripts request
 * `scope=openid smd.read`; refusing `openid` would break them for no benefit.
 */
export const NEUTRAL_SCOPES: readonly string[] = ["openid"];

export function isScope(s: string): s is Scope {
  return Object.hasOwn(SCOPES, s);
}

/**
 * Our spelling of a scope: Hydra/OpenCHAMI spell them `smd.read`, we spell them `smd:read` and
 * accept both. Unknown names come back unchanged (the caller decides whether that is an error).
 */
export function canonicalScope(s: string): string {
  if (isScope(s)) return s;
  const dot = s.lastIndexOf(".");
  if (dot > 0) {
    const colon = `${s.slice(0, dot)}:${s.slice(dot + 1)}`;
    if (isScope(colon)) return colon;
  }
  return s;
}

/**
 * Scopes from a token claim or a request parameter: an array (Hydra's `scp`) or a space-separated
 * string (`scope`, RFC 6749 §3.3 / RFC 9068). Anything else gives none.
 */
export function scopeList(value: unknown): string[] {
  const raw = Array.isArray(value)
    ? value.filter((v): v is string => typeof v === "string")
    : typeof value === "string"
      ? value.split(" ")
      : [];
  const out: string[] = [];
  for (const s of raw) {
    const c = canonicalScope(s.trim());
    if (c && !out.includes(c)) out.push(c);
  }
  return out;
}

/** Does a set of held scopes satisfy `required`? `admin` implies everything. */
export function grants(held: ReadonlySet<string>, required: Scope): boolean {
  return held.has(required) || held.has(ADMIN_SCOPE);
}
