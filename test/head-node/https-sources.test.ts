import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type tls from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpsService, prepareHttps } from "../../head-node/tls";
import { ensureBuiltinCa } from "../../head-node/tls/ca";
import type { TlsPlan } from "../../head-node/tls/settings";
import { ProcessOutput } from "../support/output";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { freePort } from "./ports";

/**
 * The HTTPS front with the certificate sources a site brings, before a stand-in API (a Node HTTP
 * server that answers with what it was sent): its own certificate files, reloaded when they
 * change (and kept when the new pair is bad), and ACME against Let's Encrypt's test server pebble
 * (real http-01 validation, certificates of 30 s, so a renewal comes within the test).
 */
const root = mkdtempSync(path.join(tmpdir(), "tl-sources-"));
const SECRET = "front-proxy-secret-0123456789abcdefghijkl";

/** Answers every request with the headers and body it got, as JSON. */
let upstream: http.Server;
let upstreamUrl: string;

beforeAll(async () => {
  upstream = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ headers: req.headers, body })));
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
});
afterAll(async () => {
  await new Promise((r) => upstream.close(r));
  rmSync(root, { recursive: true, force: true });
});

function get(
  port: number,
  ca: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string; servername?: string } = {},
): Promise<{ status: number; json: any; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: "127.0.0.1",
        port,
        path: "/x",
        method: opts.method ?? "GET",
        headers: opts.headers,
        ca,
        agent: false,
        servername: opts.servername ?? "localhost",
      },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            json: JSON.parse(text),
            serial: (res.socket as tls.TLSSocket).getPeerCertificate().serialNumber,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

const plan = (port: number, source: TlsPlan["source"], names = ["localhost", "127.0.0.1"]): TlsPlan => ({
  enabled: true,
  host: "127.0.0.1",
  port,
  names,
  source,
});

describe("the site's certificate files", () => {
  const dir = path.join(root, "site");
  const certFile = path.join(dir, "tls.crt");
  const keyFile = path.join(dir, "tls.key");
  const notices: string[] = [];
  let siteCa: Awaited<ReturnType<typeof ensureBuiltinCa>>;
  let svc: HttpsService;
  let port: number;

  /** Replaces both files as renewal tools do: write aside, rename over. */
  function install(cert: string, key: string) {
    writeFileSync(`${keyFile}.new`, key, { mode: 0o600 });
    writeFileSync(`${certFile}.new`, cert);
    renameSync(`${keyFile}.new`, keyFile);
    renameSync(`${certFile}.new`, certFile);
  }

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    // The site's CA: any CA will do; this one is made with the same library as the built-in one.
    siteCa = await ensureBuiltinCa(path.join(root, "site-ca"));
    const first = await siteCa.issue(["localhost", "127.0.0.1"], 3_600_000);
    install(first.cert, first.key);
    port = await freePort();
    svc = await prepareHttps(plan(port, { kind: "files", certFile, keyFile }), path.join(root, "state-files"), (l) => notices.push(l));
    await svc.listen(upstreamUrl, SECRET, false);
  });
  afterAll(() => svc?.stop());

  it("serves them, forwarding each request with the client's address and the proxy secret, never the client's own", async () => {
    const r = await get(port, siteCa.certPem, {
      method: "POST",
      body: "hello",
      headers: {
        "x-forwarded-for": "10.6.6.6",
        "x-ochami-proxy-secret": "forged",
        forwarded: "for=10.6.6.6",
        "content-type": "text/plain",
      },
    });
    expect(r.status).toBe(200);
    expect(r.json.body).toBe("hello");
    expect(r.json.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(r.json.headers["x-ochami-proxy-secret"]).toBe(SECRET);
    expect(r.json.headers["x-forwarded-proto"]).toBe("https");
    expect(r.json.headers.forwarded).toBeUndefined();
    expect(r.serial).toBe(svc.current.serial);
  });

  it("reloads a renewed pair without a restart; a bad pair leaves the one in use and says why", async () => {
    const before = svc.current.serial;
    const renewed = await siteCa.issue(["localhost", "127.0.0.1"], 3_600_000);
    install(renewed.cert, renewed.key);
    await waitFor(async () => (await get(port, siteCa.certPem)).serial === renewed.serial, 20_000, "the renewed certificate served");
    expect(notices.join("\n")).toMatch(/https: loaded the new certificate from .*tls\.crt: serial/);
    expect(before).not.toBe(renewed.serial);

    // A certificate with another certificate's key.
    const other = await siteCa.issue(["localhost"], 3_600_000);
    install(other.cert, renewed.key);
    await waitFor(
      () => notices.some((l) => /is not the key of the certificate/.test(l)),
      20_000,
      () => `the refusal; notices: ${notices.join("\n")}`,
    );
    expect((await get(port, siteCa.certPem)).serial).toBe(renewed.serial);
    expect(notices.at(-1)).toMatch(/still serving serial/);
  });
});

