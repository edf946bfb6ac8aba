import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import https from "node:https";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeHome, ochami } from "../cli/harness";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { cleanEnv, type Started, startHeadNode } from "./auth-process";
import { freePort } from "./ports";

/**
 * `npm start` serves the API over HTTPS with its built-in CA: real clients (curl, openssl
 * s_client, the ochami CLI, Node's TLS) verify it, refuse what they must (no CA, a wrong name, an
 * expired certificate, TLS 1.1), and see no failure while the certificate is renewed twice in the
 * running process. Certificates live 20 s here and are renewed 12 s before they expire, so a
 * renewal comes every ~8 s.
 */
const LIFETIME_S = 20;
const missing = requirements({ commands: ["curl", "openssl", "faketime"] });

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d) => (stdout += d));
    p.stderr.on("data", (d) => (stderr += d));
    p.on("error", reject);
    p.on("close", (code) => resolve({ code, stdout, stderr }));
    // A command that does not read its input may have exited before it is written: an EPIPE
    // here is no failure of the command (it failed a full run once, uncaught).
    p.stdin.on("error", () => {});
    p.stdin.end(opts.input ?? "");
  });
}

/** The certificate a new TLS connection is shown, and whether it verified against `ca`. */
function handshake(port: number, servername: string, ca?: string): Promise<{ serial: string; authorized: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: "127.0.0.1", port, servername, ca, rejectUnauthorized: false }, () => {
      const cert = s.getPeerCertificate();
      resolve({ serial: cert.serialNumber, authorized: s.authorized, error: s.authorizationError?.toString() });
      s.destroy();
    });
    s.on("error", reject);
  });
}

