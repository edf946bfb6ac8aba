/**
 * The API over HTTPS under `npm start` (docs/tls.md): the certificate from its source (the
 * built-in CA, the site's files, or ACME; settings.ts), kept fresh in the running process, and the
 * TLS front (front.ts) that serves it. Renewal installs the new certificate with
 * setSecureContext(): new handshakes get it, open connections and requests in flight go on.
 */
import { readFileSync } from "node:fs";
import type { AcmeIssuer } from "./acme";
import { type BuiltinCa, ensureBuiltinCa, fingerprintOf, type IssuedCert } from "./ca";
import { startTlsFront, type TlsFront } from "./front";
import type { TlsPlan } from "./settings";
import { loadSiteFiles, type SiteFilesWatch, watchSiteFiles } from "./site-files";

export { TLS_VARIABLES } from "./settings";

/** setTimeout's longest delay; a later renewal is re-checked then. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A failed renewal is retried after a tenth of the time left, within these bounds. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 5 * 60_000;

export interface HttpsService {
  /** The CA certificate published at /ca.pem and to nodes (PEM), when there is one to publish. */
  caPem?: string;
  caFingerprint?: string;
  /** True when this start created the built-in CA. */
  caCreated: boolean;
  caDir?: string;
  /** The certificate served now. */
  readonly current: IssuedCert;
  /** Where the certificate comes from, for the start-up line. */
  origin: string;
  /** Opens the HTTPS port in front of the plain API; renewals (or reloads) run from now on. */
  listen(upstream: string, proxySecret: string, hsts: boolean): Promise<TlsFront>;
  /** Refuses new connections, lets requests in flight finish, stops renewing. */
  stop(): Promise<void>;
}

const until = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");

/** Reads the site's CA certificate to publish (OCHAMI_TLS_CA_FILE). */
function readCaFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new Error(`OCHAMI_TLS_CA_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
  try {
    fingerprintOf(text);
  } catch {
    throw new Error(`OCHAMI_TLS_CA_FILE: ${file} holds no PEM certificate`);
  }
  return text;
}

/**
 * Loads or creates what HTTPS needs before the API starts (the CA goes to the worker, for /ca.pem
 * and the nodes) and gets the first certificate; fails the start when there is none to serve.
 */
export async function prepareHttps(plan: TlsPlan, stateDir: string, notice: (line: string) => void): Promise<HttpsService> {
  const src = plan.source;
  let ca: BuiltinCa | undefined;
  let acme: AcmeIssuer | undefined;
  let current: IssuedCert;
  let origin: string;
  /** Renew this long before notAfter. */
  let renewBefore: (c: IssuedCert) => number = () => 0;
  let next: (() => Promise<IssuedCert>) | undefined;

  if (src.kind === "builtin") {
    ca = await ensureBuiltinCa(stateDir);
    const issue = () => ca!.issue(plan.names, src.lifetimeMs);
    current = await issue();
    next = issue;
    renewBefore = () => src.renewBeforeMs;
    origin = `built-in CA (${ca.dir}), certificates for ${fmtMs(src.lifetimeMs)} renewed ${fmtMs(src.renewBeforeMs)} before expiry`;
  } else if (src.kind === "files") {
    try {
      current = loadSiteFiles(src.certFile, src.keyFile);
    } catch (err) {
      throw new Error(`HTTPS: ${(err as Error).message}`);
    }
    origin = `${src.certFile} (reloaded when it changes)`;
  } else {
    // Loaded only here: acme-client brings an HTTP client and node-forge a built-in CA never needs.
    const { startAcmeIssuer } = await import("./acme");
    acme = await startAcmeIssuer(src, stateDir, plan.host);
    const stored = acme.stored(plan.names);
    renewBefore = (c) => src.renewBeforeMs ?? (c.notAfter.getTime() - c.notBefore.getTime()) / 3;
    if (stored) current = stored;
    else {
      try {
        current = await acme.order(plan.names);
      } catch (err) {
        await acme.close();
        throw new Error(`HTTPS: ACME order from ${src.directoryUrl} for ${plan.names.join(", ")} failed: ${(err as Error).message}`);
      }
    }
    next = () => acme!.order(plan.names);
    origin = `ACME ${src.directoryUrl}, http-01 on port ${src.httpPort}`;
  }

  const caPem = ca?.certPem ?? (plan.caFile ? readCaFile(plan.caFile) : undefined);
  let front: TlsFront | undefined;
  let timer: NodeJS.Timeout | undefined;
  let watcher: SiteFilesWatch | undefined;
  let stopped = false;

  const install = (c: IssuedCert, why: string) => {
    current = c;
    front?.setKeyPair({ key: c.key, cert: c.cert });
    notice(`https: ${why}: serial ${c.serial}, valid until ${until(c.notAfter)}`);
  };

  const schedule = (delayMs?: number) => {
    clearTimeout(timer);
    if (stopped || !next) return;
    const due = current.notAfter.getTime() - renewBefore(current) - Date.now();
    timer = setTimeout(renew, Math.min(MAX_TIMER_MS, Math.max(0, delayMs ?? due)));
  };

  const renew = async () => {
    if (stopped || !next) return;
    const due = current.notAfter.getTime() - renewBefore(current);
    if (Date.now() < due) return schedule(); // a timer shortened to setTimeout's longest
    try {
      const fresh = await next();
      if (stopped) return;
      install(fresh, "renewed the certificate");
      schedule();
    } catch (err) {
      const left = current.notAfter.getTime() - Date.now();
      const retry = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, left / 10));
      notice(
        `https: renewal failed (${(err as Error).message}); still serving serial ${current.serial} until ${until(current.notAfter)}, retrying in ${fmtMs(retry)}`,
      );
      schedule(retry);
    }
  };

  return {
    caPem,
    caFingerprint: caPem ? fingerprintOf(caPem) : undefined,
    caCreated: ca?.created ?? false,
    caDir: ca?.dir,
    get current() {
      return current;
    },
    origin,
    async listen(upstream, proxySecret, hsts) {
      front = await startTlsFront({ host: plan.host, port: plan.port, upstream, proxySecret, hsts, keyPair: current, onNotice: notice });
      if (src.kind === "files") {
        watcher = watchSiteFiles(src.certFile, src.keyFile, () => {
          let loaded: IssuedCert;
          try {
            loaded = loadSiteFiles(src.certFile, src.keyFile);
          } catch (err) {
            notice(`https: ${(err as Error).message}; still serving serial ${current.serial} until ${until(current.notAfter)}`);
            return;
          }
          if (loaded.cert !== current.cert || loaded.key !== current.key)
            install(loaded, `loaded the new certificate from ${src.certFile}`);
        });
      }
      schedule();
      return front;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      watcher?.close();
      await Promise.all([front?.close(), acme?.close()]);
    },
  };
}

function fmtMs(ms: number): string {
  const units: Array<[string, number]> = [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ];
  for (const [u, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${u}`;
  return ms >= 1000 ? `${Math.round(ms / 1000)}s` : `${Math.round(ms)}ms`;
}
