import { z } from "zod";
import { DURATION_HINT, parseDuration } from "../shared/duration";
import { type CidrList, parseCidrList } from "../shared/ip";
import { ON_OFF_HINT, parseOnOff } from "../shared/on-off";
import { originOf } from "./http/request-target";

/**
 * The worker's configuration, parsed once per env object from its string variables
 * (wrangler.toml [vars], `wrangler secret`, or OCHAMI_* under `npm start`): the one place that
 * knows every variable's meaning and default (docs/configuration.md mirrors it).
 *
 * Two parts, checked apart: the service settings every route may need, and the auth settings.
 * A bad auth variable closes what needs auth (protected routes, the token endpoint, key sets:
 * 503 naming the variable) while the boot path and the other public routes keep serving; a bad
 * service setting makes every route a 500 naming it. `npm start` checks both before serving.
 */
const onOff = z.string().transform((v, ctx) => {
  const on = parseOnOff(v);
  if (on === undefined) ctx.addIssue({ code: "custom", message: `${ON_OFF_HINT}, got '${v}'` });
  return on ?? z.NEVER;
});

/** An unset variable and an empty one mean the same: not configured. */
const unsetIfEmpty = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);
const optionalText = z.preprocess(unsetIfEmpty, z.string().trim().optional());

/** Whole seconds, in the project's one duration grammar (shared/duration.ts): `3600`, `90s`, `30m`, `1h30m`, `1d`. */
const duration = (min: number, max: number) =>
  z
    .string()
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === undefined || ms % 1000 !== 0) {
        ctx.addIssue({ code: "custom", message: `${DURATION_HINT} (whole seconds), got '${v}'` });
        return z.NEVER;
      }
      return ms / 1000;
    })
    .pipe(z.number().min(min).max(max));

const seconds = (max: number, fallback: number) => z.preprocess(unsetIfEmpty, z.coerce.number().int().min(0).max(max).default(fallback));

const httpUrl = z
  .string()
  .trim()
  .url()
  .refine((u) => /^https?:\/\//i.test(u), "must be an http:// or https:// URL");

const ServiceSchema = z
  .object({
    /** OCHAMI_HISTORY_MAX: boot events kept in the history log (the latest per node and step are always kept). */
    historyMax: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(100).default(100_000)),
    /**
     * OCHAMI_HISTORY_UNKNOWN_MAX: latest-step entries kept for requesters SMD does not know (a MAC,
     * IP or name no component has), oldest evicted first; entries of SMD's nodes are never evicted.
     */
    historyUnknownMax: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(10).default(10_000)),
    /**
     * OCHAMI_HISTORY_CLIENT_RATE: boot events of requesters SMD does not know recorded per client
     * address and second; beyond it a request is answered but not recorded (counted).
     */
    historyClientRate: z.preprocess(unsetIfEmpty, z.coerce.number().int().min(0).max(100_000).default(20)),
    /**
     * OCHAMI_NODE_BASE_URL: the URL booting nodes use to reach this API (iPXE chain URLs, the
     * kernel's `ds=nocloud;s=<url>/cloud-init/`, cloud-init include URLs). Default: the origin the
     * request arrived at.
     */
    nodeBaseUrl: z.preprocess(unsetIfEmpty, httpUrl.transform((u) => u.replace(/\/+$/, "")).optional()),
    /** OCHAMI_BSS_RETRY_DELAY: seconds a node's iPXE sleeps after a failed kernel/initrd/boot before asking again. */
    retryDelay: seconds(3600, 30),
    /**
     * OCHAMI_BSS_UNKNOWN_DELAY: seconds a node with nothing to boot (unknown to SMD, disabled, no boot
     * parameters) sleeps before its one retry, which then carries its architecture.
     */
    unknownDelay: seconds(3600, 10),
    /**
     * OCHAMI_TRUSTED_PROXIES: comma-separated IPs and CIDR networks of reverse proxies (a gateway,
     * the on-prem agent) whose X-Forwarded-For header names the real client. The header is read only
     * from a request whose TCP peer is in this list and that carries OCHAMI_PROXY_SECRET
     * (workers/http/client-ip.ts). Default: none.
     */
    trustedProxies: z
      .preprocess((v) => v ?? "", z.string())
      .transform((raw, ctx): CidrList => {
        try {
          return parseCidrList(raw);
        } catch (err) {
          ctx.addIssue({ code: "custom", message: (err as Error).message });
          return z.NEVER;
        }
      }),
    /**
     * OCHAMI_PROXY_SECRET (secret): what a trusted proxy sends in X-Ochami-Proxy-Secret to have its
     * X-Forwarded-For believed. A peer address alone proves nothing: on the head node any local
     * user connects from 127.0.0.1 too. `npm start` generates one (<state>/auth/proxy-secret.json).
     */
    proxySecret: z.preprocess(
      unsetIfEmpty,
      z
        .string()
        .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces (it travels in an HTTP header)")
        .min(32, "must be at least 32 characters (e.g. `openssl rand -base64 32`)")
        .optional(),
    ),
    /**
     * OCHAMI_BOOT_SNAPSHOT: how the boot path (bootscript, meta-data, vendor-data, group files)
     * reads. `shared` (default): from an in-memory snapshot whose generation is checked against D1
     * on every read (one small query shared by all requests in flight), exact whoever writes the
     * database. `exclusive`: checked only after this isolate's own writes; exact only while no
     * other isolate, process or `wrangler d1 execute` writes. `off`: every read goes to D1.
     */
    bootSnapshot: z.preprocess(unsetIfEmpty, z.enum(["shared", "exclusive", "off"]).default("shared")),
    /**
     * OCHAMI_CLUSTER_CA: the PEM certificate(s) of the CA behind the API's HTTPS certificate,
     * published at /ca.pem and given to nodes through cloud-init (`ca_certs`). `npm start` sets it
     * to its built-in CA (head-node/tls). Default: none (/ca.pem answers 404).
     */
    clusterCa: z.preprocess(
      unsetIfEmpty,
      z
        .string()
        .trim()
        .regex(/^(-----BEGIN CERTIFICATE-----\s+[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*)+$/, "must be PEM certificates")
        .transform((pem) => `${pem}\n`)
        .optional(),
    ),
  })
  .superRefine((c, ctx) => {
    if (c.trustedProxies.length && !c.proxySecret)
      ctx.addIssue({
        code: "custom",
        path: ["proxySecret"],
        message: "OCHAMI_TRUSTED_PROXIES needs OCHAMI_PROXY_SECRET: a proxy's X-Forwarded-For is believed only with the secret",
      });
  })
  // The two travel together: whoever reads the client address gets both in one value.
  .transform(({ trustedProxies, proxySecret, ...rest }) => ({
    ...rest,
    trustedProxies: { networks: trustedProxies, secret: proxySecret },
  }));

