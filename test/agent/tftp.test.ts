/**
 * The agent's TFTP server over real UDP on loopback, driven by Debian's curl and atftp and by a
 * bare-socket client for the misbehaviour real clients will not produce on purpose.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServedEvent } from "../../onprem-agent/service-deps";
import { CONFIG_IPXE, REBOOT_IPXE, startTftpServer, type TftpServer } from "../../onprem-agent/tftp";
import { negotiate } from "../../onprem-agent/tftp/options";
import { parsePacket } from "../../onprem-agent/tftp/packet";
import { toNetascii } from "../../onprem-agent/tftp/source";
import { requirements } from "../support/requirements";
import { waitFor } from "../support/wait";
import { captureLog, run, sha256 } from "./serving-support";
import { ack, decode, RawTftp, rawGet, request, requestPortCaughtUp, rrq } from "./tftp-raw-client";

/** Tests driving Debian's clients; the ones with the bare-socket client run without them. */
const noClients = requirements({ commands: ["curl", "atftp"] });

// Made in beforeAll, not at import: a file collected but filtered out (-t) must leave nothing behind.
let work = "";
let root = "";
let outside = "";
const files: Record<string, Buffer> = {
  "small.txt": Buffer.from("hello from the agent\nsecond line\n"),
  "one.bin": randomBytes(1024 * 1024),
  "quarter.bin": randomBytes(256 * 1024),
  "exact.bin": randomBytes(1468 * 7),
  "empty.bin": Buffer.alloc(0),
  "roll.bin": randomBytes(600_000), // > 65535 blocks at blksize 8
  "sub/nested.bin": randomBytes(3000),
};
const local = (name: string) => path.join(work, `out-${name.replaceAll("/", "_")}-${Math.random().toString(36).slice(2)}`);

function setUpFiles() {
  work = mkdtempSync(path.join(tmpdir(), "ti-tftp-"));
  root = path.join(work, "root");
  outside = path.join(work, "outside");
  mkdirSync(path.join(root, "sub"), { recursive: true });
  mkdirSync(outside);
  for (const [name, content] of Object.entries(files)) writeFileSync(path.join(root, name), content);
  writeFileSync(path.join(outside, "secret.txt"), "not for TFTP clients");
  writeFileSync(path.join(outside, "allowed.efi"), "allowed symlink target");
  symlinkSync("/etc/passwd", path.join(root, "escape"));
  symlinkSync(path.join(outside, "secret.txt"), path.join(root, "sub", "secret"));
  symlinkSync(path.join(outside, "allowed.efi"), path.join(root, "allowed.efi"));
  symlinkSync("small.txt", path.join(root, "alias.txt"));
}

