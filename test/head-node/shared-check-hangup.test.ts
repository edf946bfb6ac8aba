/**
 * `shared` snapshot mode shares one generation check among boot reads that arrive while another
 * is in flight: the first of them leads the next batch and issues its check. A platform that drops
 * a request whose client hung up drops the leader's continuations with it, so it never issues; the
 * batch it led must not keep catching the reads that come after it (each would wait out the limit
 * and read D1). workerd as `npm start` runs it keeps such a request running (the leader here still
 * issues its check), so this guards the path rather than reproducing a drop. The database process
 * is held with SIGSTOP to keep a check in flight while the reads arrive, as a long SQLite write
 * would hold it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { waitFor } from "../support/wait";
import { freePort } from "./ports";

const BOOTSCRIPT = "/boot/v1/bootscript?mac=52:54:00:aa:bb:01";

/** The wait limit of workers/boot/snapshot/current.ts: a batch older than this is abandoned. */
const WAIT_LIMIT_MS = 2_000;

describe("shared mode: a boot read whose client hangs up while it waits for a check", () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "ochami-shared-hangup-"));
  let api: ApiServer;

  beforeAll(async () => {
    api = await startApiServer({
      port: await freePort(),
      stateDir,
      vars: { OCHAMI_AUTH: "off", OCHAMI_BOOT_SNAPSHOT: "shared" },
      onLog: () => {},
    });
  });
  afterAll(async () => {
    if (api) process.kill(api.databaseProcess.pid!, "SIGCONT");
    await api?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const stats = async () =>
    (await (await fetch(`${api.url}/boot/v1/service/snapshot`)).json()) as { checks: number; waited: number; rebuilds: number };
  const boot = async () => {
    const res = await fetch(`${api.url}${BOOTSCRIPT}`);
    await res.text();
    return res.status;
  };
  /** A boot read sent on a raw socket, so it can be cut off mid-request. */
  const abandoned = () => {
    const req = request(`${api.url}${BOOTSCRIPT}`);
    req.on("error", () => {});
    req.end();
    return () => req.destroy();
  };
  const stopDatabase = () => process.kill(api.databaseProcess.pid!, "SIGSTOP");
  const resumeDatabase = () => process.kill(api.databaseProcess.pid!, "SIGCONT");

  it("does not hold the reads after it", async () => {
    await boot();
    await waitFor(async () => (await stats()).rebuilds >= 1, 10_000, "the first snapshot");

    // A check in flight (its issuer waits), then a read that leads the next batch and hangs up.
    stopDatabase();
    let s = await stats();
    const issuer = boot();
    await waitFor(async () => (await stats()).checks > s.checks, 5_000, "the first check to be issued");
    s = await stats();
    const hangUp = abandoned();
    await waitFor(async () => (await stats()).waited > s.waited, 5_000, "the leader of the next batch");
    hangUp();
    const ledAt = Date.now();
    resumeDatabase();
    expect(await issuer).toBe(200);

    // Past the wait limit, a new check in flight and a read arriving behind it: it must be answered
    // as soon as the database is, not after waiting for the batch whose leader is gone.
    await new Promise((r) => setTimeout(r, Math.max(0, ledAt + WAIT_LIMIT_MS + 200 - Date.now())));
    stopDatabase();
    s = await stats();
    const second = boot();
    await waitFor(async () => (await stats()).checks > s.checks, 5_000, "the second check to be issued");
    s = await stats();
    const behind = boot();
    await waitFor(async () => (await stats()).waited > s.waited, 5_000, "the read behind it to wait");
    const resumed = Date.now();
    resumeDatabase();
    expect(await Promise.all([second, behind])).toEqual([200, 200]);
    expect(Date.now() - resumed, "the read behind the check waited for an abandoned batch").toBeLessThan(WAIT_LIMIT_MS / 2);
  });
});
