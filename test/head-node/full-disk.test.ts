import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { generateSigningKey } from "../../shared/auth/keys";
import { hashSecret } from "../../shared/auth/secret-hash";
import { requirements } from "../support/requirements";
import { freePort } from "./ports";

/**
 * The production runner with its state directory on a tmpfs of 8 MiB this test mounts, then fills
 * to the last byte: the boot path, admin reads and token issuance keep working, writes (a delete
 * too) answer 507 saying the disk is full, the API logs it once, and once space is freed writes
 * work again without a restart.
 */
const missing = requirements({ root: true, commands: ["mount", "umount"] });

/** Writes `file` until its filesystem has not one byte left. */
function fillToTheLastByte(file: string): void {
  const fd = openSync(file, "w");
  try {
    for (const size of [1 << 20, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw err;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(missing)("the API on a full disk (workerd and its database on a small tmpfs)", () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "ochami-full-disk-"));
  const filler = path.join(stateDir, "filler");
  const logs: string[] = [];
  const CLIENT = { id: "admin-fulldisk", secret: "full-disk-test-secret-0123456789abcdef" };
  let mounted = false;
  let api: ApiServer;
  let token: string;

  const call = async (method: string, p: string, body?: unknown) => {
    const res = await fetch(`${api.url}${p}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, type: res.headers.get("content-type"), text };
  };
  const issue = () =>
    fetch(`${api.url}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`${CLIENT.id}:${CLIENT.secret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
  const logged = (re: RegExp) => logs.filter((l) => re.test(l));

  beforeAll(async () => {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700", "ochami-full-disk", stateDir]);
    mounted = true;
    const bootstrap = { client_id: CLIENT.id, secret_hash: await hashSecret(CLIENT.secret), scope: "admin" };
    api = await startApiServer({
      port: await freePort(),
      stateDir,
      vars: {
        OCHAMI_AUTH_SIGNING_KEY: JSON.stringify(await generateSigningKey()),
        OCHAMI_AUTH_BOOTSTRAP_CLIENT: JSON.stringify(bootstrap),
      },
      onLog: (line) => logs.push(line),
    });
    // The first token seeds the bootstrap client's row: a write, done while there is room.
    const first = await issue();
    expect(first.status).toBe(200);
    token = ((await first.json()) as { access_token: string }).access_token;
    // A node at the test's own address, so it can fetch its meta-data.
    expect((await call("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x7000c0s0b0n0", State: "Ready", NID: 1 }] })).status).toBe(
      204,
    );
    const iface = { MACAddress: "02:70:00:00:00:01", ComponentID: "x7000c0s0b0n0", IPAddresses: [{ IPAddress: "127.0.0.1" }] };
    expect((await call("POST", "/hsm/v2/Inventory/EthernetInterfaces", iface)).status).toBe(201);
    expect((await call("PUT", "/boot/v1/bootparameters", { macs: ["02:70:00:00:00:01"], kernel: "http://k/full-disk" })).status).toBe(200);
    expect((await call("GET", "/boot/v1/bootscript?mac=02:70:00:00:00:01")).status).toBe(200);
  });

  afterAll(async () => {
    await api?.stop();
    if (mounted) execFileSync("umount", [stateDir]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("fills the filesystem to the last byte", () => {
    fillToTheLastByte(filler);
    expect(statfsSync(stateDir).bavail).toBe(0);
  });

  it("keeps booting and serving reads and tokens; refuses writes and deletes with 507 saying why; logs it once", async () => {
    for (let i = 0; i < 5; i++) {
      const script = await call("GET", `/boot/v1/bootscript?mac=02:70:00:00:00:01&retry=${i}`);
      expect(script.status).toBe(200);
      expect(script.text).toContain("http://k/full-disk");
      const meta = await call("GET", "/cloud-init/meta-data");
      expect(meta.status).toBe(200);
      expect(meta.text).toContain("instance-id:");
    }
    expect((await call("GET", "/hsm/v2/State/Components/x7000c0s0b0n0")).status).toBe(200);
    expect((await call("GET", "/boot/v1/bootparameters")).status).toBe(200);
    expect((await call("GET", "/boot/v1/endpoint-history?name=x7000c0s0b0n0")).status).toBe(200);
    expect((await issue()).status).toBe(200);

    const write = await call("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x7000c0s1b0n0", State: "Ready" }] });
    expect(write.status).toBe(507);
    expect(write.type).toBe("application/problem+json");
    expect(JSON.parse(write.text)).toMatchObject({
      status: 507,
      title: "Insufficient Storage",
      detail: expect.stringMatching(/disk is full/),
    });
    const del = await call("DELETE", "/hsm/v2/State/Components/x7000c0s0b0n0");
    expect(del.status).toBe(507);
    expect(JSON.parse(del.text).detail).toMatch(/disk is full/);
    // Still booting after the refused writes.
    expect((await call("GET", "/boot/v1/bootscript?mac=02:70:00:00:00:01")).status).toBe(200);

    expect(logged(/disk is full/)).toHaveLength(1);
    expect(logged(/unhandled error|Uncaught exception/)).toEqual([]);
  });

  it("writes work again once space is freed, without a restart, and that is logged once", async () => {
    const pid = api.process.pid;
    unlinkSync(filler);
    const write = await call("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x7000c0s1b0n0", State: "Ready" }] });
    expect(write.status).toBe(204);
    expect((await call("DELETE", "/hsm/v2/State/Components/x7000c0s1b0n0")).status).toBe(200);
    expect(logged(/writes succeed again/)).toEqual([expect.stringMatching(/storage: writes succeed again after \d+ s of a full disk/)]);
    // The boot history records again (a read of it first writes what is pending).
    expect((await call("GET", "/boot/v1/bootscript?mac=02:70:00:00:00:01&retry=42")).status).toBe(200);
    const events = JSON.parse((await call("GET", "/boot/v1/endpoint-history?name=x7000c0s0b0n0&history=true")).text);
    expect(events.map((e: { detail: string }) => e.detail)).toContainEqual(expect.stringContaining("retry 42"));
    expect(api.process.pid).toBe(pid);
    expect(api.process.exitCode).toBeNull();
    expect(logged(/disk is full/)).toHaveLength(1);
  });
});

describe.skipIf(missing)("the bootstrap admin's very first token on a full disk", () => {
  // A site whose disk filled before anyone asked for a token: the token endpoint seeds the
  // bootstrap client's row on first use, and that write must not stand between the deployer and
  // the token they need to look around.
  const stateDir = mkdtempSync(path.join(tmpdir(), "ochami-full-disk-first-"));
  const filler = path.join(stateDir, "filler");
  const logs: string[] = [];
  const CLIENT = { id: "admin-first", secret: "first-token-full-disk-secret-0123456789" };
  let mounted = false;
  let api: ApiServer;

  const issue = async () => {
    const res = await fetch(`${api.url}/token`, {
      method: "POST",
      headers: {
        authorization: `Basic ${btoa(`${CLIENT.id}:${CLIENT.secret}`)}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "grant_type=client_credentials",
    });
    return { status: res.status, body: (await res.json()) as { access_token: string; scope: string } };
  };
  const clients = async (token: string) => {
    const res = await fetch(`${api.url}/auth/clients`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return ((await res.json()) as { clients: { client_id: string }[] }).clients.map((c) => c.client_id);
  };

  beforeAll(async () => {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m,mode=0700", "ochami-full-disk-first", stateDir]);
    mounted = true;
    api = await startApiServer({
      port: await freePort(),
      stateDir,
      vars: {
        OCHAMI_AUTH_SIGNING_KEY: JSON.stringify(await generateSigningKey()),
        OCHAMI_AUTH_BOOTSTRAP_CLIENT: JSON.stringify({
          client_id: CLIENT.id,
          secret_hash: await hashSecret(CLIENT.secret),
          scope: "admin",
        }),
      },
      onLog: (line) => logs.push(line),
    });
  });

  afterAll(async () => {
    await api?.stop();
    if (mounted) execFileSync("umount", [stateDir]);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("issues it without storing the client, then stores the client once there is room", async () => {
    fillToTheLastByte(filler);
    expect(statfsSync(stateDir).bavail).toBe(0);

    const first = await issue();
    expect(first.status).toBe(200);
    expect(first.body.scope).toBe("admin");
    // The token works, and the client row could not be written.
    expect(await clients(first.body.access_token)).toEqual([]);
    expect(logs.filter((l) => /disk is full/.test(l))).toHaveLength(1);
    expect(logs.filter((l) => /unhandled error|Uncaught exception/.test(l))).toEqual([]);

    unlinkSync(filler);
    const next = await issue();
    expect(next.status).toBe(200);
    expect(await clients(next.body.access_token)).toEqual([CLIENT.id]);
  });
});
