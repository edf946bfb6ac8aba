import type { Scope } from "./scopes";

/**
 * THE route → access policy of the whole API, one table for every service.
 *
 * Rules are tried in order and the FIRST match decides (like a firewall): put specific rules
 * before general ones. A request no rule matches needs `admin` — deny by default, so a route
 * nobody listed is never public by accident. Service authors: add your routes here, next to
 * your service's other rules; test/api/auth-matrix.test.ts derives its cases from this table and
 * from the app's registered routes, so a new rule or route is covered without touching the test.
 *
 * Path patterns (matched against Hono's routing path, trailing slash ignored, case-sensitive):
 *   :name         one path segment            /hsm/v2/State/Components/:xname
 *   :name.yaml    one segment with a suffix   /cloud-init/:group.yaml
 *   *             (last) one or more segments /hsm/v2/service/*
 * Methods: a list, or ANY. GET also covers HEAD (Hono answers HEAD with the GET route).
 */
export const PUBLIC = "public" as const;
export type Access = typeof PUBLIC | Scope;
export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
export const ANY = "*" as const;
export const WRITE: readonly Method[] = ["POST", "PUT", "PATCH", "DELETE"];

export interface Rule {
  methods: readonly Method[] | typeof ANY;
  path: string;
  access: Access;
}

const rule = (methods: Method | readonly Method[] | typeof ANY, path: string, access: Access): Rule => ({
  methods: typeof methods === "string" && methods !== ANY ? [methods] : (methods as Rule["methods"]),
  path,
  access,
});

/** BSS answers on /boot/v1 and on the gateway alias /apis/bss/boot/v1 (OpenCHAMI's gateway path). */
const BSS_PREFIXES = ["/boot/v1", "/apis/bss/boot/v1"];
const bss = (make: (prefix: string) => Rule[]): Rule[] => BSS_PREFIXES.flatMap(make);

export const POLICY: readonly Rule[] = [
  // ---- auth: the token endpoint authenticates clients itself (client credentials); key sets are public.
  rule(ANY, "/token", PUBLIC),
  rule(ANY, "/oauth2/token", PUBLIC),
  rule(["GET", "POST"], "/keys", PUBLIC), // opaal's JWKS path; opaal answers GET and POST
  rule("GET", "/.well-known/*", PUBLIC),
  // ---- the CA certificate behind the HTTPS port (workers/cluster-ca.ts): public, as any CA certificate.
  rule("GET", "/ca.pem", PUBLIC),
  rule(ANY, "/auth/clients", "admin"),
  rule(ANY, "/auth/clients/*", "admin"),
  // ---- this API's description (workers/docs): it holds no data.
  rule("GET", "/openapi.json", PUBLIC),
  rule("GET", "/docs", PUBLIC),
  // ---- the dashboard (workers/ui): its page and files hold no data; the page reads with the admin's token.
  rule("GET", "/ui", PUBLIC),
  rule("GET", "/ui/:file", PUBLIC),
  rule("GET", "/ui/api/boots", "bss:read"),
  rule("GET", "/ui/api/unknown", "bss:read"),
  rule("GET", "/ui/api/nodes/:xname/boot", "bss:read"),

  // ---- SMD (/hsm/v2). Public as in SMD v2.18 (its JWT middleware skips these): health probes, and the two
  // collections coresmd (DHCP) and ochami's listing commands read without a token.
  rule("GET", "/hsm/v2/service/*", PUBLIC),
  rule("GET", "/hsm/v2/State/Components", PUBLIC), // the collection only; /{xname} is protected
  rule("GET", "/hsm/v2/Inventory/EthernetInterfaces", PUBLIC), // the collection only
  // Queries that POST a filter body read, they do not write.
  rule("POST", "/hsm/v2/State/Components/Query", "smd:read"),
  rule("POST", "/hsm/v2/State/Components/ByNID/Query", "smd:read"),
  rule("POST", "/hsm/v2/locks/status", "smd:read"),
  rule("POST", "/hsm/v2/locks/service/reservations/check", "smd:read"),
  rule("GET", "/hsm/v2/*", "smd:read"),
  rule(WRITE, "/hsm/v2/*", "smd:write"),

  // ---- BSS. iPXE fetches /bootscript with no token; the other non-bootparameters routes are
  // public upstream too (BSS only guards /bootparameters). /bootparameters needs bss scopes for every method.
  ...bss((p) => [
    rule("GET", `${p}/bootscript`, PUBLIC),
    rule("GET", `${p}/hosts`, PUBLIC),
    rule("GET", `${p}/dumpstate`, PUBLIC),
    rule("GET", `${p}/endpoint-history`, PUBLIC),
    rule(ANY, `${p}/service/*`, PUBLIC), // upstream answers any method there
    rule("GET", `${p}/bootparameters`, "bss:read"),
    rule(WRITE, `${p}/bootparameters`, "bss:write"),
    // Boot steps the on-prem agent served (DHCP, TFTP, images), reported into the history.
    rule("POST", `${p}/endpoint-history`, "boot:report"),
    rule("GET", p, "bss:read"),
    rule("GET", `${p}/*`, "bss:read"),
    rule(WRITE, `${p}/*`, "bss:write"),
  ]),

  // ---- cloud-init. Nodes fetch their documents by source IP with no token, as upstream serves them;
  // everything under /cloud-init/admin needs cloud-init scopes.
  rule("GET", "/cloud-init/meta-data", PUBLIC),
  rule("GET", "/cloud-init/user-data", PUBLIC),
  rule("GET", "/cloud-init/vendor-data", PUBLIC),
  rule("GET", "/cloud-init/network-config", PUBLIC), // cloud-init >= 23 asks for it first
  rule("GET", "/cloud-init/:group.yaml", PUBLIC),
  rule("POST", "/cloud-init/phone-home/:id", PUBLIC), // node-facing, as upstream
  rule("GET", "/cloud-init/version", PUBLIC), // a health probe, as SMD's /service/*
  rule("GET", "/cloud-init/admin/*", "cloud-init:read"),
  rule(WRITE, "/cloud-init/admin/*", "cloud-init:write"),
  rule("GET", "/cloud-init/*", "cloud-init:read"),
  rule(WRITE, "/cloud-init/*", "cloud-init:write"),
];

