/**
 * The agent's image server over real TCP on loopback, driven by curl.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifier, DEFAULT_CLASSIFY, type ImageServer, startImageServer } from "../../onprem-agent/images";
import { answerFor, etagOf } from "../../onprem-agent/images/file-response";
import { ChunkPool } from "../../onprem-agent/images/pump";
import type { ServedEvent } from "../../onprem-agent/service-deps";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { captureLog, curlHttp, sha256 } from "./serving-support";

// Made in beforeAll, not at import: a file collected but filtered out (-t) must leave nothing behind.
let work = "";
let root = "";
const image = "openchami/rocky/test";
const KVER = "6.1.0-28-amd64";
const content = {
  kernel: randomBytes(300_000),
  initrd: randomBytes(700_000),
  rootfs: randomBytes(2_000_000),
};
const HUGE = 5 * 1024 ** 3; // sparse, 5 GiB
const MARK_AT = 4.5 * 1024 ** 3;
const MARK = Buffer.from("past four gibibytes");

function setUpTree() {
  work = mkdtempSync(path.join(tmpdir(), "ti-images-"));
  root = path.join(work, "domain-images");
  mkdirSync(path.join(root, image), { recursive: true });
  mkdirSync(path.join(work, "outside"));
  writeFileSync(path.join(root, "index.html"), "Service Available\n"); // as the seed's image-server
  writeFileSync(path.join(root, image, `vmlinuz-${KVER}`), content.kernel);
  writeFileSync(path.join(root, image, `initramfs-${KVER}.img`), content.initrd);
  writeFileSync(path.join(root, image, `rootfs-${KVER}`), content.rootfs);
  writeFileSync(path.join(root, image, ".hidden"), "hidden");
  writeFileSync(path.join(work, "outside", "secret.txt"), "outside the root");
  symlinkSync("/etc/passwd", path.join(root, "openchami", "passwd"));
  symlinkSync(path.join(work, "outside"), path.join(root, "openchami", "out"));
  symlinkSync("rocky/test", path.join(root, "openchami", "latest"));
  const huge = path.join(root, "huge.img");
  execFileSync("truncate", ["-s", String(HUGE), huge]);
  const fd = openSync(huge, "r+");
  writeSync(fd, MARK, 0, MARK.length, MARK_AT);
  closeSync(fd);
}

/** The image server is driven by curl (and the 5 GiB test file is made sparse by truncate). */
const noCurl = requirements({ commands: ["curl", "truncate"] });

