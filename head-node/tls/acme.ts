/**
 * Certificates from the site's ACME server (step-ca, an internal Boulder, Let's Encrypt) with
 * acme-client, validated over http-01: the runner answers the challenge itself on
 * OCHAMI_TLS_ACME_HTTP_PORT (80, where RFC 8555 validation connects; test servers take another).
 *
 * In <state>/tls (0600 each): acme-account.key (the ACME account), and acme-cert.pem +
 * acme-cert.key, the certificate in use, so a restart reuses it instead of ordering again (real
 * CAs rate-limit orders).
 */
import { X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import path from "node:path";
import * as acme from "acme-client";
import { type IssuedCert, tlsDirOf } from "./ca";
import type { CertSource } from "./settings";

type AcmeSource = Extract<CertSource, { kind: "acme" }>;

const CHALLENGE_PREFIX = "/.well-known/acme-challenge/";

function writeSecretFile(file: string, text: string) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

function issuedOf(cert: string, key: string): IssuedCert {
  const leaf = new X509Certificate(cert);
  return { cert, key, serial: leaf.serialNumber, notBefore: new Date(leaf.validFrom), notAfter: new Date(leaf.validTo) };
}

export interface AcmeIssuer {
  /** The stored certificate, when it is still for these names and not due for renewal. */
  stored(names: string[], now?: Date): IssuedCert | undefined;
  order(names: string[]): Promise<IssuedCert>;
  close(): Promise<void>;
}

export async function startAcmeIssuer(src: AcmeSource, stateDir: string, host: string): Promise<AcmeIssuer> {
  const dir = tlsDirOf(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const files = {
    account: path.join(dir, "acme-account.key"),
    cert: path.join(dir, "acme-cert.pem"),
    key: path.join(dir, "acme-cert.key"),
  };
  if (!existsSync(files.account)) writeSecretFile(files.account, (await acme.crypto.createPrivateEcdsaKey()).toString());
  for (const f of [files.account, files.key]) if (existsSync(f)) chmodSync(f, 0o600);

  // acme-client's HTTP client is one axios instance: this process talks to one ACME server.
  if (src.caFile) {
    let ca: Buffer;
    try {
      ca = readFileSync(src.caFile);
    } catch (err) {
      throw new Error(`OCHAMI_TLS_ACME_CA_FILE: cannot read ${src.caFile}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    acme.axios.defaults.httpsAgent = new https.Agent({ ca, minVersion: "TLSv1.2" });
  }
  // Its own check of the challenge before asking the server to validate uses this port too.
  (acme.axios.defaults as unknown as { acmeSettings: { httpChallengePort: number } }).acmeSettings.httpChallengePort = src.httpPort;
  acme.setLogger(() => {});

  const answers = new Map<string, string>();
  const challengeServer = http.createServer((req, res) => {
    const url = req.url ?? "";
    const answer = url.startsWith(CHALLENGE_PREFIX) ? answers.get(url.slice(CHALLENGE_PREFIX.length)) : undefined;
    if (answer === undefined) {
      res.writeHead(404, { "content-type": "text/plain" }).end("not an ACME challenge this head node is answering\n");
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" }).end(answer);
  });
  await new Promise<void>((resolve, reject) => {
    challengeServer.once("error", reject);
    challengeServer.listen({ host, port: src.httpPort }, () => {
      challengeServer.off("error", reject);
      resolve();
    });
  });

  const client = new acme.Client({ directoryUrl: src.directoryUrl, accountKey: readFileSync(files.account) });

  return {
    stored(names, now = new Date()) {
      if (!existsSync(files.cert) || !existsSync(files.key)) return undefined;
      try {
        const issued = issuedOf(readFileSync(files.cert, "utf8"), readFileSync(files.key, "utf8"));
        const leaf = new X509Certificate(issued.cert);
        const sans = (leaf.subjectAltName ?? "").split(", ").map((s) => s.replace(/^(DNS|IP Address):/, ""));
        if (names.some((n) => !sans.includes(n))) return undefined;
        return issued.notAfter > now ? issued : undefined;
      } catch {
        return undefined;
      }
    },
    async order(names) {
      const [key, csr] = await acme.crypto.createCsr({ commonName: names[0], altNames: names }, await acme.crypto.createPrivateEcdsaKey());
      const cert = await client.auto({
        csr,
        email: src.email,
        termsOfServiceAgreed: true,
        challengePriority: ["http-01"],
        challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
          answers.set(challenge.token, keyAuthorization);
        },
        challengeRemoveFn: async (_authz, challenge) => {
          answers.delete(challenge.token);
        },
      });
      const issued = issuedOf(cert, key.toString());
      writeSecretFile(files.key, issued.key);
      writeSecretFile(files.cert, issued.cert);
      return issued;
    },
    close() {
      return new Promise((resolve) => challengeServer.close(() => resolve()));
    },
  };
}
