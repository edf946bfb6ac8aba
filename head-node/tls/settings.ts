/**
 * The HTTPS settings of `npm start` (OCHAMI_TLS_*), read and checked before anything starts, as
 * the rest of plan.ts: a bad value stops the start with one line naming the variable.
 *
 * Where the certificate comes from, one of:
 *  - builtin (default): a CA in <state>/tls issues a short-lived certificate, renewed in the process;
 *  - files: the site's own certificate and key (OCHAMI_TLS_CERT_FILE, OCHAMI_TLS_KEY_FILE), reloaded
 *    when they change (an external ACME client, certbot, step renewing them);
 *  - acme: ordered from the site's ACME server (OCHAMI_TLS_ACME_DIRECTORY) with http-01.
 */

import { isIP } from "node:net";
import { hostname } from "node:os";
import { ConfigError } from "../../onprem-agent/config";
import { DURATION_HINT, parseDuration } from "../../shared/duration";
import { ON_OFF_HINT, parseOnOff } from "../../shared/on-off";

export type CertSource =
  | { kind: "builtin"; lifetimeMs: number; renewBeforeMs: number }
  | { kind: "files"; certFile: string; keyFile: string }
  | {
      kind: "acme";
      directoryUrl: string;
      email?: string;
      /** PEM bundle to verify the ACME server's own HTTPS with (else the system's). */
      caFile?: string;
      /** Where the http-01 challenge answers are served (the ACME server connects to port 80 unless it is a test server). */
      httpPort: number;
      /** Renew this long before expiry; undefined: when a third of the certificate's validity is left. */
      renewBeforeMs?: number;
    };

export interface TlsPlan {
  enabled: boolean;
  host: string;
  port: number;
  /** DNS names and IP addresses the certificate is for. */
  names: string[];
  source: CertSource;
  /** The CA certificate published at /ca.pem and to nodes when the certificate is not the built-in CA's. */
  caFile?: string;
}

/** Variables of the HTTPS front: the runner's own, never passed to the worker. */
export const TLS_VARIABLES = new Set([
  "OCHAMI_TLS",
  "OCHAMI_TLS_HOST",
  "OCHAMI_TLS_PORT",
  "OCHAMI_TLS_NAMES",
  "OCHAMI_TLS_CERT_LIFETIME",
  "OCHAMI_TLS_RENEW_BEFORE",
  "OCHAMI_TLS_CERT_FILE",
  "OCHAMI_TLS_KEY_FILE",
  "OCHAMI_TLS_CA_FILE",
  "OCHAMI_TLS_ACME_DIRECTORY",
  "OCHAMI_TLS_ACME_EMAIL",
  "OCHAMI_TLS_ACME_CA_FILE",
  "OCHAMI_TLS_ACME_HTTP_PORT",
]);

const DAY_MS = 86_400_000;
/** Browsers refuse server certificates valid longer than 398 days. */
const MAX_LIFETIME_MS = 397 * DAY_MS;
/** Short enough for a renewal test to see two renewals in seconds; nothing in production wants less. */
const MIN_LIFETIME_MS = 10_000;

function duration(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const ms = parseDuration(raw);
  if (ms === undefined) throw new ConfigError(`${name} must be ${DURATION_HINT}, got '${raw}'`);
  return ms;
}

