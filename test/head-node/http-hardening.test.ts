import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { generateSigningKey } from "../../shared/auth/keys";
import { hashSecret } from "../../shared/auth/secret-hash";
import { requirements } from "../support/requirements";
import { freePort } from "./ports";

const execFileAsync = promisify(execFile);
/** A command's output, whatever its exit status. */
const run = (cmd: string, args: string[]) =>
  execFileAsync(cmd, args, { timeout: 30_000 }).catch((err: { stdout: string; stderr: string }) => ({
    stdout: err.stdout,
    stderr: err.stderr,
  }));

/**
 * What only shows against the real runner (workerd serving the bundled worker on a TCP socket):
 * request targets workerd's HTTP layer sees before the worker, bodies streamed chunked over a
 * real connection into the real process's memory, the token endpoint's throttle by source address.
 */

const ADMIN_ID = "hardening-admin";
const ADMIN_SECRET = "hardening-secret-0123456789abcdefghijklmnopqrstuv";

let api: ApiServer;
let port: number;
let stateDir: string;

beforeAll(async () => {
  stateDir = mkdtempSync(path.join(tmpdir(), "ochami-hardening-"));
  port = await freePort();
  api = await startApiServer({
    port,
    stateDir,
    vars: {
      OCHAMI_AUTH: "on",
      OCHAMI_AUTH_SIGNING_KEY: JSON.stringify(await generateSigningKey()),
      OCHAMI_AUTH_BOOTSTRAP_CLIENT: JSON.stringify({ client_id: ADMIN_ID, secret_hash: await hashSecret(ADMIN_SECRET), scope: "admin" }),
    },
    onLog: () => {},
  });
  // A node that boots, so a bootscript is real work on the API thread.
  const token = await adminToken();
  const call = async (method: string, p: string, body: unknown) => {
    const r = await fetch(`${api.url}${p}`, { method, body: JSON.stringify(body), headers: { authorization: `Bearer ${token}` } });
    expect(r.status, `${method} ${p}`).toBeLessThan(300);
  };
  await call("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x3000c0s1b0n0", State: "Ready", NID: 1 }] });
  await call("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: "02:00:00:00:00:07", ComponentID: "x3000c0s1b0n0" });
  await call("PUT", "/boot/v1/bootparameters", { macs: ["02:00:00:00:00:07"], kernel: "http://k/vmlinuz" });
});

afterAll(async () => {
  await api?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function adminToken(): Promise<string> {
  const r = await fetch(`${api.url}/token`, {
    method: "POST",
    headers: { authorization: `Basic ${btoa(`${ADMIN_ID}:${ADMIN_SECRET}`)}`, "content-type": "application/x-www-form-urlencoded" },
    body: "grant_type=client_credentials",
  });
  expect(r.status).toBe(200);
  return ((await r.json()) as { access_token: string }).access_token;
}

/** Sends `raw` on a fresh TCP connection and returns what comes back until the server closes it. */
function rawExchange(raw: string, localAddress = "127.0.0.1"): Promise<{ statusLine: string; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress }, () => socket.end(raw));
    let data = "";
    socket.setEncoding("utf8");
    socket.on("data", (d) => (data += d));
    socket.on("error", reject);
    socket.on("close", () => {
      const [head, ...rest] = data.split("\r\n\r\n");
      resolve({ statusLine: head.split("\r\n")[0], head, body: rest.join("\r\n\r\n") });
    });
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer to ${JSON.stringify(raw.slice(0, 60))}`)));
  });
}

const bootscriptUrl = () => `${api.url}/boot/v1/bootscript?mac=02:00:00:00:00:07`;

/** The API process's resident memory, in MB. */
function apiRssMb(): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${api.process.pid}/status`, "utf8"));
  return Number(m![1]) / 1024;
}

/**
 * POSTs up to `totalBytes` with chunked framing (no Content-Length), 64 KiB a chunk, over a raw
 * socket until the server answers, writing as fast as the socket takes it and stopping at the
 * first byte of the answer, as curl does; returns the answer, how much had been sent by then and
 * whether the connection was reset before any answer came. (The server closes the connection a
 * while after refusing, the rest of the body unread, so the end is a reset.)
 */