/** Whether something accepts TCP connections on 127.0.0.1:port. */
const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });

describe.skipIf(requirements({ commands: ["pebble"] }))("ACME against pebble (http-01)", () => {
  const dir = path.join(root, "pebble");
  let pebble: ChildProcess;
  let pebbleRoot: string;
  let svc: HttpsService;
  let port: number;
  let dirUrl: string;
  let httpPort: number;
  let pebbleCa: string;
  const notices: string[] = [];

  beforeAll(async () => {
    mkdirSync(dir, { recursive: true });
    // pebble's own HTTPS (its ACME directory) needs a certificate: ours.
    const ca = await ensureBuiltinCa(path.join(dir, "listener-ca"));
    const listener = await ca.issue(["localhost", "127.0.0.1"], 3_600_000);
    writeFileSync(path.join(dir, "cert.pem"), listener.cert);
    writeFileSync(path.join(dir, "key.pem"), listener.key);
    pebbleCa = path.join(dir, "listener-ca", "tls", "ca.pem");
    const [acmePort, mgmtPort, tlsAlpnPort] = [await freePort(), await freePort(), await freePort()];
    httpPort = await freePort();
    const config = {
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: path.join(dir, "cert.pem"),
        privateKey: path.join(dir, "key.pem"),
        httpPort,
        tlsPort: tlsAlpnPort,
        ocspResponderURL: "",
        externalAccountBindingRequired: false,
        certificateValidityPeriod: 30,
      },
    };
    writeFileSync(path.join(dir, "config.json"), JSON.stringify(config));
    // No artificial sleeps, no nonce rejections, and every order validated afresh (no authz reuse).
    const env = { ...process.env, PEBBLE_VA_NOSLEEP: "1", PEBBLE_WFE_NONCEREJECT: "0", PEBBLE_AUTHZREUSE: "0" };
    pebble = spawn("pebble", ["-config", path.join(dir, "config.json")], { env, stdio: ["ignore", "pipe", "pipe"] });
    const out = new ProcessOutput(pebble);
    await out.until("ACME directory available", 30_000);
    // pebble logs that line (and its management one) before it binds: wait until both accept.
    for (const p of [acmePort, mgmtPort]) await waitFor(() => accepts(p), 30_000, `pebble to listen on ${p}`);
    dirUrl = `https://127.0.0.1:${acmePort}/dir`;
    const roots = await fetchWithCa(`https://127.0.0.1:${mgmtPort}/roots/0`, ca.certPem);
    pebbleRoot = roots;
    port = await freePort();
    const source = { kind: "acme" as const, directoryUrl: dirUrl, caFile: pebbleCa, httpPort };
    svc = await prepareHttps(plan(port, source, ["localhost"]), path.join(root, "state-acme"), (l) => notices.push(l));
    await svc.listen(upstreamUrl, SECRET, false);
  }, 60_000);
  afterAll(async () => {
    await svc?.stop();
    pebble?.kill();
  });

  it("orders a certificate for the configured names, answering the http-01 challenge itself, and keeps its files owner-only", async () => {
    const r = await get(port, pebbleRoot);
    expect(r.status).toBe(200);
    expect(r.serial).toBe(svc.current.serial);
    const leaf = new X509Certificate(svc.current.cert);
    expect(leaf.subjectAltName).toBe("DNS:localhost");
    expect(leaf.issuer).toMatch(/Pebble Intermediate CA/);
    for (const f of ["acme-account.key", "acme-cert.key"])
      expect(statSync(path.join(root, "state-acme", "tls", f)).mode & 0o777).toBe(0o600);
  });

  it("renews before expiry in the running process (a new order, validated again)", async () => {
    const first = svc.current.serial;
    await waitFor(
      () => svc.current.serial !== first,
      40_000,
      () => `a renewal; notices: ${notices.join("\n")}`,
      { everyMs: 200 },
    );
    const r = await get(port, pebbleRoot);
    expect(r.serial).toBe(svc.current.serial);
    expect(notices.join("\n")).toMatch(/https: renewed the certificate: serial/);
  }, 60_000);

  it("a restart reuses the stored certificate instead of ordering again", async () => {
    const again = await prepareHttps(
      plan(0, { kind: "acme", directoryUrl: dirUrl, caFile: pebbleCa, httpPort: await freePort() }, ["localhost"]),
      path.join(root, "state-acme"),
      () => {},
    );
    try {
      expect(again.current.serial).toBe(svc.current.serial);
    } finally {
      await again.stop();
    }
  });
});

function fetchWithCa(url: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca }, (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve(text));
      })
      .on("error", reject);
  });
}
