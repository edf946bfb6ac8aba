import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { waitFor } from "../support/wait";
import { freePort } from "./ports";

/**
 * The database process dies under a running API (kill -9); the runner starts it again, after
 * 0.5 s at least. Meanwhile a request that needs the database is a 503 problem with Retry-After
 * (it was a 500, "internal error"), boot answers come from the snapshot, and the boot-history
 * events of that time are written once the database is back (they were dropped). The API logs
 * the episode once going down and once back, not once per request. A database process that is
 * stuck (SIGSTOP here, as a stalled disk would hold it) is killed and restarted once it has
 * answered nothing for a while (3 s here, 30 s by default), instead of every request that needs
 * it waiting for ever; so is a stuck API process, and the connections the kernel queued for it go
 * to the new one.
 */
describe("a workerd process dead or stuck under the runner", () => {
  let stateDir = "";
  let api: ApiServer;
  const lines: string[] = [];
  const notices: string[] = [];
  const MAC = "52:54:00:be:ef:21";
  const bootscript = () => fetch(`${api.url}/boot/v1/bootscript?mac=${MAC}`);

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "ochami-db-restart-"));
    api = await startApiServer({
      port: await freePort(),
      stateDir,
      vars: { OCHAMI_AUTH: "off" },
      onLog: (l) => lines.push(l),
      onNotice: (l) => notices.push(l),
      stuckMs: 3_000,
    });
    const send = (p: string, body: unknown, method = "POST") => fetch(`${api.url}${p}`, { method, body: JSON.stringify(body) });
    const components = { Components: [{ ID: "x1000c0s2b0n0", State: "Ready", Role: "Compute", NID: 21 }] };
    expect((await send("/hsm/v2/State/Components", components)).status).toBe(204);
    expect((await send("/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: MAC, ComponentID: "x1000c0s2b0n0" })).status).toBe(201);
    expect((await send("/boot/v1/bootparameters", { hosts: ["x1000c0s2b0n0"], kernel: "http://h/vmlinuz" }, "PUT")).status).toBe(200);
  });
  afterAll(async () => {
    await api?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("answers 503 with Retry-After meanwhile, boots from the snapshot, and writes that time's boot history once it is back", async () => {
    expect((await bootscript()).status).toBe(200);
    const database = api.databaseProcess;
    const exited = new Promise((resolve) => database.once("exit", resolve));
    process.kill(database.pid!, "SIGKILL");
    await exited;

    // The runner waits 0.5 s before starting it again: these run in that gap.
    const down = await fetch(`${api.url}/hsm/v2/State/Components`);
    const body = await down.json();
    expect(down.status, JSON.stringify(body)).toBe(503);
    expect(down.headers.get("retry-after")).toBe("1");
    expect(down.headers.get("content-type")).toContain("application/problem+json");
    expect(body.detail).toContain("the database did not answer");
    const booted = await Promise.all([bootscript(), bootscript(), bootscript()]);
    expect(booted.map((r) => r.status)).toEqual([200, 200, 200]);
    // A history read does not wait for those events (they wait for the database): 503 at once.
    expect((await fetch(`${api.url}/boot/v1/endpoint-history?history=true`)).status).toBe(503);
    expect(api.databaseProcess.pid, "the database was not back yet").toBe(database.pid);

    await waitFor(async () => (await fetch(`${api.url}/hsm/v2/State/Components`)).status === 200, 30_000, "the database back");
    // A history read waits for the events its process recorded before it: all four fetches.
    const history = (await (await fetch(`${api.url}/boot/v1/endpoint-history?history=true&name=x1000c0s2b0n0`)).json()) as any[];
    expect(history.filter((e) => e.endpoint === "bootscript")).toHaveLength(4);
    expect(lines.filter((l) => l.includes("database: not answering"))).toHaveLength(1);
    expect(lines.filter((l) => /database: answering again after [\d.]+ s \(\d+ requests answered 503\)/.test(l))).toHaveLength(1);
    expect(
      lines.filter((l) => l.includes("unhandled error")),
      lines.join("\n"),
    ).toEqual([]);
  });

  it("a stuck database process is killed and restarted: a request waiting on it gets a 503, not an endless wait", async () => {
    const stuck = api.databaseProcess;
    process.kill(stuck.pid!, "SIGSTOP");
    const started = Date.now();
    const res = await fetch(`${api.url}/hsm/v2/State/Components`, { signal: AbortSignal.timeout(20_000) });
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(
      notices.some((l) => new RegExp(`\\(pid ${stuck.pid}\\) has answered nothing for \\d+ s: killing it`).test(l)),
      notices.join("\n"),
    ).toBe(true);
    await waitFor(
      () => notices.some((l) => l.includes(`(pid ${stuck.pid}) was stuck: it answered nothing for`)),
      10_000,
      "its exit reported",
    );
    const back = await waitFor(
      async () => {
        const r = await fetch(`${api.url}/hsm/v2/State/Components`);
        return r.status === 200 && ((await r.json()) as any);
      },
      30_000,
      "components served again",
    );
    expect(back.Components.map((c: { ID: string }) => c.ID)).toEqual(["x1000c0s2b0n0"]);
    expect(api.databaseProcess.pid).not.toBe(stuck.pid);
  });

  it("a stuck API process is killed and restarted: a request sent to it meanwhile is answered by the new one", async () => {
    const stuck = api.process;
    process.kill(stuck.pid!, "SIGSTOP");
    // On a new connection (not one the stuck process holds from before): accepted by the kernel on
    // the listening socket the runner holds, served once a process takes it.
    const status = await new Promise<number>((resolve, reject) =>
      http
        .get(`${api.url}/boot/v1/bootscript?mac=${MAC}`, { agent: false, timeout: 30_000 }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on("error", reject),
    );
    expect(status).toBe(200);
    expect(api.process.pid).not.toBe(stuck.pid);
    await waitFor(
      () => notices.some((l) => l.includes(`API workerd (pid ${stuck.pid}) was stuck: it answered nothing for`)),
      10_000,
      "its exit reported",
    );
  });
});
