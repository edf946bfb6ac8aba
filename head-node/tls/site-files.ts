/**
 * The site's own certificate and key files (OCHAMI_TLS_CERT_FILE, OCHAMI_TLS_KEY_FILE), reloaded
 * when they change: an external ACME client (certbot, step, lego) renews them in place. Changes
 * are noticed by fs.watch on their directories (renewal tools replace files by renaming, which a
 * watch on the file itself loses) and, where watches miss events (network file systems), by a
 * periodic stat. A pair that does not load (a key of another certificate, the certificate written
 * before its key, an expired certificate) leaves the one in use in place, and says why.
 */
import { X509Certificate } from "node:crypto";
import { type FSWatcher, readFileSync, statSync, watch } from "node:fs";
import path from "node:path";
import { createSecureContext } from "node:tls";
import type { IssuedCert } from "./ca";

/** How often the files' stat is compared when no watch event came. */
export const STAT_INTERVAL_MS = 10_000;
/** Editors and renewal tools write in steps: one reload once the burst settles. */
const SETTLE_MS = 250;

/** The pair in the files, checked: the key is the certificate's, the certificate is in its validity period. */
export function loadSiteFiles(certFile: string, keyFile: string, now = new Date()): IssuedCert {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, "utf8");
    } catch (err) {
      throw new Error(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  const cert = read(certFile, "certificate (OCHAMI_TLS_CERT_FILE)");
  const key = read(keyFile, "key (OCHAMI_TLS_KEY_FILE)");
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new Error(`${certFile} holds no PEM certificate: ${(err as Error).message}`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(/mismatch/i.test(msg) ? `${keyFile} is not the key of the certificate in ${certFile}` : `${keyFile}: ${msg}`);
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (notAfter <= now) throw new Error(`the certificate in ${certFile} expired on ${notAfter.toISOString()}`);
  return { cert, key, serial: leaf.serialNumber, notBefore, notAfter };
}

export interface SiteFilesWatch {
  close(): void;
}

/** Calls `changed` (at most once per burst of changes) when either file may have changed. */
export function watchSiteFiles(certFile: string, keyFile: string, changed: () => void): SiteFilesWatch {
  const files = [path.resolve(certFile), path.resolve(keyFile)];
  const stamp = () =>
    files
      .map((f) => {
        try {
          const s = statSync(f);
          return `${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch {
          return "missing";
        }
      })
      .join("|");
  let last = stamp();
  let timer: NodeJS.Timeout | undefined;
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      last = stamp();
      changed();
    }, SETTLE_MS);
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(files.map((f) => path.dirname(f)))) {
    const names = new Set(files.filter((f) => path.dirname(f) === dir).map((f) => path.basename(f)));
    try {
      const w = watch(dir, (_event, name) => {
        // Some platforms do not name the file; then any change in the directory counts.
        if (!name || names.has(String(name))) soon();
      });
      w.on("error", () => {}); // the periodic stat still sees changes
      watchers.push(w);
    } catch {
      // not watchable (permissions, a file system without inotify): the periodic stat does it
    }
  }
  const poll = setInterval(() => {
    if (stamp() !== last) soon();
  }, STAT_INTERVAL_MS);
  poll.unref();
  return {
    close() {
      clearTimeout(timer);
      clearInterval(poll);
      for (const w of watchers) w.close();
    },
  };
}