describe("TFTP server", () => {
  const { log, entries } = captureLog();
  const metrics = new Registry();
  const events: ServedEvent[] = [];
  let server: TftpServer;
  let port: number;

  beforeAll(async () => {
    setUpFiles();
    server = await startTftpServer(
      {
        address: "127.0.0.1",
        port: 0,
        root,
        allowSymlinksTo: [path.join(outside, "allowed.efi")],
        timeoutMs: 250,
        retries: 3,
        maxTransfersPerClient: 200,
        // Files up to 300 kB come from the in-memory cache, larger ones (one.bin, roll.bin) are
        // streamed from disk: both paths are exercised.
        cacheFileMaxBytes: 300_000,
        files: { "config.ipxe": CONFIG_IPXE, default: REBOOT_IPXE, "boot/menu.ipxe": "#!ipxe\nmenu\n" },
        dynamicFiles: {
          "whoami.ipxe": ({ ip }) => `#!ipxe\necho client ${ip}\n`,
          "small.txt": () => undefined, // falls through to the file on disk
        },
      },
      { log, metrics, report: (e) => events.push(e) },
    );
    port = server.port;
  });

  afterAll(async () => {
    await server?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const url = (name: string) => `tftp://127.0.0.1:${port}/${name}`;
  const counter = async (name: string, labels: Record<string, string> = {}) => {
    const metric = (await metrics.getMetricsAsJSON()).find((m) => m.name === name);
    const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
    return Number(value?.value ?? 0);
  };

  it.skipIf(noClients)("serves files to curl intact, with blksize 512 (RFC 1350) and 1468", async () => {
    for (const name of ["small.txt", "one.bin", "exact.bin", "sub/nested.bin"]) {
      for (const blksize of [undefined, 1468]) {
        const out = local(name);
        const args = ["-sS", "-o", out, ...(blksize ? ["--tftp-blksize", String(blksize)] : []), url(name)];
        const r = await run("curl", args);
        expect(r.code, `${name} ${blksize}: ${r.stderr}`).toBe(0);
        expect(sha256(out), `${name} blksize ${blksize}`).toBe(sha256(files[name]));
      }
    }
  });

  it.skipIf(noClients)("serves an empty file as one empty block", async () => {
    // atftp, not curl: curl 7.88 rejects the OACK's "tsize 0" for an empty file (it fails the
    // same way against tftpd-hpa).
    for (const options of [[], ["--option", "tsize 0", "--option", "blksize 1468"]]) {
      const out = local("empty.bin");
      const r = await run("atftp", [...options, "-g", "-r", "empty.bin", "-l", out, "127.0.0.1", String(port)]);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(out).length).toBe(0);
    }
    const raw = await rawGet(port, "empty.bin");
    expect(raw.data.length).toBe(0);
    expect([...raw.copies.keys()]).toEqual([1]);
  });

  it.skipIf(noClients)("serves atftp with blksize 1468 and windowsize 8, and reports tsize in the OACK", async () => {
    const plain = local("one.bin");
    const r1 = await run("atftp", ["--option", "blksize 1468", "-g", "-r", "one.bin", "-l", plain, "127.0.0.1", String(port)]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(sha256(plain)).toBe(sha256(files["one.bin"]));

    const windowed = local("one.bin");
    const r2 = await run("atftp", [
      "--trace",
      ...["--option", "tsize 0", "--option", "blksize 1468", "--option", "windowsize 8"],
      ...["-g", "-r", "one.bin", "-l", windowed, "127.0.0.1", String(port)],
    ]);
    expect(r2.code, r2.stderr).toBe(0);
    expect(sha256(windowed)).toBe(sha256(files["one.bin"]));
    const oack = (r2.stdout.toString() + r2.stderr).match(/received OACK <([^>]*)>/)?.[1] ?? "";
    expect(oack).toContain(`tsize: ${files["one.bin"].length}`);
    expect(oack).toContain("blksize: 1468");
    expect(oack).toContain("windowsize: 8");
  });

  it("negotiates options: blksize capped, timeout echoed, tsize answered, unknown options left out", async () => {
    const got = await rawGet(port, "quarter.bin", { blksize: 9000, timeout: 3, tsize: 0, windowsize: 64, foo: "bar" });
    expect(got.oack).toEqual({ blksize: "1468", timeout: "3", tsize: String(256 * 1024), windowsize: "16" });
    expect(sha256(got.data)).toBe(sha256(files["quarter.bin"]));

    // Invalid values are not accepted (left out of the OACK); nothing valid left means no OACK at all.
    const plain = await rawGet(port, "small.txt", { blksize: 4, timeout: 0, windowsize: "x" });
    expect(plain.oack).toBeUndefined();
    expect(plain.data.toString()).toBe(files["small.txt"].toString());
  });

  it.skipIf(noClients)("rolls block numbers over past 65535", async () => {
    const out = local("roll.bin");
    const r = await run("atftp", [
      "--option",
      "blksize 8",
      "--option",
      "windowsize 16",
      "-g",
      "-r",
      "roll.bin",
      "-l",
      out,
      "127.0.0.1",
      String(port),
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(sha256(out)).toBe(sha256(files["roll.bin"]));
  });

  it.skipIf(noClients)("refuses traversal, absolute paths out of the root and symlinks that escape it", async () => {
    const client = await RawTftp.open();
    try {
      for (const name of [
        "../../etc/passwd",
        "/../etc/passwd",
        "sub/../../etc/passwd",
        "..\\..\\etc\\passwd",
        "escape",
        "sub/secret",
        ".hidden",
        "a\x01b",
      ]) {
        client.send(rrq(name), port);
        const reply = await client.receive();
        expect(reply, name).toBeDefined();
        const packet = decode(reply!.msg);
        expect(packet.op, name).toBe("ERROR");
        if (packet.op === "ERROR") expect(packet.code, name).toBe(2);
      }
      // An absolute name is taken relative to the root (as with tftpd-hpa -s): /etc/passwd is
      // looked for under the root, and is not there.
      client.send(rrq("/etc/passwd"), port);
      const reply = decode((await client.receive())!.msg);
      expect(reply).toMatchObject({ op: "ERROR", code: 1 });
    } finally {
      await client.close();
    }
    const viaCurl = await run("curl", ["-sS", url("escape")]);
    expect(viaCurl.code).not.toBe(0);
    expect(viaCurl.stdout.length).toBe(0);
    expect(entries.some((e) => e.level === "warn" && e.obj.reason === "symlink leads outside the served directory")).toBe(true);
  });

  it("serves symlinks inside the root, allowed targets, and absolute names under the root", async () => {
    expect((await rawGet(port, "alias.txt")).data.toString()).toBe(files["small.txt"].toString());
    expect((await rawGet(port, "allowed.efi")).data.toString()).toBe("allowed symlink target");
    expect((await rawGet(port, "/sub/nested.bin")).data).toEqual(files["sub/nested.bin"]);
  });

  it.skipIf(noClients)("answers a missing file or a directory with error 1", async () => {
    for (const name of ["missing.efi", "sub"]) {
      const got = await rawGet(port, name);
      expect(got.error?.code, name).toBe(1);
    }
    const r = await run("curl", ["-sS", url("missing.efi")]);
    expect(r.code).toBe(68); // CURLE_TFTP_NOTFOUND
  });

  it.skipIf(noClients)("refuses write requests with an access violation and writes nothing", async () => {
    const src = local("upload");
    writeFileSync(src, "payload");
    const r = await run("atftp", ["-p", "-l", src, "-r", "uploaded.bin", "127.0.0.1", String(port)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("Read-only server");
    const client = await RawTftp.open();
    client.send(request(2, "small.txt"), port);
    const reply = decode((await client.receive())!.msg);
    await client.close();
    expect(reply).toMatchObject({ op: "ERROR", code: 2 });
    expect(existsSync(path.join(root, "uploaded.bin"))).toBe(false);
    expect(readFileSync(path.join(root, "small.txt"))).toEqual(files["small.txt"]);
  });

  it.skipIf(noClients)("serves configured and per-request virtual files and reports each transfer", async () => {
    events.length = 0;
    expect((await run("curl", ["-sS", url("config.ipxe")])).stdout.toString()).toBe(CONFIG_IPXE);
    expect((await run("curl", ["-sS", url("default")])).stdout.toString()).toBe(REBOOT_IPXE);
    expect((await run("curl", ["-sS", url("boot/menu.ipxe")])).stdout.toString()).toBe("#!ipxe\nmenu\n");
    expect((await run("curl", ["-sS", url("whoami.ipxe")])).stdout.toString()).toBe("#!ipxe\necho client 127.0.0.1\n");
    expect((await run("curl", ["-sS", url("small.txt")])).stdout).toEqual(files["small.txt"]);
    expect(events).toEqual([
      { ip: "127.0.0.1", endpoint: "tftp", detail: "config.ipxe" },
      { ip: "127.0.0.1", endpoint: "tftp", detail: "default" },
      { ip: "127.0.0.1", endpoint: "tftp", detail: "boot/menu.ipxe" },
      { ip: "127.0.0.1", endpoint: "tftp", detail: "whoami.ipxe" },
      { ip: "127.0.0.1", endpoint: "tftp", detail: "small.txt" },
    ]);
  });

  it("does not report a size probe that the client aborts after the OACK", async () => {
    events.length = 0;
    const client = await RawTftp.open();
    client.send(rrq("one.bin", { tsize: 0 }), port);
    const oack = (await client.receive())!;
    expect(decode(oack.msg)).toEqual({ op: "OACK", options: { tsize: String(files["one.bin"].length) } });
    client.send(Buffer.concat([Buffer.from([0, 5, 0, 8]), Buffer.from("probe only\0")]), oack.port);
    await client.close();
    await waitFor(() => server.activeTransfers() === 0, 2000, "the probe to end");
    expect(events).toEqual([]);
  });

  it("serves a replaced file's new content at once (the cache follows inode, size and mtime)", async () => {
    const file = path.join(root, "changing.txt");
    writeFileSync(file, "first version\n");
    expect((await rawGet(port, "changing.txt")).data.toString()).toBe("first version\n");
    expect((await rawGet(port, "changing.txt")).data.toString()).toBe("first version\n");
    writeFileSync(`${file}.new`, "second version, longer\n");
    renameSync(`${file}.new`, file);
    expect((await rawGet(port, "changing.txt")).data.toString()).toBe("second version, longer\n");
  });

  it("converts netascii transfers (LF → CR LF)", async () => {
    const client = await RawTftp.open();
    client.send(rrq("small.txt", {}, "netascii"), port);
    const got = (await client.receive())!;
    client.send(ack(1), got.port);
    await client.close();
    const packet = decode(got.msg);
    expect(packet.op).toBe("DATA");
    if (packet.op === "DATA") expect(packet.payload.toString()).toBe("hello from the agent\r\nsecond line\r\n");
  });

  it("does not retransmit on duplicate ACKs (Sorcerer's Apprentice)", async () => {
    const before = await counter("ochami_agent_tftp_retransmissions_total");
    const got = await rawGet(port, "quarter.bin", {}, { ackTwice: true });
    expect(sha256(got.data)).toBe(sha256(files["quarter.bin"]));
    const retransmitted = (await counter("ochami_agent_tftp_retransmissions_total")) - before;
    // Every block arrives once, unless the timer itself fired (a loaded machine); never twice per duplicate.
    const extra = [...got.copies.values()].reduce((sum, n) => sum + n - 1, 0);
    expect(extra).toBeLessThanOrEqual(retransmitted);
    expect(got.copies.size).toBe(Math.floor((256 * 1024) / 512) + 1);
  });

  it("recovers a windowed transfer from a lost block by resending from the client's ACK (RFC 7440)", async () => {
    let dropped = 0;
    const got = await rawGet(
      port,
      "quarter.bin",
      { blksize: 1024, windowsize: 8 },
      {
        onData: (block, copy) => {
          if ((block === 3 || block === 100) && copy === 1) {
            dropped++;
            return "drop";
          }
        },
      },
    );
    expect(dropped).toBe(2);
    expect(sha256(got.data)).toBe(sha256(files["quarter.bin"]));
    expect(got.copies.get(3)).toBe(2);
  });

  it.skipIf(noClients)("survives fuzzed and truncated datagrams on the request port and on a transfer's port", async () => {
    const errorsBefore = entries.filter((e) => e.level === "error").length;
    const fuzz = await RawTftp.open();
    const valid = rrq("small.txt", { blksize: 1468, tsize: 0, windowsize: 4, timeout: 2 });
    for (let len = 0; len < valid.length; len++) fuzz.send(valid.subarray(0, len), port);
    for (let i = 0; i < 3000; i++) {
      const bytes = randomBytes(Math.floor(Math.random() * 600));
      if (i % 3 === 0 && bytes.length >= 2) bytes.writeUInt16BE(1 + (i % 6), 0);
      fuzz.send(bytes, port);
    }
    // Truncated and garbage packets from the client itself, in the middle of its transfer.
    const got = await rawGet(
      port,
      "quarter.bin",
      {},
      {
        onData: (block, copy, transferPort, client) => {
          if (copy > 1) return;
          client.send(randomBytes(block % 4), transferPort);
          client.send(ack((block - 1) & 0xffff), transferPort);
        },
      },
    );
    expect(sha256(got.data)).toBe(sha256(files["quarter.bin"]));
    // Every fuzz datagram has left and been handled (what the server answered to them is not
    // looked at); then it must still serve normally.
    await fuzz.close();
    await requestPortCaughtUp(port);
    const out = local("after-fuzz");
    expect((await run("curl", ["-sS", "-o", out, url("one.bin")])).code).toBe(0);
    expect(sha256(out)).toBe(sha256(files["one.bin"]));
    expect(await counter("ochami_agent_tftp_dropped_packets_total")).toBeGreaterThan(100);
    expect(entries.filter((e) => e.level === "error").length).toBe(errorsBefore);
    await waitFor(() => server.activeTransfers() === 0, 5000, "fuzz-started transfers to end");
  });

  it.skipIf(noClients)("serves many clients at once", async () => {
    const clients = Array.from({ length: 40 }, (_, i) => {
      const name = i % 4 === 0 ? "one.bin" : "quarter.bin";
      const out = local(name);
      const cmd =
        i % 2 === 0
          ? run("curl", ["-sS", "--tftp-blksize", "1468", "-o", out, url(name)], 60_000)
          : run("atftp", ["--option", "blksize 1468", "-g", "-r", name, "-l", out, "127.0.0.1", String(port)], 60_000);
      return cmd.then((r) => ({ r, out, name }));
    });
    for (const { r, out, name } of await Promise.all(clients)) {
      expect(r.code, r.stderr).toBe(0);
      expect(sha256(out)).toBe(sha256(files[name]));
    }
    await waitFor(() => server.activeTransfers() === 0, 2000, "all transfers to end");
  });

  it("gives up on a client that stops ACKing after the retries, and frees the transfer", async () => {
    const client = await RawTftp.open();
    const started = Date.now();
    client.send(rrq("one.bin"), port);
    const copies: number[] = [];
    let error: { code: number } | undefined;
    for (let got = await client.receive(); got; got = await client.receive(2000)) {
      const packet = decode(got.msg);
      if (packet.op === "DATA") copies.push(packet.block);
      if (packet.op === "ERROR") {
        error = packet;
        break;
      }
    }
    await client.close();
    expect(copies).toEqual([1, 1, 1, 1]); // first send + 3 retries
    expect(error?.code).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4 * 250 - 50);
    await waitFor(() => server.activeTransfers() === 0, 1000, "the transfer to be freed");
    expect(entries.some((e) => e.msg === "tftp: transfer failed" && e.obj.outcome === "timeout")).toBe(true);
  });

  it("frees a transfer at once when the client's port is gone (ICMP unreachable)", async () => {
    const client = await RawTftp.open();
    client.send(rrq("one.bin"), port);
    expect(decode((await client.receive())!.msg).op).toBe("DATA");
    await client.close();
    await waitFor(() => server.activeTransfers() === 0, 1500, "the transfer to be freed");
  });

  it("answers a repeated request from the same client port with one transfer", async () => {
    const client = await RawTftp.open();
    client.send(rrq("small.txt"), port);
    client.send(rrq("small.txt"), port);
    const first = (await client.receive())!;
    expect(decode(first.msg).op).toBe("DATA");
    // Both requests have been handled by now, and they make one transfer.
    await client.sent();
    await requestPortCaughtUp(port);
    expect(server.activeTransfers()).toBe(1);
    // Nothing else arrived, or only the retransmission of the same block from the same transfer port.
    for (let more = await client.receive(0); more; more = await client.receive(0)) expect(more.port).toBe(first.port);
    client.send(ack(1), first.port);
    await client.close();
    await waitFor(() => server.activeTransfers() === 0, 1000, "the transfer to end");
  });
});

describe("TFTP server limits", () => {
  const limitsLog = captureLog();
  let server: TftpServer;
  let work2 = "";

  beforeAll(async () => {
    work2 = mkdtempSync(path.join(tmpdir(), "ti-tftp-limits-"));
    writeFileSync(path.join(work2, "f.bin"), randomBytes(4096));
    server = await startTftpServer(
      { address: "127.0.0.1", port: 0, root: work2, maxTransfers: 1, timeoutMs: 200, retries: 1, files: {} },
      { log: limitsLog.log },
    );
  });
  afterAll(async () => {
    await server?.close();
    if (work2) rmSync(work2, { recursive: true, force: true });
  });

  it("drops requests beyond maxTransfers without an error, so the client's retry succeeds later", async () => {
    const first = await RawTftp.open();
    const second = await RawTftp.open();
    first.send(rrq("f.bin"), server.port);
    expect(decode((await first.receive())!.msg).op).toBe("DATA");
    second.send(rrq("f.bin"), server.port);
    // The server has handled that request by now: it dropped it, and sent nothing back.
    await second.sent();
    await requestPortCaughtUp(server.port);
    expect(limitsLog.entries.filter((e) => e.msg === "tftp: transfer limit reached, request dropped")).toHaveLength(1);
    expect(await second.receive(0)).toBeUndefined();
    // The first client never ACKs; after its retries the slot is free again.
    await waitFor(() => server.activeTransfers() === 0, 2000, "the stalled transfer to be dropped");
    second.send(rrq("f.bin"), server.port);
    expect(decode((await second.receive())!.msg)).toMatchObject({ op: "DATA", block: 1 });
    await first.close();
    await second.close();
  });

  it("rejects a configuration with a root that does not exist", async () => {
    await expect(
      startTftpServer({ address: "127.0.0.1", port: 0, root: path.join(work2, "nope") }, { log: captureLog().log }),
    ).rejects.toThrow(/ENOENT/);
  });
});

describe("TFTP packets and option negotiation (pure)", () => {
  const limits = { maxBlockSize: 1468, maxWindowSize: 16, maxRequestedTimeoutSeconds: 10 };

  it("parses requests with case-insensitive options, the first of a repeated one winning", () => {
    const packet = parsePacket(
      Buffer.from("\x00\x01undionly.kpxe\x00OCTET\x00BlkSize\x001432\x00blksize\x008\x00tsize\x000\x00", "latin1"),
    );
    expect(packet).toEqual({
      kind: "request",
      op: "RRQ",
      filename: "undionly.kpxe",
      mode: "octet",
      options: new Map([
        ["blksize", "1432"],
        ["tsize", "0"],
      ]),
    });
  });

  it("calls truncated, unterminated or unknown packets malformed instead of throwing", () => {
    for (const bytes of [[], [0], [0, 1], [0, 1, 0x61], [0, 1, 0x61, 0], [0, 1, 0x61, 0, 0x62], [0, 9, 0, 0], [0, 1, 0, 0x6f, 0]]) {
      expect(parsePacket(Buffer.from(bytes)).kind, JSON.stringify(bytes)).toBe("malformed");
    }
    expect(parsePacket(Buffer.from([0, 4, 0xff, 0xff, 0, 0]))).toEqual({ kind: "ack", block: 65535 });
    expect(parsePacket(Buffer.from([0, 5, 0, 8]))).toEqual({ kind: "error", code: 8, message: "" });
  });

  it("caps blksize and windowsize, refuses out-of-range values, and answers tsize", () => {
    const opts = (o: Record<string, string>) => new Map(Object.entries(o));
    expect(negotiate(opts({ blksize: "65464", windowsize: "64", tsize: "0" }), 1234, limits)).toMatchObject({
      blockSize: 1468,
      windowSize: 16,
      oack: opts({ blksize: "1468", windowsize: "16", tsize: "1234" }),
    });
    const refused = negotiate(opts({ blksize: "7", windowsize: "0", timeout: "11", tsize: "-1", rollover: "1" }), 10, limits);
    expect(refused.oack.size).toBe(0);
    expect(refused).toMatchObject({ blockSize: 512, windowSize: 1 });
    expect(refused.timeoutMs).toBeUndefined();
    expect(refused.ignored.sort()).toEqual(["blksize", "rollover", "timeout", "tsize", "windowsize"]);
    expect(negotiate(opts({ timeout: "3" }), 0, limits)).toMatchObject({ timeoutMs: 3000, oack: opts({ timeout: "3" }) });
  });

  it("converts to netascii", () => {
    expect(toNetascii(Buffer.from("a\nb\rc\r\n")).toString("latin1")).toBe("a\r\nb\r\0c\r\0\r\n");
  });
});

describe("TFTP over IPv6", () => {
  it.skipIf(noClients)("serves on ::1 and reports the client's IPv6 address", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ti-tftp6-"));
    writeFileSync(path.join(dir, "snponly.efi"), randomBytes(5000));
    const events: ServedEvent[] = [];
    const server = await startTftpServer({ address: "::1", port: 0, root: dir }, { log: captureLog().log, report: (e) => events.push(e) });
    try {
      const out = path.join(dir, "got");
      const r = await run("curl", ["-sS", "--tftp-blksize", "1468", "-o", out, `tftp://[::1]:${server.port}/snponly.efi`]);
      expect(r.code, r.stderr).toBe(0);
      expect(sha256(out)).toBe(sha256(path.join(dir, "snponly.efi")));
      expect(events).toEqual([{ ip: "::1", endpoint: "tftp", detail: "snponly.efi" }]);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("TFTP server with its defaults", () => {
  const missing = requirements({
    commands: ["curl", "atftp"],
    files: ["undionly.kpxe", "ipxe.efi", "snponly.efi"].map((f) => path.join("/usr/lib/ipxe", f)),
  });

  it.skipIf(missing)("serves Debian's iPXE binaries from /usr/lib/ipxe, ipxe.efi through its symlink into /boot", async () => {
    const events: ServedEvent[] = [];
    const server = await startTftpServer({ address: "127.0.0.1", port: 0 }, { log: captureLog().log, report: (e) => events.push(e) });
    const dir = mkdtempSync(path.join(tmpdir(), "ti-tftp-ipxe-"));
    try {
      for (const name of ["undionly.kpxe", "ipxe.efi", "snponly.efi"]) {
        const out = path.join(dir, name);
        const r = await run("atftp", [
          "--option",
          "blksize 1432",
          "--option",
          "tsize 0",
          "-g",
          "-r",
          name,
          "-l",
          out,
          "127.0.0.1",
          String(server.port),
        ]);
        expect(r.code, `${name}: ${r.stderr}`).toBe(0);
        expect(sha256(out), name).toBe(sha256(path.join("/usr/lib/ipxe", name)));
      }
      expect((await run("curl", ["-sS", `tftp://127.0.0.1:${server.port}/config.ipxe`])).stdout.toString()).toBe(CONFIG_IPXE);
      expect(events.map((e) => e.detail)).toEqual(["undionly.kpxe", "ipxe.efi", "snponly.efi", "config.ipxe"]);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