describe.skipIf(missing)("the API over HTTPS with the built-in CA (npm start, real clients)", () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "tl-https-"));
  const home = makeHome();
  const host = hostname();
  let node: Started;
  let tlsPort: number;
  let port: number;
  let caFile: string;
  let caPem: string;
  let url: string;

  beforeAll(async () => {
    port = await freePort();
    tlsPort = await freePort();
    const env = cleanEnv({
      PORT: String(port),
      OCHAMI_STATE_DIR: stateDir,
      OCHAMI_AGENT: "off",
      OCHAMI_TLS_PORT: String(tlsPort),
      // Not localhost: the tests reach the same port by a name the certificate is not for.
      OCHAMI_TLS_NAMES: `127.0.0.1,${host}`,
      OCHAMI_TLS_CERT_LIFETIME: `${LIFETIME_S}s`,
      OCHAMI_TLS_RENEW_BEFORE: "12s",
    });
    node = await startHeadNode(env, 180_000);
    // The listener lines come last, after the HTTPS ones.
    await waitFor(
      () => /^ {2}database\s+unix:/m.test(node.output()),
      60_000,
      () => `the listener lines; npm start printed:\n${node.output()}`,
    );
    caFile = path.join(stateDir, "tls", "ca.pem");
    caPem = readFileSync(caFile, "utf8");
    url = `https://127.0.0.1:${tlsPort}`;
  }, 240_000);
  afterAll(async () => {
    await node?.stop();
    rmSync(stateDir, { recursive: true, force: true });
    home.remove();
  });

  it("creates the CA on first start (key owner-only, never printed) and prints its fingerprint", () => {
    const dir = path.join(stateDir, "tls");
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, "ca.key")).mode & 0o777).toBe(0o600);
    const out = node.output();
    const fingerprint = new X509Certificate(caPem).fingerprint256;
    expect(out).toContain(`https: created the cluster CA in ${dir}`);
    expect(out).toContain(`SHA-256 fingerprint ${fingerprint}`);
    const key = readFileSync(path.join(dir, "ca.key"), "utf8");
    const body = key.split("\n").filter((l) => l && !l.startsWith("-----"));
    for (const line of body) expect(out).not.toContain(line);
    expect(out).toMatch(new RegExp(`^ {2}HTTPS +127\\.0\\.0\\.1:${tlsPort}/tcp +OCHAMI_TLS_PORT `, "m"));
  });

  it("curl --cacert verifies it; /ca.pem is the CA; HSTS by DNS name only", async () => {
    const ok = await run("curl", ["-sS", "-D-", "-o", "/dev/null", "--cacert", caFile, `${url}/hsm/v2/service/liveness`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^HTTP\/1\.1 204/);
    expect(ok.stdout).not.toMatch(/strict-transport-security/i); // an IP address: browsers ignore HSTS there
    const byName = await run("curl", [
      ...["-sS", "-D-", "-o", "/dev/null", "--cacert", caFile, "--resolve", `${host}:${tlsPort}:127.0.0.1`],
      `https://${host}:${tlsPort}/hsm/v2/service/liveness`,
    ]);
    expect(byName.code, byName.stderr).toBe(0);
    expect(byName.stdout).toMatch(/^strict-transport-security: max-age=31536000\r?$/im);
    const ca = await run("curl", ["-sS", "--cacert", caFile, `${url}/ca.pem`]);
    expect(ca.stdout).toBe(caPem);
  });

  it("curl refuses it without the CA, for a name it is not for, when expired, and over TLS 1.1", async () => {
    const noCa = await run("curl", ["-sS", `${url}/ca.pem`]);
    expect(noCa.code).toBe(60);
    expect(noCa.stderr).toMatch(/self-signed certificate in certificate chain/);
    const wrongName = await run("curl", [
      ...["-sS", "--cacert", caFile, "--resolve", `wrong.example.org:${tlsPort}:127.0.0.1`],
      `https://wrong.example.org:${tlsPort}/ca.pem`,
    ]);
    expect(wrongName.code).toBe(60);
    expect(wrongName.stderr).toMatch(/no alternative certificate subject name matches/);
    // An hour on, the certificate served now (20 s) has long expired.
    const expired = await run("faketime", ["-f", "+1h", "curl", "-sS", "--cacert", caFile, `${url}/ca.pem`]);
    expect(expired.code).toBe(60);
    expect(expired.stderr).toMatch(/certificate has expired/);
    // SECLEVEL=0 lets this curl offer TLS 1.1: the refusal is the server's (its protocol_version alert).
    const old = await run("curl", [
      "-sS",
      "--tlsv1.1",
      "--tls-max",
      "1.1",
      "--ciphers",
      "DEFAULT@SECLEVEL=0",
      "--cacert",
      caFile,
      `${url}/ca.pem`,
    ]);
    expect(old.code).toBe(35);
    expect(old.stderr).toMatch(/tlsv1 alert protocol version/);
  });

  it("openssl s_client: the chain verifies to the CA; names, issuer and expiry are as configured; TLS 1.1 is refused", async () => {
    const r = await run("openssl", [
      ...["s_client", "-connect", `127.0.0.1:${tlsPort}`, "-servername", host, "-CAfile", caFile],
      ...["-verify_return_error", "-verify_hostname", host, "-showcerts"],
    ]);
    expect(r.stdout).toMatch(/Verify return code: 0 \(ok\)/);
    const certs = r.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    expect(certs).toHaveLength(2); // the server's, then the CA's
    const leaf = new X509Certificate(certs[0]!);
    const ca = new X509Certificate(caPem);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(new X509Certificate(certs[1]!).fingerprint256).toBe(ca.fingerprint256);
    expect(leaf.subjectAltName).toBe(`IP Address:127.0.0.1, DNS:${host}`);
    const validMs = Date.parse(leaf.validTo) - Date.now();
    expect(validMs).toBeGreaterThan(0);
    expect(validMs).toBeLessThanOrEqual(LIFETIME_S * 1000);
    expect(leaf.ca).toBe(false);
    const tls11 = await run("openssl", ["s_client", "-connect", `127.0.0.1:${tlsPort}`, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"]);
    expect(tls11.code).not.toBe(0);
    expect(tls11.stderr).toMatch(/tlsv1 alert protocol version/);
  });

  it("ochami: refuses the unknown CA with a clear error, pins it after the fingerprint check, then works", async () => {
    const cli = (args: string[], prefix?: string[]) => ochami(args, { env: home.env, prefix });
    expect((await cli(["config", "cluster", "set", "--default", "demo", "cluster.uri", url])).code).toBe(0);
    const before = await cli(["smd", "component", "get"]);
    expect(before.code).not.toBe(0);
    expect(before.stderr).toMatch(/TLS certificate not trusted: self-signed certificate in certificate chain/);
    expect(before.stderr).toMatch(/ochami config cluster trust-ca/);
    expect(before.stderr, "an error, not a stack trace").not.toMatch(/^\s+at /m);

    const wrong = await cli(["config", "cluster", "trust-ca", "demo", "--fingerprint", "00:11:22"]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/not trusted/);
    const unasked = await cli(["config", "cluster", "trust-ca", "demo"]);
    expect(unasked.code).not.toBe(0);
    expect(unasked.stderr).toContain(new X509Certificate(caPem).fingerprint256);

    const fp = (await run("openssl", ["x509", "-in", caFile, "-noout", "-fingerprint", "-sha256"])).stdout.split("=")[1].trim();
    const pinned = await cli(["config", "cluster", "trust-ca", "demo", "--fingerprint", fp]);
    expect(pinned.code, pinned.stderr).toBe(0);
    const cacert = (await cli(["config", "cluster", "show", "demo", "cluster.cacert"])).stdout.trim();
    expect(readFileSync(cacert, "utf8")).toBe(caPem);
    const after = await cli(["smd", "component", "get"]);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout)).toEqual({ Components: [] });

    // Pinned, and still refused: a name the certificate is not for, an expired certificate.
    const wrongName = await cli(["--cluster-uri", `https://localhost:${tlsPort}`, "--cacert", cacert, "smd", "component", "get"]);
    expect(wrongName.code).not.toBe(0);
    expect(wrongName.stderr).toMatch(/the server's TLS certificate is not for this name/);
    const expired = await cli(["smd", "component", "get"], ["faketime", "-f", "+1h"]);
    expect(expired.code).not.toBe(0);
    expect(expired.stderr).toMatch(/the server's TLS certificate has expired/);
  });

  it("the API counts the client's own address, not the front's loopback one, and ignores a client's X-Forwarded-For", async () => {
    const admin = JSON.parse(readFileSync(path.join(stateDir, "auth", "admin-client.json"), "utf8"));
    const form = `grant_type=client_credentials&client_id=${admin.client_id}&client_secret=wrong`;
    // From 127.0.0.2 over HTTPS, claiming to be 10.9.9.9: failures are counted against 127.0.0.2 until it is throttled.
    const viaTls = () =>
      run("curl", [
        ...["-sS", "--interface", "127.0.0.2", "--cacert", caFile, "-H", "X-Forwarded-For: 10.9.9.9", "-d", form],
        `${url}/token`,
      ]);
    const throttled = await waitFor(
      async () => {
        const all = await Promise.all(Array.from({ length: 12 }, viaTls));
        return all.find((r) => /"status":429/.test(r.stdout));
      },
      60_000,
      "a 429 for 127.0.0.2",
    );
    expect(throttled.stdout).toMatch(/too many failed client authentications from 127\.0\.0\.2/);
    // 127.0.0.1 (here over plain HTTP) has its own bucket: still answered, not throttled.
    const plain = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-d", form, `http://127.0.0.1:${port}/token`]);
    expect(plain.stdout).toBe("401");
  });

  it("renews the certificate twice in the running process: no request fails, new connections see new serials", async () => {
    const renewals = () => node.output().match(/^https: renewed the certificate: serial [0-9A-F]+/gm)?.length ?? 0;
    const start = renewals();
    const kept = new https.Agent({ keepAlive: true, maxSockets: 1, ca: caPem });
    const get = (agent: https.Agent | false) =>
      new Promise<{ status: number; serial: string; reused: boolean }>((resolve, reject) => {
        const req = https.get(`${url}/hsm/v2/service/liveness`, { agent, ca: caPem }, (res) => {
          res.resume();
          const serial = (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber;
          res.on("end", () => resolve({ status: res.statusCode ?? 0, serial, reused: req.reusedSocket }));
        });
        req.on("error", reject);
      });
    const failures: string[] = [];
    const freshSerials = new Set<string>();
    const keptSerials = new Set<string>();
    let keptReused = 0;
    let sent = 0;
    let done = false;
    const loop = async (agent: https.Agent | false, serials: Set<string>) => {
      while (!done) {
        sent++;
        try {
          const r = await get(agent);
          if (r.status !== 204) failures.push(`status ${r.status}`);
          serials.add(r.serial);
          if (agent && r.reused) keptReused++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const loops = [loop(false, freshSerials), loop(kept, keptSerials)];
    try {
      await waitFor(
        () => renewals() >= start + 2,
        3 * LIFETIME_S * 1000,
        () => `two renewals; npm start printed:\n${node.output()}`,
        {
          everyMs: 200,
        },
      );
      // One more new connection after the second renewal.
      await waitFor(() => freshSerials.size >= 3, 10_000, "a new connection after the second renewal");
    } finally {
      done = true;
      await Promise.all(loops);
      kept.destroy();
    }
    expect(failures).toEqual([]);
    expect(sent).toBeGreaterThan(20);
    // New handshakes got each new certificate; the kept-alive connection went on with the one it had.
    expect(freshSerials.size).toBeGreaterThanOrEqual(3);
    expect(keptReused).toBeGreaterThan(0);
    const current = await handshake(tlsPort, host, caPem);
    expect(current.authorized).toBe(true);
    expect(freshSerials.has(current.serial) || renewals() > start + 2).toBe(true);
  }, 120_000);
});