describe.skipIf(noCurl)("image server", () => {
  const { log, entries } = captureLog();
  const metrics = new Registry();
  const events: ServedEvent[] = [];
  let server: ImageServer;
  const url = (p: string) => `${server.url}${p}`;
  const kernelPath = `/${image}/vmlinuz-${KVER}`;

  beforeAll(async () => {
    setUpTree();
    server = await startImageServer({ address: "127.0.0.1", port: 0, root }, { log, metrics, report: (e) => events.push(e) });
  });
  afterAll(async () => {
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("serves files with GET, intact, with validators and Accept-Ranges", async () => {
    for (const [file, bytes] of [
      [`vmlinuz-${KVER}`, content.kernel],
      [`initramfs-${KVER}.img`, content.initrd],
      [`rootfs-${KVER}`, content.rootfs],
    ] as const) {
      const r = await curlHttp(url(`/${image}/${file}`));
      expect(r.status, file).toBe(200);
      expect(sha256(r.body)).toBe(sha256(bytes));
      expect(r.headers["content-length"]).toBe(String(bytes.length));
      expect(r.headers["accept-ranges"]).toBe("bytes");
      expect(r.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
      expect(new Date(r.headers["last-modified"]).getTime()).toBeGreaterThan(0);
    }
    // The seed's health page, and a symlinked directory inside the root.
    expect((await curlHttp(url("/"))).body.toString()).toBe("Service Available\n");
    expect(sha256((await curlHttp(url(`/openchami/latest/vmlinuz-${KVER}`))).body)).toBe(sha256(content.kernel));
  });

  it("answers HEAD with the headers of GET and no body", async () => {
    const r = await curlHttp(url(kernelPath), ["-I"]);
    expect(r.status).toBe(200);
    expect(r.headers["content-length"]).toBe(String(content.kernel.length));
    // On the wire: the response ends with the header block.
    const wire = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, "127.0.0.1", () =>
        socket.write(`HEAD ${kernelPath} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
      );
      const chunks: Buffer[] = [];
      socket.on("data", (c: Buffer) => chunks.push(c));
      socket.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
      socket.on("error", reject);
    });
    expect(wire.slice(0, 12), wire).toBe("HTTP/1.1 200");
    expect(wire.endsWith("\r\n\r\n"), wire).toBe(true);
  });

  it("serves single ranges: first bytes, suffix, open-ended; 416 when unsatisfiable", async () => {
    const size = content.kernel.length;
    const first = await curlHttp(url(kernelPath), ["-r", "0-99"]);
    expect(first.status).toBe(206);
    expect(first.body).toEqual(content.kernel.subarray(0, 100));
    expect(first.headers["content-range"]).toBe(`bytes 0-99/${size}`);

    const suffix = await curlHttp(url(kernelPath), ["-r", "-500"]);
    expect(suffix.status).toBe(206);
    expect(suffix.body).toEqual(content.kernel.subarray(size - 500));
    expect(suffix.headers["content-range"]).toBe(`bytes ${size - 500}-${size - 1}/${size}`);

    const open = await curlHttp(url(kernelPath), ["-r", "1000-"]);
    expect(open.status).toBe(206);
    expect(open.body).toEqual(content.kernel.subarray(1000));

    // A suffix longer than the file is the whole file (RFC 9110 §14.1.3), still a 206.
    const longSuffix = await curlHttp(url(kernelPath), ["-r", `-${size * 10}`]);
    expect(longSuffix.status).toBe(206);
    expect(longSuffix.headers["content-range"]).toBe(`bytes 0-${size - 1}/${size}`);
    expect(sha256(longSuffix.body)).toBe(sha256(content.kernel));

    const beyond = await curlHttp(url(kernelPath), ["-r", `${size}-`]);
    expect(beyond.status).toBe(416);
    expect(beyond.headers["content-range"]).toBe(`bytes */${size}`);
    expect(beyond.headers["content-type"]).toBe("application/problem+json");

    // Several ranges: the whole file with 200 (documented choice; RFC 9110 lets a server ignore Range).
    const multi = await curlHttp(url(kernelPath), ["-r", "0-1,5-6"]);
    expect(multi.status).toBe(200);
    expect(sha256(multi.body)).toBe(sha256(content.kernel));
  });

  it("answers conditional requests: If-None-Match and If-Modified-Since → 304, If-Range", async () => {
    const head = await curlHttp(url(kernelPath), ["-I"]);
    const etag = head.headers.etag;
    const notModified = await curlHttp(url(kernelPath), ["-H", `If-None-Match: ${etag}`]);
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
    expect((await curlHttp(url(kernelPath), ["-H", `If-None-Match: "other"`])).status).toBe(200);
    expect((await curlHttp(url(kernelPath), ["-H", `If-Modified-Since: ${head.headers["last-modified"]}`])).status).toBe(304);

    const sameRange = await curlHttp(url(kernelPath), ["-r", "0-9", "-H", `If-Range: ${etag}`]);
    expect(sameRange.status).toBe(206);
    expect(sameRange.body).toEqual(content.kernel.subarray(0, 10));
    const staleRange = await curlHttp(url(kernelPath), ["-r", "0-9", "-H", `If-Range: "stale"`]);
    expect(staleRange.status).toBe(200);
    expect(staleRange.body.length).toBe(content.kernel.length);
    expect((await curlHttp(url(kernelPath), ["-H", `If-Match: "stale"`])).status).toBe(412);
  });

  it("never serves a file outside the root, however the path is spelled", async () => {
    const attempts = [
      "/../../etc/passwd",
      "/openchami/../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
      "/openchami/..%2f..%2f..%2fetc%2fpasswd",
      "/..%5c..%5cetc%5cpasswd",
      "/openchami/passwd", // symlink to /etc/passwd
      "/openchami/out/secret.txt", // symlinked directory outside
      `/${image}/vmlinuz-${KVER}%00.txt`,
      `/${image}/.hidden`,
      `/${image}/%2ehidden`,
      "/%zz",
    ];
    for (const attempt of attempts) {
      const r = await curlHttp(url(attempt), ["--path-as-is"]);
      expect([400, 404], attempt).toContain(r.status);
      expect(r.headers["content-type"], attempt).toBe("application/problem+json");
      expect(r.body.toString(), attempt).not.toMatch(/root:|outside the root|hidden"?$/);
    }
    expect(entries.some((e) => e.level === "warn" && e.obj.reason === "symlink leads outside the served directory")).toBe(true);
  });

  it("serves a range past 4 GiB of a sparse file, and reports its full length", async () => {
    const head = await curlHttp(url("/huge.img"), ["-I"]);
    expect(head.headers["content-length"]).toBe(String(HUGE));
    const r = await curlHttp(url("/huge.img"), ["-r", `${MARK_AT}-${MARK_AT + MARK.length - 1}`]);
    expect(r.status).toBe(206);
    expect(r.body.toString()).toBe(MARK.toString());
    expect(r.headers["content-range"]).toBe(`bytes ${MARK_AT}-${MARK_AT + MARK.length - 1}/${HUGE}`);
  });

  it("streams a 1 GiB body without holding it in memory", async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const r = await curlHttp(url("/huge.img"), ["-r", `0-${1024 ** 3 - 1}`, "-o", "/dev/null", "-w", "%{size_download}"]);
    clearInterval(sampler);
    expect(r.status).toBe(206);
    expect(r.body.toString()).toBe(String(1024 ** 3));
    expect(peak - before).toBeLessThan(256 * 1024 ** 2);
  });

  it("serves many concurrent downloads intact", async () => {
    const downloads = await Promise.all(
      Array.from({ length: 16 }, (_, i) => curlHttp(url(`/${image}/${i % 2 ? `rootfs-${KVER}` : `initramfs-${KVER}.img`}`))),
    );
    downloads.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(sha256(r.body)).toBe(sha256(i % 2 ? content.rootfs : content.initrd));
    });
  });

  it("keeps directory listing off by default", async () => {
    expect((await curlHttp(url("/openchami/rocky/"))).status).toBe(404);
    expect((await curlHttp(url("/openchami/rocky"))).status).toBe(404);
  });

  it("refuses methods other than GET and HEAD", async () => {
    const r = await curlHttp(url(kernelPath), ["-X", "POST", "-d", "x"]);
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe("GET, HEAD");
  });

  it("reports one boot event per response that starts a body, classified by name", async () => {
    events.length = 0;
    await curlHttp(url(kernelPath));
    await curlHttp(url(`/${image}/initramfs-${KVER}.img`));
    await curlHttp(url(`/${image}/rootfs-${KVER}`), ["-r", "0-99"]);
    await curlHttp(url("/index.html"));
    // Neither of these starts a body.
    await curlHttp(url(kernelPath), ["-I"]);
    const etag = (await curlHttp(url(kernelPath), ["-I"])).headers.etag;
    await curlHttp(url(kernelPath), ["-H", `If-None-Match: ${etag}`]);
    await curlHttp(url(kernelPath), ["-r", "999999999-"]);
    await curlHttp(url("/missing"));
    expect(events).toEqual([
      { ip: "127.0.0.1", endpoint: "kernel", detail: kernelPath },
      { ip: "127.0.0.1", endpoint: "initrd", detail: `/${image}/initramfs-${KVER}.img` },
      { ip: "127.0.0.1", endpoint: "rootfs", detail: `/${image}/rootfs-${KVER} [bytes 0-99/${content.rootfs.length}]` },
      { ip: "127.0.0.1", endpoint: "image", detail: "/index.html" },
    ]);
    const bytes = (await metrics.getMetricsAsJSON()).find((m) => m.name === "ochami_agent_images_bytes_sent_total");
    expect(bytes?.values.find((v) => v.labels.endpoint === "kernel")?.value).toBeGreaterThanOrEqual(content.kernel.length);
  });

  it("survives a client that disconnects mid-download", async () => {
    // A slow client that gives up: the time limit is the client's behaviour being simulated.
    const r = await curlHttp(url("/huge.img"), ["--limit-rate", "2M", "--max-time", "0.5", "-o", "/dev/null"]);
    expect(r.code).toBe(28); // curl: operation timed out
    const gauge = async () =>
      (await metrics.getMetricsAsJSON()).find((m) => m.name === "ochami_agent_images_downloads_active")?.values[0]?.value;
    let active = await gauge();
    await waitFor(
      async () => {
        active = await gauge();
        return active === 0;
      },
      3_000,
      () => `the active-downloads gauge to drop to 0 (it is ${active})`,
    );
    expect(active).toBe(0);
    expect(entries.some((e) => e.msg === "images: client closed the connection before the end")).toBe(true);
    expect((await curlHttp(url(kernelPath))).status).toBe(200);
  });
  it("does not serve a file under its name with a trailing slash", async () => {
    for (const p of [`${kernelPath}/`, `${kernelPath}%2f`, `${kernelPath}//`]) {
      const r = await curlHttp(url(p), ["--path-as-is"]);
      expect(r.status, p).toBe(404);
      expect(r.headers["content-type"], p).toBe("application/problem+json");
      expect(r.body.length, p).toBeLessThan(1000);
    }
    expect((await curlHttp(url(kernelPath))).status).toBe(200);
  });
});

describe.skipIf(noCurl)("image server with listing enabled", () => {
  let server: ImageServer;
  let dir = "";
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "ti-images-listing-"));
    mkdirSync(path.join(dir, "openchami", "rocky", "test"), { recursive: true });
    writeFileSync(path.join(dir, "openchami", "rocky", "test", "vmlinuz-1"), "k");
    writeFileSync(path.join(dir, "openchami", "rocky", ".secret"), "s");
    writeFileSync(path.join(dir, "openchami", "rocky", "a<b>.txt"), "x");
    server = await startImageServer({ address: "127.0.0.1", port: 0, root: dir, listing: true }, { log: captureLog().log });
  });
  afterAll(async () => {
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("redirects a directory to its slash form and lists it, without hidden names", async () => {
    const redirect = await curlHttp(`${server.url}/openchami/rocky?x=1`);
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe("/openchami/rocky/?x=1");
    const page = await curlHttp(`${server.url}/openchami/rocky/`);
    expect(page.status).toBe(200);
    const html = page.body.toString();
    expect(html).toContain('<a href="test/">test/</a>');
    expect(html).toContain("a&#60;b&#62;.txt");
    expect(html).not.toContain(".secret");
  });
});

describe("file answers and classification (pure)", () => {
  const meta = { size: 1000, mtimeMs: Date.parse("2026-01-02T03:04:05.678Z") };
  const etag = etagOf(meta);
  const lastModified = "Fri, 02 Jan 2026 03:04:05 GMT";
  const answer = (headers: Record<string, string>, method = "GET") =>
    answerFor(method, headers, meta, { contentType: "application/octet-stream" });

  it("gives the whole file, or one range, with validators", () => {
    expect(answer({})).toMatchObject({
      status: 200,
      start: 0,
      end: 999,
      headers: { etag, "last-modified": lastModified, "content-length": 1000 },
    });
    expect(answer({ range: "bytes=10-19" })).toMatchObject({
      status: 206,
      start: 10,
      end: 19,
      headers: { "content-range": "bytes 10-19/1000" },
    });
    expect(answer({ range: "bytes=0-5,3-9" })).toMatchObject({ status: 206, start: 0, end: 9 }); // merged into one
    expect(answer({ range: "bytes=0-1,5-6" })).toMatchObject({ status: 200 });
    expect(answer({ range: "bytes=x-y" })).toMatchObject({ status: 200 }); // malformed: ignored
    expect(answer({ range: "bytes=1000-" })).toMatchObject({ status: 416, headers: { "content-range": "bytes */1000" } });
    expect(answer({ range: "bytes=0-9" }, "HEAD")).toMatchObject({ status: 206, body: false });
    expect(answerFor("GET", { range: "bytes=0-" }, { size: 0, mtimeMs: 0 }, { contentType: "x" }).status).toBe(416);
  });

  it("serves a suffix range longer than the file as the whole file (RFC 9110 §14.1.3)", () => {
    const whole = { status: 206, start: 0, end: 999, headers: { "content-range": "bytes 0-999/1000", "content-length": 1000 } };
    expect(answer({ range: "bytes=-1000" })).toMatchObject(whole);
    expect(answer({ range: "bytes=-1001" })).toMatchObject(whole);
    expect(answer({ range: "bytes= -99999999999999999999" })).toMatchObject(whole);
    expect(answer({ range: "bytes=-10" })).toMatchObject({ status: 206, start: 990, end: 999 });
    expect(answer({ range: "bytes=0-1,-5000" })).toMatchObject({ status: 206, start: 0, end: 999 }); // merged into one
    expect(answer({ range: "bytes=-0" })).toMatchObject({ status: 416 }); // an empty suffix selects nothing
    // An empty file: a non-zero suffix is satisfiable but has no bytes; the (empty) file with 200.
    const empty = (range: string) => answerFor("GET", { range }, { size: 0, mtimeMs: 0 }, { contentType: "x" });
    expect(empty("bytes=-5")).toMatchObject({ status: 200, headers: { "content-length": 0 } });
  });

  it("evaluates preconditions in RFC 9110 order", () => {
    expect(answer({ "if-match": `W/${etag}` }).status).toBe(412); // weak never matches strongly
    expect(answer({ "if-match": `"a", ${etag}` }).status).toBe(200);
    expect(answer({ "if-match": "*", "if-none-match": etag }).status).toBe(304);
    expect(answer({ "if-unmodified-since": "Thu, 01 Jan 2026 00:00:00 GMT" }).status).toBe(412);
    expect(answer({ "if-unmodified-since": lastModified }).status).toBe(200);
    expect(answer({ "if-none-match": `W/${etag}` }).status).toBe(304); // weak comparison here
    expect(answer({ "if-none-match": '"x"', "if-modified-since": lastModified }).status).toBe(200); // INM wins
    expect(answer({ "if-modified-since": lastModified }).status).toBe(304);
    expect(answer({ range: "bytes=0-9", "if-range": lastModified }).status).toBe(206);
    expect(answer({ range: "bytes=0-9", "if-range": "Thu, 01 Jan 2026 00:00:00 GMT" }).status).toBe(200);
    expect(answer({ range: "bytes=5000-", "if-range": '"stale"' }).status).toBe(200); // stale: Range ignored, no 416
  });

  it("lends read-ahead buffers within a budget, and a small one past it", () => {
    const MiB = 1024 * 1024;
    const pool = new ChunkPool(MiB, 2 * MiB);
    const a = pool.take(true)!;
    const b = pool.take(false)!;
    expect([a.length, b.length]).toEqual([MiB, MiB]);
    expect(pool.take(false)).toBeUndefined();
    const small = pool.take(true)!;
    expect(small.length).toBe(64 * 1024);
    pool.give(small, true);
    expect(pool.take(false)).toBeUndefined();
    pool.give(a, true);
    expect(pool.take(false)).toBe(a); // reused, not reallocated
    pool.give(b, false); // never confirmed written: dropped, but the budget is freed
    expect(pool.take(false)).not.toBe(b);
  });

  it("classifies the seed's image names", () => {
    const classify = classifier(DEFAULT_CLASSIFY.map((r) => ({ endpoint: r.endpoint, match: [...r.match] })));
    expect(classify("/openchami/rocky/test/vmlinuz-4.18.0-553.el8_10.x86_64")).toBe("kernel");
    expect(classify("/openchami/rocky/test/initramfs-4.18.0-553.el8_10.x86_64.img")).toBe("initrd");
    expect(classify("/x/INITRD.img")).toBe("initrd");
    expect(classify("/openchami/rocky/test/rootfs-4.18.0-553.el8_10.x86_64")).toBe("rootfs");
    expect(classify("/images/compute.squashfs")).toBe("rootfs");
    expect(classify("/index.html")).toBe("image");
    expect(classifier([{ endpoint: "kernel", match: ["*.k?r"] }])("/a/b.kxr")).toBe("kernel");
  });
});