/** JWS algorithms an external issuer may use: asymmetric only (never HS* or none). */
const EXTERNAL_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"] as const;
const algorithmList = z
  .string()
  .transform((v) => v.split(/[\s,]+/).filter(Boolean))
  .pipe(z.array(z.enum(EXTERNAL_ALGORITHMS)).min(1));

const AuthSchema = z
  .object({
    /** OCHAMI_AUTH: token checks on protected routes. `off` is for local development only. */
    enabled: onOff.default(true),
    /** OCHAMI_AUTH_ISSUER: `iss` of the tokens we mint and accept. Set it to the public URL if OIDC discovery matters. */
    issuer: optionalText.default("ochami"),
    /** OCHAMI_AUTH_AUDIENCE: `aud` of the tokens we mint and require. */
    audience: optionalText.default("ochami"),
    /** OCHAMI_AUTH_TOKEN_LIFETIME: access-token lifetime (Hydra's default, 1 h). */
    tokenLifetime: z.preprocess(unsetIfEmpty, duration(60, 7 * 86400).default(3600)),
    /** OCHAMI_AUTH_CLOCK_SKEW: tolerance on exp/nbf for clocks that disagree. */
    clockSkew: z.preprocess(unsetIfEmpty, duration(0, 300).default(30)),
    /** OCHAMI_AUTH_SIGNING_KEY (secret): private JWK we sign with; parsed by workers/auth/keyring.ts. */
    signingKey: optionalText,
    /** OCHAMI_AUTH_PREVIOUS_KEYS: public JWKs still accepted during a key rollover (JWK Set or array). */
    previousKeys: optionalText,
    /** OCHAMI_AUTH_BOOTSTRAP_CLIENT (secret): `{"client_id","secret_hash","scope"}` of the first admin client. */
    bootstrapClient: optionalText,
    external: z.object({
      /** OCHAMI_AUTH_EXTERNAL_ISSUER: `iss` of a site IdP (Keycloak, Hydra) whose tokens we also accept. */
      issuer: optionalText,
      /** OCHAMI_AUTH_EXTERNAL_JWKS_URL: where that IdP publishes its keys (fetched, cached, refetched on unknown kid). */
      jwksUrl: z.preprocess(unsetIfEmpty, httpUrl.optional()),
      /** OCHAMI_AUTH_EXTERNAL_JWKS: the IdP's key set inline (air-gapped sites), instead of the URL. */
      jwks: optionalText,
      /** OCHAMI_AUTH_EXTERNAL_AUDIENCE: required `aud` value; unset = `aud` must only be present (upstream's check). */
      audience: optionalText,
      /** OCHAMI_AUTH_EXTERNAL_ALGORITHMS: allow-list, comma or space separated. */
      algorithms: z.preprocess(unsetIfEmpty, algorithmList.default(["RS256", "PS256", "ES256", "ES384", "EdDSA"])),
    }),
  })
  .superRefine((c, ctx) => {
    const e = c.external;
    const problem = (field: "jwksUrl" | "issuer", message: string) => ctx.addIssue({ code: "custom", path: ["external", field], message });
    if (e.issuer && !e.jwksUrl && !e.jwks)
      problem("jwksUrl", "OCHAMI_AUTH_EXTERNAL_ISSUER needs OCHAMI_AUTH_EXTERNAL_JWKS_URL or OCHAMI_AUTH_EXTERNAL_JWKS");
    if (!e.issuer && (e.jwksUrl || e.jwks))
      problem("issuer", "an external key set needs OCHAMI_AUTH_EXTERNAL_ISSUER (tokens are matched to keys by issuer)");
    if (e.issuer && e.issuer === c.issuer) problem("issuer", "OCHAMI_AUTH_EXTERNAL_ISSUER must differ from OCHAMI_AUTH_ISSUER");
  });

