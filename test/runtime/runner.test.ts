import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startApiServer, type ApiServer } from "../../onprem-agent/api-runner";
import { freePort } from "./ports";

/** The production runner: workerd serving the bundled worker on a persisted local D1. */
describe("api runner (workerd + local D1)", () => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "ochami-runner-"));
  let api: ApiServer;

  beforeAll(async () => {
    api = await startApiServer({ port: await freePort(), stateDir, vars: { OCHAMI_AUTH: "off" }, onLog: () => {} });
  });
  afterAll(async () => {
    await api?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("serves SMD with migrations applied", async () => {
    const ready = await fetch(`${api.url}/hsm/v2/service/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ code: 0, message: "HSM is healthy" });
  });

  it("keeps data across a restart on the same state directory", async () => {
    const post = await fetch(`${api.url}/hsm/v2/State/Components`, {
      method: "POST",
      body: JSON.stringify({ Components: [{ ID: "x3000c0s1b0n0", State: "Ready", NID: 7 }] }),
    });
    expect(post.status).toBe(204);
    const port = Number(new URL(api.url).port);
    await api.stop();
    expect(api.process.exitCode !== null || api.process.signalCode !== null).toBe(true);
    api = await startApiServer({ port, stateDir, vars: { OCHAMI_AUTH: "off" }, onLog: () => {} });
    const got = await fetch(`${api.url}/hsm/v2/State/Components/x3000c0s1b0n0`);
    expect(await got.json()).toMatchObject({ ID: "x3000c0s1b0n0", NID: 7, State: "Ready" });
  });
});