function chunkedUpload(
  p: string,
  totalBytes: number,
  headers: Record<string, string> = {},
): Promise<{ status: number; sent: number; body: string; resetBeforeAnswer: boolean }> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const frame = Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")]);
    const head = Object.entries({ host: `127.0.0.1:${port}`, ...headers, "transfer-encoding": "chunked" })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join("");
    const socket = connect({ host: "127.0.0.1", port });
    let sent = 0;
    let sentAtAnswer: number | undefined;
    let data = "";
    let resetBeforeAnswer = false;
    socket.setEncoding("utf8");
    socket.on("data", (d) => {
      sentAtAnswer ??= sent;
      data += d;
    });
    socket.on("error", () => {
      resetBeforeAnswer ||= sentAtAnswer === undefined;
    });
    socket.on("close", () => {
      const m = /^HTTP\/1\.1 (\d{3}) [^\r]*\r\n[\s\S]*?\r\n\r\n([\s\S]*)$/.exec(data);
      if (!m)
        return reject(new Error(`no answer after ${sent} bytes (reset: ${resetBeforeAnswer}): ${JSON.stringify(data.slice(0, 100))}`));
      resolve({ status: Number(m[1]), sent: sentAtAnswer ?? sent, body: m[2], resetBeforeAnswer });
    });
    socket.write(`POST ${p} HTTP/1.1\r\n${head}\r\n`);
    const pump = () => {
      while (sentAtAnswer === undefined && sent < totalBytes && !socket.destroyed) {
        sent += chunk.length;
        if (!socket.write(frame)) return void socket.once("drain", pump);
      }
      if (sentAtAnswer === undefined && !socket.destroyed) socket.end("0\r\n\r\n");
    };
    pump();
  });
}

describe("bodies are limited however framed, in the real process", () => {
  it("a 1.1 GB chunked POST to the public /token gets 413 after 64 KiB; memory stays flat and a bootscript is answered meanwhile", async () => {
    const before = apiRssMb();
    const upload = chunkedUpload("/token", 1100 * 1024 * 1024, { "content-type": "application/x-www-form-urlencoded" });
    const started = Date.now();
    const boot = await fetch(bootscriptUrl());
    const bootMs = Date.now() - started;
    expect(boot.status).toBe(200);
    expect(await boot.text()).toContain("http://k/vmlinuz");
    const r = await upload;
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toMatchObject({ status: 413, detail: "request body is larger than 65536 bytes" });
    expect(r.sent).toBeLessThan(64 * 1024 * 1024); // refused long before the client was done
    expect(bootMs).toBeLessThan(2000);
    expect(apiRssMb() - before).toBeLessThan(50);
  });

  it.skipIf(requirements({ commands: ["curl"] }))(
    "a client still sending reads its 413 before the connection ends: 8 raw uploads and 8 curl uploads at once, none reset first",
    async () => {
      // workerd closes with the body unread, which the kernel turns into a reset; before the API held
      // the connection open after a 413, a client writing at full speed lost the answer to that reset
      // about one time in four (curl: one in two, "Send failure: Connection reset by peer").
      const raw = Array.from({ length: 8 }, () =>
        chunkedUpload("/token", 1100 * 1024 * 1024, { "content-type": "application/x-www-form-urlencoded" }),
      );
      // curl -T - streams stdin chunked; no Expect, so it sends at once as a script would.
      const curl = Array.from({ length: 8 }, () =>
        run("sh", [
          "-c",
          `head -c 1100M /dev/zero | curl -sS -o - -w '\n%{http_code}' -X POST -T - -H 'Expect:' ` +
            `-H 'content-type: application/x-www-form-urlencoded' ${api.url}/token`,
        ]),
      );
      for (const r of await Promise.all(raw)) {
        expect(r.resetBeforeAnswer).toBe(false);
        expect(r.status).toBe(413);
      }
      for (const r of await Promise.all(curl)) {
        expect(r.stderr).toBe("");
        expect(r.stdout.split("\n").at(-1)).toBe("413");
        expect(JSON.parse(r.stdout.split("\n")[0]).detail).toBe("request body is larger than 65536 bytes");
      }
    },
  );

  it("a 600 MB chunked body to a JSON route gets 413 at 64 MiB, not a 500", async () => {
    const before = apiRssMb();
    const r = await chunkedUpload("/hsm/v2/State/Components", 600 * 1024 * 1024, { authorization: `Bearer ${await adminToken()}` });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).detail).toBe(`request body is larger than ${64 * 1024 * 1024} bytes`);
    expect(r.sent).toBeLessThan(200 * 1024 * 1024);
    // The limit's worth is held while reading, then let go; never the whole body.
    expect(apiRssMb() - before).toBeLessThan(250);
    expect((await fetch(bootscriptUrl())).status).toBe(200);
  });
});

