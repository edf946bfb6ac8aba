/**
 * A pooled connection between the API workerd and the database workerd that goes idle must never
 * fail the next request. Both ends give up on an idle connection after 5 s, each on its own clock,
 * the database side's starting first; when the database process is busy at that moment (here:
 * stopped with SIGSTOP from 4.6 to 5.3 s after the last use, as a long SQLite write would hold
 * it), a request sent on the connection at 4.8 s meets its timeout there, the connection is closed
 * with the request unread, and workerd reports "Network connection lost". Without the API's D1
 * link retrying, every such request is a 500 (this reproduced it every time).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { freePort } from "./ports";

/** Waits until `ms` after `t0`: this test is about an idle time, so time itself is the input. */
const at = (t0: number, ms: number) => new Promise((r) => setTimeout(r, Math.max(0, t0 + ms - Date.now())));

describe("idle connections to the database process after a burst", () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "ochami-d1-link-"));
  let api: ApiServer;
  const lines: string[] = [];

  beforeAll(async () => {
    api = await startApiServer({ port: await freePort(), stateDir, vars: { OCHAMI_AUTH: "off" }, onLog: (l) => lines.push(l) });
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const components = () => fetch(`${api.url}/hsm/v2/State/Components`).then((r) => r.status);

  it("the requests that meet the database side's idle timeout are retried on a new connection and answered", async () => {
    const statuses: number[] = [];
    // The timing depends on a loaded machine's timers: a round whose request is sent after the
    // API's own 5 s (a fresh connection then, nothing to retry) proves nothing, so go on until one
    // did meet the timeout.
    for (let round = 0; round < 4 && !lines.some((l) => l.includes("each query retried once")); round++) {
      // A burst: several pooled connections, all idle from here on.
      statuses.push(...(await Promise.all(Array.from({ length: 8 }, components))));
      const t0 = Date.now();
      await at(t0, 4600);
      process.kill(api.databaseProcess.pid!, "SIGSTOP");
      try {
        await at(t0, 4800);
        const pending = Promise.all(Array.from({ length: 4 }, components));
        await at(t0, 5300);
        process.kill(api.databaseProcess.pid!, "SIGCONT");
        statuses.push(...(await pending));
      } finally {
        process.kill(api.databaseProcess.pid!, "SIGCONT");
      }
    }
    expect(lines.filter((l) => l.includes("each query retried once")).length, lines.join("\n")).toBeGreaterThan(0);
    expect(
      statuses.every((s) => s === 200),
      `statuses ${statuses}`,
    ).toBe(true);
    expect(lines.filter((l) => l.includes("Network connection lost"))).toEqual([]);
  });
});