function text(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

function port(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = text(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${name} must be a port number, got '${raw}'`);
  return n;
}

/** A DNS name as a certificate may carry it (RFC 1123 labels; a leading `*.` wildcard is not issued here). */
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

function parseNames(raw: string): string[] {
  const names = raw
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (!names.length) throw new ConfigError("OCHAMI_TLS_NAMES must name at least one DNS name or IP address");
  for (const n of names)
    if (!isIP(n) && !DNS_NAME.test(n)) throw new ConfigError(`OCHAMI_TLS_NAMES: '${n}' is neither a DNS name nor an IP address`);
  return names;
}

const isWildcard = (host: string) => host === "0.0.0.0" || host === "::";

export interface TlsPlanInput {
  env: NodeJS.ProcessEnv;
  /** The plain API's address (HOST): the HTTPS address defaults to it. */
  host: string;
  /** The boot network's address, when DHCP is on: nodes reach the head node there. */
  bootAddress?: string;
  /** The machine's name (tests pass their own). */
  hostName?: string;
}

export function planTls({ env, host, bootAddress, hostName = hostname() }: TlsPlanInput): TlsPlan {
  const onOff = text(env, "OCHAMI_TLS");
  const enabled = onOff === undefined ? true : parseOnOff(onOff);
  if (enabled === undefined) throw new ConfigError(`OCHAMI_TLS must be ${ON_OFF_HINT}, got '${onOff}'`);
  const tlsHost = text(env, "OCHAMI_TLS_HOST") ?? host;
  const tlsPort = port(env, "OCHAMI_TLS_PORT", 8443);
  const certFile = text(env, "OCHAMI_TLS_CERT_FILE");
  const keyFile = text(env, "OCHAMI_TLS_KEY_FILE");
  const directoryUrl = text(env, "OCHAMI_TLS_ACME_DIRECTORY");
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new ConfigError(
      "OCHAMI_TLS_CERT_FILE and OCHAMI_TLS_KEY_FILE go together: set both (the site's certificate and its key) or neither",
    );
  if (certFile && directoryUrl)
    throw new ConfigError(
      "OCHAMI_TLS_CERT_FILE and OCHAMI_TLS_ACME_DIRECTORY exclude each other: the certificate comes from files or from ACME",
    );

  const lifetimeMs = duration(env, "OCHAMI_TLS_CERT_LIFETIME");
  const renewBeforeMs = duration(env, "OCHAMI_TLS_RENEW_BEFORE");
  let source: CertSource;
  if (certFile && keyFile) {
    source = { kind: "files", certFile, keyFile };
  } else if (directoryUrl) {
    let url: URL;
    try {
      url = new URL(directoryUrl);
    } catch {
      throw new ConfigError(`OCHAMI_TLS_ACME_DIRECTORY must be the ACME server's directory URL, got '${directoryUrl}'`);
    }
    if (url.protocol !== "https:")
      throw new ConfigError(`OCHAMI_TLS_ACME_DIRECTORY must be an https URL (RFC 8555), got '${directoryUrl}'`);
    source = {
      kind: "acme",
      directoryUrl,
      email: text(env, "OCHAMI_TLS_ACME_EMAIL"),
      caFile: text(env, "OCHAMI_TLS_ACME_CA_FILE"),
      httpPort: port(env, "OCHAMI_TLS_ACME_HTTP_PORT", 80),
      renewBeforeMs,
    };
  } else {
    const lifetime = lifetimeMs ?? DAY_MS;
    if (lifetime < MIN_LIFETIME_MS || lifetime > MAX_LIFETIME_MS)
      throw new ConfigError(`OCHAMI_TLS_CERT_LIFETIME must be from 10s to 397d, got '${env.OCHAMI_TLS_CERT_LIFETIME}'`);
    // A third of the lifetime left: a day's certificate is renewed 8 hours before it expires, so a
    // renewal that fails (a full disk, a clock jump) has hours of retries before clients notice.
    const before = renewBeforeMs ?? Math.round(lifetime / 3);
    if (before <= 0 || before >= lifetime)
      throw new ConfigError(
        `OCHAMI_TLS_RENEW_BEFORE must be shorter than the certificate's lifetime (${env.OCHAMI_TLS_CERT_LIFETIME ?? "24h"}), got '${env.OCHAMI_TLS_RENEW_BEFORE}'`,
      );
    source = { kind: "builtin", lifetimeMs: lifetime, renewBeforeMs: before };
  }
  if (source.kind !== "builtin" && lifetimeMs !== undefined)
    throw new ConfigError(
      "OCHAMI_TLS_CERT_LIFETIME applies to the built-in CA only: the site's CA decides the lifetime of its certificates",
    );

  const namesRaw = text(env, "OCHAMI_TLS_NAMES");
  let names: string[];
  if (namesRaw !== undefined) names = parseNames(namesRaw);
  else {
    // What an admin types to reach this machine, and what nodes reach it at.
    names = [hostName, "localhost", "127.0.0.1"];
    for (const a of [tlsHost, bootAddress]) if (a && isIP(a) && !isWildcard(a)) names.push(a);
    names = [...new Set(names.filter((n) => isIP(n) || DNS_NAME.test(n)))];
    // Public ACME CAs issue for DNS names only, and none for localhost.
    if (source.kind === "acme") names = names.filter((n) => !isIP(n) && n !== "localhost");
    if (!names.length) throw new ConfigError("OCHAMI_TLS_NAMES: set the DNS names the ACME certificate is for");
  }
  return { enabled, host: tlsHost, port: tlsPort, names, source, caFile: text(env, "OCHAMI_TLS_CA_FILE") };
}