/** The service settings every route may read. */
export type Config = z.infer<typeof ServiceSchema>;
/** How tokens are minted and checked. */
export type AuthConfig = z.infer<typeof AuthSchema>;

/** Config field → the variable it comes from (also names the variable in error messages). */
const SERVICE_VARIABLES = {
  historyMax: "OCHAMI_HISTORY_MAX",
  historyUnknownMax: "OCHAMI_HISTORY_UNKNOWN_MAX",
  historyClientRate: "OCHAMI_HISTORY_CLIENT_RATE",
  nodeBaseUrl: "OCHAMI_NODE_BASE_URL",
  retryDelay: "OCHAMI_BSS_RETRY_DELAY",
  unknownDelay: "OCHAMI_BSS_UNKNOWN_DELAY",
  trustedProxies: "OCHAMI_TRUSTED_PROXIES",
  proxySecret: "OCHAMI_PROXY_SECRET",
  bootSnapshot: "OCHAMI_BOOT_SNAPSHOT",
  clusterCa: "OCHAMI_CLUSTER_CA",
} as const;

const AUTH_VARIABLES = {
  enabled: "OCHAMI_AUTH",
  issuer: "OCHAMI_AUTH_ISSUER",
  audience: "OCHAMI_AUTH_AUDIENCE",
  tokenLifetime: "OCHAMI_AUTH_TOKEN_LIFETIME",
  clockSkew: "OCHAMI_AUTH_CLOCK_SKEW",
  signingKey: "OCHAMI_AUTH_SIGNING_KEY",
  previousKeys: "OCHAMI_AUTH_PREVIOUS_KEYS",
  bootstrapClient: "OCHAMI_AUTH_BOOTSTRAP_CLIENT",
  "external.issuer": "OCHAMI_AUTH_EXTERNAL_ISSUER",
  "external.jwksUrl": "OCHAMI_AUTH_EXTERNAL_JWKS_URL",
  "external.jwks": "OCHAMI_AUTH_EXTERNAL_JWKS",
  "external.audience": "OCHAMI_AUTH_EXTERNAL_AUDIENCE",
  "external.algorithms": "OCHAMI_AUTH_EXTERNAL_ALGORITHMS",
} as const;

/** Every variable the worker reads. */
export type WorkerVariable =
  | (typeof SERVICE_VARIABLES)[keyof typeof SERVICE_VARIABLES]
  | (typeof AUTH_VARIABLES)[keyof typeof AUTH_VARIABLES];

/** A configuration that cannot be used, with every problem named by its variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

type Parsed<T> = T | ConfigError;

function parseWith<T>(schema: z.ZodType<T>, variables: Record<string, string>, env: Record<string, unknown>): Parsed<T> {
  const external: Record<string, unknown> = {};
  const input: Record<string, unknown> = { external };
  for (const [field, variable] of Object.entries(variables)) {
    const [a, b] = field.split(".");
    if (b) external[b] = env[variable];
    else input[a] = env[variable];
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((i) => `${variables[i.path.join(".")] ?? i.path.join(".")}: ${i.message}`);
  return new ConfigError(`invalid worker configuration: ${problems.join("; ")}`);
}

const parsedConfigs = new WeakMap<object, { config: Parsed<Config>; auth: Parsed<AuthConfig> }>();

/** Both parts of an env's configuration (worker bindings, or a plain object of variables in Node), parsed once per env. */
export function parseConfig(env: Record<string, unknown>): { config: Parsed<Config>; auth: Parsed<AuthConfig> } {
  let parsed = parsedConfigs.get(env);
  if (!parsed) {
    parsed = { config: parseWith(ServiceSchema, SERVICE_VARIABLES, env), auth: parseWith(AuthSchema, AUTH_VARIABLES, env) };
    parsedConfigs.set(env, parsed);
  }
  return parsed;
}

/** Throws a ConfigError naming every bad variable; what `npm start` runs before serving. */
export function checkConfig(env: Record<string, unknown>): { config: Config; auth: AuthConfig } {
  const { config, auth } = parseConfig(env);
  const errors = [config, auth].filter((p): p is ConfigError => p instanceof ConfigError);
  if (errors.length) throw new ConfigError(errors.map((e) => e.message).join("; "));
  return { config: config as Config, auth: auth as AuthConfig };
}

/** The base URL nodes should use, from configuration or else the request's own origin. */
export function nodeBaseUrl(config: Config, requestUrl: string): string {
  return config.nodeBaseUrl ?? originOf(requestUrl);
}