/** What a request no rule matches needs. */
export const DEFAULT_ACCESS: Access = "admin";

export interface Decision {
  access: Access;
  /** The rule that decided, or undefined for the default. */
  rule?: Rule;
}

interface CompiledRule {
  rule: Rule;
  methods: ReadonlySet<string> | undefined; // undefined = any method
  regex: RegExp;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Compiles a path pattern (syntax above) to an anchored RegExp. */
export function compilePattern(pattern: string): RegExp {
  const segments = pattern.split("/").slice(1);
  const parts = segments.map((seg, i) => {
    if (seg === "*") {
      if (i !== segments.length - 1) throw new Error(`policy pattern ${pattern}: * must be the last segment`);
      return "[^/]+(?:/[^/]+)*";
    }
    const param = /^:[A-Za-z_][A-Za-z0-9_]*(.*)$/.exec(seg);
    if (param) return `[^/]+${escapeRegex(param[1])}`;
    return escapeRegex(seg);
  });
  return new RegExp(`^/${parts.join("/")}$`);
}

export function compilePolicy(rules: readonly Rule[]): (method: string, path: string) => Decision {
  const compiled: CompiledRule[] = rules.map((r) => ({
    rule: r,
    methods: r.methods === ANY ? undefined : new Set(r.methods),
    regex: compilePattern(r.path),
  }));
  return (method, path) => {
    const m = method === "HEAD" ? "GET" : method;
    // Hono with strict:false routes `/x/` as `/x`; decide on the same path the router uses.
    const p = path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
    for (const c of compiled) {
      if ((c.methods === undefined || c.methods.has(m)) && c.regex.test(p)) return { access: c.rule.access, rule: c.rule };
    }
    return { access: DEFAULT_ACCESS };
  };
}

/** The policy of this API: which access a request needs. Compiled once per isolate. */
export const decide = compilePolicy(POLICY);
