/**
 * The built-in CA of `npm start`, in <state>/tls (directory 0700):
 *   ca.pem   the CA certificate: public, published at /ca.pem and to nodes through cloud-init
 *   ca.key   its private key (PKCS #8, 0600): never logged, never sent anywhere
 * created on the first start, and the short-lived server certificates it issues. A server
 * certificate's key lives in this process's memory only: every renewal makes a new one.
 *
 * X.509 is @peculiar/x509's (over Node's WebCrypto): no ASN.1 here. Keys are ECDSA P-256, which
 * every TLS 1.2 client speaks and which signs in microseconds.
 */
import { createPrivateKey, webcrypto, X509Certificate } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import path from "node:path";
import * as x509 from "@peculiar/x509";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
/** The CA outlives every certificate it issues by far; rotating it is a deliberate act (docs/tls.md). */
const CA_LIFETIME_MS = 10 * 365 * 86_400_000;
/** Server certificates start a little in the past: a client whose clock is behind still accepts a fresh one. */
const BACKDATE_MS = 5 * 60_000;

export const tlsDirOf = (stateDir: string) => path.join(stateDir, "tls");

export interface KeyPair {
  /** PEM, for tls.createSecureContext. */
  key: string;
  /** PEM: the leaf first, then the chain. */
  cert: string;
}

export interface IssuedCert extends KeyPair {
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

export interface BuiltinCa {
  certPem: string;
  /** SHA-256 over the DER certificate, colon-separated hex, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint: string;
  dir: string;
  /** True when this start created it. */
  created: boolean;
  issue(names: string[], lifetimeMs: number, now?: Date): Promise<IssuedCert>;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString("base64");
  return `-----BEGIN ${label}-----\n${b64.replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")}-----END ${label}-----\n`;
}

function derOf(pemText: string): Buffer {
  return Buffer.from(pemText.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
}

/** Writes `text` atomically, owner-only from the first byte when `secret`. */
function writeAtomically(file: string, text: string, secret: boolean) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: secret ? 0o600 : 0o644 });
  if (secret) chmodSync(tmp, 0o600); // the mode above is masked by the umask; never wider either way
  renameSync(tmp, file);
}

/** A positive 16-byte serial: random, as RFC 5280 §4.1.2.2 asks of a CA that issues often. */
function serialNumber(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return Buffer.from(bytes).toString("hex");
}

export function fingerprintOf(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function createCa(dir: string, now: Date): Promise<{ certPem: string; keyPem: string }> {
  const keys = await generateKeys();
  const name = `CN=ochami-edge CA ${hostname()} ${now.toISOString().slice(0, 10)},O=OpenCHAMI`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + CA_LIFETIME_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      // pathLen 0: it signs server certificates only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
  const certPem = cert.toString("pem").replace(/\r\n/g, "\n").replace(/\n?$/, "\n");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  writeAtomically(path.join(dir, "ca.key"), keyPem, true);
  writeAtomically(path.join(dir, "ca.pem"), certPem, false);
  return { certPem, keyPem };
}

/** The state directory's CA, created when missing (first start). */
export async function ensureBuiltinCa(stateDir: string, now = new Date()): Promise<BuiltinCa> {
  const dir = tlsDirOf(stateDir);
  const certFile = path.join(dir, "ca.pem");
  const keyFile = path.join(dir, "ca.key");
  let created = false;
  let certPem: string;
  let keyPem: string;
  if (!existsSync(certFile) && !existsSync(keyFile)) {
    ({ certPem, keyPem } = await createCa(dir, now));
    created = true;
  } else {
    if (!existsSync(keyFile) || !existsSync(certFile))
      throw new Error(
        `${dir} holds ${existsSync(keyFile) ? "ca.key without ca.pem" : "ca.pem without ca.key"}: restore the missing file, or move both away to make a new CA (docs/tls.md)`,
      );
    chmodSync(keyFile, 0o600);
    certPem = readFileSync(certFile, "utf8");
    keyPem = readFileSync(keyFile, "utf8");
  }
  const caCert = new x509.X509Certificate(certPem);
  let signingKey: CryptoKey;
  try {
    signingKey = await webcrypto.subtle.importKey("pkcs8", derOf(keyPem), ALG, false, ["sign"]);
  } catch (err) {
    throw new Error(`${keyFile} is not a P-256 private key: ${(err as Error).message}`);
  }
  if (!new X509Certificate(certPem).checkPrivateKey(createPrivateKey(keyPem)))
    throw new Error(`${keyFile} is not the key of ${certFile}: restore the pair, or move both away to make a new CA (docs/tls.md)`);
  const akid = await x509.AuthorityKeyIdentifierExtension.create(caCert, false);

  return {
    certPem,
    fingerprint: fingerprintOf(certPem),
    dir,
    created,
    async issue(names, lifetimeMs, at = new Date()) {
      const keys = await generateKeys();
      const notBefore = new Date(at.getTime() - BACKDATE_MS);
      const notAfter = new Date(at.getTime() + lifetimeMs);
      const serial = serialNumber();
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial,
        subject: `CN=${names[0]}`,
        issuer: caCert.subject,
        notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signingKey,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
          new x509.SubjectAlternativeNameExtension(
            names.map((n) => (isIP(n) ? { type: "ip" as const, value: n } : { type: "dns" as const, value: n })),
            false,
          ),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
          akid,
        ],
      });
      const key = pem("PRIVATE KEY", await webcrypto.subtle.exportKey("pkcs8", keys.privateKey));
      const leaf = cert.toString("pem").replace(/\r\n/g, "\n").replace(/\n?$/, "\n");
      // As clients print it (Node's X509Certificate, openssl): upper-case hex.
      return { key, cert: leaf + certPem, serial: new X509Certificate(leaf).serialNumber, notBefore, notAfter };
    },
  };
}
