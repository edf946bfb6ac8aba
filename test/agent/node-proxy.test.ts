/**
 * The agent's node proxy over real TCP on loopback, driven by curl and raw sockets, in front of a
 * stand-in API that records what reached it.
 */

import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeProxy, startNodeProxy } from "../../onprem-agent/node-proxy";
import { freePort } from "../head-node/ports";
import { startClosingServer } from "../support/closing-server";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { captureLog, curlHttp, sha256 } from "./serving-support";

const SECRET = "node-proxy-test-secret-0123456789abcdefghij";
const LIMIT = 64 * 1024;

interface Seen {
  method?: string;
  url?: string;
  headers: http.IncomingHttpHeaders;
  bodySha?: string;
  bodyLength: number;
  done: boolean;
}

const noCurl = requirements({ commands: ["curl", "truncate"] });

describe.skipIf(noCurl)("node proxy", () => {
  const { log, entries } = captureLog();
  let upstream: http.Server;
  let upstreamUrl: string;
  let proxy: NodeProxy;
  let work = "";
  /** Every request that reached the stand-in API, in order. */
  let seen: Seen[] = [];
  const last = () => seen.at(-1);
  const BIG = randomBytes(8 * 1024 * 1024);

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), "np-"));
    upstream = http.createServer((req, res) => {
      const hash = createHash("sha256");
      const entry: Seen = { method: req.method, url: req.url, headers: req.headers, bodyLength: 0, done: false };
      seen.push(entry);
      // An API that answers before reading the body (workerd may, for a GET).
      if (req.url?.startsWith("/cloud-init/eager.yaml")) {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("answered early\n");
      }
      req.on("data", (chunk: Buffer) => {
        hash.update(chunk);
        entry.bodyLength += chunk.length;
      });
      req.on("end", () => {
        entry.bodySha = hash.digest("hex");
        entry.done = true;
        if (res.headersSent) return;
        if (req.url?.startsWith("/cloud-init/never.yaml")) return; // never answers
        if (req.url?.startsWith("/cloud-init/missing.yaml")) {
          res.writeHead(404, { "content-type": "application/problem+json" });
          return res.end('{"status":404}');
        }
        if (req.url?.startsWith("/cloud-init/big.yaml")) {
          res.writeHead(200, { "content-type": "application/octet-stream" });
          let offset = 0;
          const pump = () => {
            while (offset < BIG.length) {
              const chunk = BIG.subarray(offset, offset + 65536);
              offset += chunk.length;
              if (!res.write(chunk)) return res.once("drain", pump);
            }
            res.end();
          };
          return pump();
        }
        res.writeHead(200, { "content-type": "text/plain", "x-upstream": "yes", connection: "keep-alive" });
        res.end("#!ipxe\necho hello\n");
      });
    });
    await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
    proxy = await startNodeProxy({ address: "127.0.0.1", port: 0, apiUrl: upstreamUrl, responseTimeoutMs: 500, secret: SECRET }, { log });
  });
  afterAll(async () => {
    await proxy?.close();
    upstream?.closeAllConnections();
    await new Promise((resolve) => upstream?.close(resolve));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("forwards boot scripts with X-Forwarded-For replaced by the node's address and its own secret", async () => {
    const r = await curlHttp(`${proxy.url}/boot/v1/bootscript?mac=52:54:00:be:ef:01`, [
      ...["-H", "X-Forwarded-For: 6.6.6.6, 7.7.7.7", "-H", "Forwarded: for=6.6.6.6", "-H", "X-Real-IP: 6.6.6.6"],
      ...["-H", "X-Ochami-Proxy-Secret: a-node-guessing"],
    ]);
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe("#!ipxe\necho hello\n");
    expect(r.headers["x-upstream"]).toBe("yes");
    expect(r.headers["x-ochami-proxy-secret"]).toBeUndefined();
    const got = last()!;
    expect(got.url).toBe("/boot/v1/bootscript?mac=52:54:00:be:ef:01");
    expect(got.headers["x-forwarded-for"]).toBe("127.0.0.1");
    expect(got.headers["x-ochami-proxy-secret"]).toBe(SECRET);
    expect(got.headers.forwarded).toBeUndefined();
    expect(got.headers["x-real-ip"]).toBeUndefined();
    expect(got.headers.host).toBe(new URL(upstreamUrl).host);
    expect(got.headers["x-forwarded-host"]).toBe(new URL(proxy.url).host);
  });

  it("forwards what nodes fetch and nothing else: the admin subtree and other routes are 404, never reaching the API", async () => {
    const nodePaths = [
      "/boot/v1/bootscript",
      "/apis/bss/boot/v1/bootscript?mac=52:54:00:be:ef:01",
      "/cloud-init/meta-data",
      "/cloud-init/user-data",
      "/cloud-init/vendor-data",
      "/cloud-init/network-config",
      "/cloud-init/compute.yaml",
    ];
    for (const p of nodePaths) {
      seen = [];
      const r = await curlHttp(`${proxy.url}${p}`);
      expect(r.status, p).toBe(200);
      expect(last()?.url, p).toBe(p);
    }
    const head = await curlHttp(`${proxy.url}/cloud-init/meta-data`, ["-I"]);
    expect(head.status).toBe(200);
    expect(last()?.method).toBe("HEAD");

    seen = [];
    const adminAndOthers = [
      "/cloud-init/admin/groups",
      "/cloud-init/admin/cluster-defaults",
      "/cloud-init/admin/impersonation/x1000c0s0b0n0/meta-data",
      "/cloud-init/admin/instance-info/x1000c0s0b0n0",
      "/cloud-init/admin/compute.yaml",
      "/cloud-init/version",
      "/cloud-init/",
      "/cloud-init",
      "/cloud-init/.yaml",
      "/cloud-init/meta-data/extra",
      "/cloud-init/meta-dataX",
      "/boot/v1/bootparameters",
      "/boot/v1/bootscriptX",
      "/boot/v1/bootscript/extra",
      "/boot/v1/endpoint-history",
      "/hsm/v2/State/Components",
      "/token",
    ];
    for (const p of adminAndOthers) {
      const r = await curlHttp(`${proxy.url}${p}`);
      expect(r.status, p).toBe(404);
      expect(r.headers["content-type"]).toBe("application/problem+json");
    }
    for (const p of [
      "/cloud-init/../hsm/v2/State/Components",
      "/cloud-init/%2e%2e/hsm/v2/State/Components",
      "/cloud-init/..%2fhsm",
      "/cloud-init/admin%2fgroups.yaml",
      "/boot/v1/bootscript/%2e",
    ]) {
      const r = await curlHttp(`${proxy.url}${p}`, ["--path-as-is"]);
      expect(r.status, p).toBe(400);
    }
    // Nodes only fetch: other methods on a node path are refused too.
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const r = await curlHttp(`${proxy.url}/cloud-init/meta-data`, ["-X", method]);
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe("GET, HEAD");
    }
    expect(seen).toEqual([]);
  });

  it("streams response bodies and passes the status through; a small request body is forwarded, re-framed", async () => {
    const big = await curlHttp(`${proxy.url}/cloud-init/big.yaml`);
    expect(big.status).toBe(200);
    expect(sha256(big.body)).toBe(sha256(BIG));

    const missing = await curlHttp(`${proxy.url}/cloud-init/missing.yaml`);
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).toBe('{"status":404}');

    const small = path.join(work, "small.bin");
    writeFileSync(small, randomBytes(LIMIT));
    for (const framing of [[], ["-H", "Transfer-Encoding: chunked"]]) {
      const r = await curlHttp(`${proxy.url}/cloud-init/meta-data`, ["-X", "GET", "-T", small, ...framing]);
      expect(r.status).toBe(200);
      expect(last()).toMatchObject({ method: "GET", bodyLength: LIMIT, bodySha: sha256(small), done: true });
      if (framing.length) expect(last()!.headers["transfer-encoding"]).toBe("chunked");
      else expect(last()!.headers["content-length"]).toBe(String(LIMIT));
    }
  });

  it("refuses a body over the limit with 413 as it streams, chunked or not, without passing more than the limit on", async () => {
    // Declared too large: refused before anything is forwarded.
    seen = [];
    const declared = await rawExchange(proxy.port, [
      `GET /cloud-init/meta-data HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`,
    ]);
    expect(declared.status).toBe(413);
    expect(seen).toEqual([]);
    // A refused request's body is not read at all: the answer, then the connection closes.
    const refused = await rawExchange(proxy.port, [
      `POST /cloud-init/meta-data HTTP/1.1\r\nHost: x\r\nContent-Length: ${1024 ** 3}\r\n\r\n`,
    ]);
    expect(refused.status).toBe(405);
    const elsewhere = await rawExchange(proxy.port, [
      "GET /cloud-init/admin/groups HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    ]);
    expect(elsewhere.status).toBe(404);
    expect(seen).toEqual([]);

    // A 1 GiB chunked upload (sparse file, streamed by curl): 413 long before its end, and the API
    // never got more than the limit.
    const huge = path.join(work, "huge.bin");
    execFileSync("truncate", ["-s", String(1024 ** 3), huge]);
    seen = [];
    const rssBefore = process.memoryUsage().rss;
    const r = await curlHttp(`${proxy.url}/cloud-init/meta-data`, [
      ...["-X", "GET", "-T", huge, "-H", "Transfer-Encoding: chunked", "-w", "%{size_upload}"],
    ]);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body.toString().replace(/\d+$/, ""))).toMatchObject({ status: 413 });
    const uploaded = Number(/(\d+)$/.exec(r.body.toString())?.[1]);
    expect(uploaded).toBeLessThan(64 * 1024 ** 2);
    expect(seen.reduce((sum, s) => sum + s.bodyLength, 0)).toBeLessThanOrEqual(LIMIT);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 ** 2);
    expect(entries.some((e) => e.msg === "node proxy: request body too large, refused")).toBe(true);
  });

  it("answers 413 the moment a chunked body passes the limit, even when the API has already answered", async () => {
    seen = [];
    const client = await rawClient(proxy.port);
    try {
      client.socket.write("GET /cloud-init/eager.yaml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
      const first = Buffer.alloc(LIMIT - 10, 1);
      client.socket.write(`${first.length.toString(16)}\r\n`);
      client.socket.write(first);
      client.socket.write("\r\n");
      // The API has the request and has answered it; the node is still sending.
      await waitFor(() => seen.length === 1 && seen[0].bodyLength === first.length, 10_000, "the API to see the first chunk");
      client.socket.write("14\r\n01234567890123456789\r\n");
      const response = await client.response();
      expect(response.status).toBe(413);
      expect(response.text).not.toContain("answered early");
    } finally {
      client.socket.destroy();
    }
    // Within the limit, the API's early answer is passed on once the body is complete.
    const ok = await rawExchange(proxy.port, [
      "GET /cloud-init/eager.yaml HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
      "5\r\nhello\r\n0\r\n\r\n",
    ]);
    expect(ok.status).toBe(200);
    expect(ok.text).toContain("answered early");
  });

  it("answers 504 when the API does not respond in time, 502 when it is unreachable", async () => {
    const slow = await curlHttp(`${proxy.url}/cloud-init/never.yaml`);
    expect(slow.status).toBe(504);
    expect(JSON.parse(slow.body.toString())).toMatchObject({ status: 504, title: "Gateway Timeout" });

    const closedPort = await freePort();
    const dead = await startNodeProxy({ address: "127.0.0.1", port: 0, apiUrl: `http://127.0.0.1:${closedPort}` }, { log });
    try {
      const r = await curlHttp(`${dead.url}/boot/v1/bootscript?mac=x`);
      expect(r.status).toBe(502);
      expect(r.headers["content-type"]).toBe("application/problem+json");
      expect(JSON.parse(r.body.toString())).toMatchObject({ type: "about:blank", title: "Bad Gateway", status: 502 });
    } finally {
      await dead.close();
    }
  });

  it("sends a request again when the API closed the kept-alive connection it went out on; never one with a body", async () => {
    const closing = await startClosingServer();
    const p = await startNodeProxy({ address: "127.0.0.1", port: 0, apiUrl: closing.url, secret: SECRET }, { log });
    try {
      const first = await curlHttp(`${p.url}/boot/v1/bootscript?mac=52:54:00:be:ef:01`);
      const second = await curlHttp(`${p.url}/boot/v1/bootscript?mac=52:54:00:be:ef:02`);
      expect([first.status, second.status, second.body.toString()]).toEqual([200, 200, "ok\n"]);
      // The second went out on the first's connection, was cut, and went again on a new one.
      expect(closing.requests.map((r) => [r.connection, /mac=\S+/.exec(r.head)?.[0]])).toEqual([
        [1, "mac=52:54:00:be:ef:01"],
        [1, "mac=52:54:00:be:ef:02"],
        [2, "mac=52:54:00:be:ef:02"],
      ]);
      // A request with a body is not sent twice: its 502 says what happened.
      const withBody = await curlHttp(`${p.url}/cloud-init/meta-data`, ["-X", "GET", "--data-binary", "hello"]);
      expect(withBody.status).toBe(502);
      expect(closing.requests.filter((r) => r.head.startsWith("GET /cloud-init/meta-data"))).toHaveLength(1);
    } finally {
      await p.close();
      await closing.close();
    }
  });

  it("reads its secret from secretFile, and warns when it has none", async () => {
    const file = path.join(work, "proxy.secret");
    writeFileSync(file, `${SECRET}\n`, { mode: 0o600 });
    const fromFile = await startNodeProxy({ address: "127.0.0.1", port: 0, apiUrl: upstreamUrl, secretFile: file }, { log });
    try {
      await curlHttp(`${fromFile.url}/cloud-init/meta-data`);
      expect(last()!.headers["x-ochami-proxy-secret"]).toBe(SECRET);
    } finally {
      await fromFile.close();
    }
    writeFileSync(file, "short\n");
    await expect(startNodeProxy({ address: "127.0.0.1", port: 0, apiUrl: upstreamUrl, secretFile: file }, { log })).rejects.toThrow(
      /secretFile .* must hold at least 32 printable ASCII characters/,
    );
    await expect(
      startNodeProxy({ address: "127.0.0.1", port: 0, apiUrl: upstreamUrl, secretFile: path.join(work, "missing") }, { log }),
    ).rejects.toThrow(/cannot read secretFile/);
    const bare = captureLog();
    const without = await startNodeProxy({ address: "127.0.0.1", port: 0, apiUrl: upstreamUrl }, { log: bare.log });
    try {
      expect(bare.entries.some((e) => e.level === "warn" && /no secret set/.test(e.msg))).toBe(true);
      await curlHttp(`${without.url}/cloud-init/meta-data`, ["-H", `X-Ochami-Proxy-Secret: ${SECRET}`]);
      expect(last()!.headers["x-ochami-proxy-secret"]).toBeUndefined();
    } finally {
      await without.close();
    }
  });
});

interface RawResponse {
  status: number;
  text: string;
}

/** A raw HTTP/1.1 client: the test writes exactly the bytes it wants, and reads the first response's status. */
async function rawClient(port: number): Promise<{ socket: Socket; response(): Promise<RawResponse> }> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  let text = "";
  socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
  socket.on("error", () => {}); // a reset after the answer is expected
  const response = () =>
    waitFor(
      () => /\r\n\r\n/.test(text),
      10_000,
      () => `a response (got ${JSON.stringify(text)})`,
    ).then(() => ({
      status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]),
      text,
    }));
  return { socket, response };
}

/** One exchange on its own connection, read until the proxy closes it (413s close; the others ask for it). */
async function rawExchange(port: number, parts: string[]): Promise<RawResponse> {
  const client = await rawClient(port);
  try {
    for (const p of parts) client.socket.write(p);
    await waitFor(() => client.socket.closed || client.socket.readableEnded, 10_000, "the proxy to close the connection");
    return await client.response();
  } finally {
    client.socket.destroy();
  }
}