describe("request targets workerd hands over as sent (RFC 9112 §3.2)", () => {
  const host = () => `127.0.0.1:${port}`;

  it("accepts the absolute form, its authority winning over Host", async () => {
    const r = await rawExchange(`GET http://${host()}/hsm/v2/service/ready HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`);
    expect(r.statusLine).toBe("HTTP/1.1 200 OK");
    expect(JSON.parse(r.body)).toEqual({ code: 0, message: "HSM is healthy" });
    const script = await rawExchange(
      `GET http://ochami.example:8081/boot/v1/bootscript?mac=02:00:00:00:00:07 HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`,
    );
    expect(script.statusLine).toBe("HTTP/1.1 200 OK");
    expect(script.body).toContain("http://k/vmlinuz");
    // Protected routes stay protected in the absolute form.
    const groups = await rawExchange(`GET http://${host()}/hsm/v2/groups HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`);
    expect(groups.statusLine).toBe("HTTP/1.1 401 Unauthorized");
  });

  it("answers OPTIONS * with the methods the API uses, and malformed targets or Host headers with 400 problems", async () => {
    const options = await rawExchange(`OPTIONS * HTTP/1.1\r\nHost: ${host()}\r\nConnection: close\r\n\r\n`);
    expect(options.statusLine).toBe("HTTP/1.1 204 No Content");
    expect(options.head.toLowerCase()).toContain("allow: get, head, post, put, patch, delete");
    const cases: [string, string][] = [
      [`GET * HTTP/1.1\r\nHost: ${host()}`, "the request target '*' is for OPTIONS only (RFC 9112 §3.2.4)"],
      ["GET /hsm/v2/service/ready HTTP/1.1\r\nHost: a b", "the Host header 'a b' is not a host and port"],
      ["GET /hsm/v2/service/ready HTTP/1.1", "the request has no Host header (RFC 9112 §3.2)"],
      [`GET ftp://${host()}/x HTTP/1.1\r\nHost: ${host()}`, `the request target 'ftp://${host()}/x' is neither a path nor an http(s) URL`],
      [`GET http://${host()}:99999/x HTTP/1.1\r\nHost: ${host()}`, `the request target 'http://${host()}:99999/x' is not a valid URL`],
    ];
    for (const [head, detail] of cases) {
      const r = await rawExchange(`${head}\r\nConnection: close\r\n\r\n`);
      expect(r.statusLine, head).toBe("HTTP/1.1 400 Bad Request");
      expect(r.head.toLowerCase(), head).toContain("content-type: application/problem+json");
      expect(JSON.parse(r.body).detail, head).toBe(detail);
    }
  });

  it("never tunnels a CONNECT (workerd refuses it before the worker runs), and keeps serving", async () => {
    const r = await rawExchange(`CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n`);
    expect(r.statusLine).toMatch(/^HTTP\/1\.1 [45]\d\d /);
    expect((await fetch(`${api.url}/hsm/v2/service/ready`)).status).toBe(200);
  });
});

describe("token endpoint throttling, by the real source address", () => {
  /** POST /token from `localAddress` (a loopback address of our choosing). */
  function tokenFrom(localAddress: string, secret: string) {
    const form = "grant_type=client_credentials";
    const auth = `Basic ${btoa(`${ADMIN_ID}:${secret}`)}`;
    return rawExchange(
      `POST /token HTTP/1.1\r\nHost: ${`127.0.0.1:${port}`}\r\nAuthorization: ${auth}\r\nContent-Type: application/x-www-form-urlencoded\r\n` +
        `Content-Length: ${form.length}\r\nConnection: close\r\n\r\n${form}`,
      localAddress,
    );
  }

  it("refuses a guessing address with 429 and Retry-After while the real client, from elsewhere, gets its token", async () => {
    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 30 }, () => tokenFrom("127.0.0.2", "wrong")));
    const seconds = (Date.now() - started) / 1000;
    const verified = burst.filter((r) => r.statusLine === "HTTP/1.1 401 Unauthorized");
    const refused = burst.filter((r) => r.statusLine === "HTTP/1.1 429 Too Many Requests");
    expect(verified.length + refused.length).toBe(30);
    // 10 failures, plus one more for each second the burst took (the bucket refills one a second).
    expect(verified.length).toBeGreaterThanOrEqual(10);
    expect(verified.length).toBeLessThanOrEqual(10 + Math.ceil(seconds));
    expect(refused[0].head.toLowerCase()).toMatch(/\r\nretry-after: \d+(\r\n|$)/);
    expect(JSON.parse(refused[0].body).detail).toMatch(/^too many failed client authentications from 127\.0\.0\.2; try again in \d+ s$/);
    expect((await tokenFrom("127.0.0.3", ADMIN_SECRET)).statusLine).toBe("HTTP/1.1 200 OK");
  });
});
