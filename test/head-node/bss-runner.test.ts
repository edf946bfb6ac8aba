import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import pkg from "../../package.json";
import { requirements } from "../support/requirements";
import { freePort } from "./ports";

/** BSS through the production runner and a real HTTP client (curl), as a node's iPXE would ask. */
const missing = requirements({ commands: ["curl"] });

describe.skipIf(missing)("BSS under the runner", () => {
  // Made in beforeAll, not at collection: a skipped or filtered-out suite must leave nothing behind.
  let stateDir = "";
  let api: ApiServer;
  const curl = (...args: string[]) => execFileSync("curl", ["-sS", ...args], { encoding: "utf8" });

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "ochami-bss-runner-"));
    api = await startApiServer({ port: await freePort(), stateDir, vars: { OCHAMI_AUTH: "off" }, onLog: () => {} });
    const post = (p: string, body: unknown, method = "POST") => fetch(`${api.url}${p}`, { method, body: JSON.stringify(body) });
    expect(
      (await post("/hsm/v2/State/Components", { Components: [{ ID: "x1000c0s0b0n0", State: "Ready", Role: "Compute", NID: 1 }] })).status,
    ).toBe(204);
    expect(
      (await post("/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: "52:54:00:be:ef:01", ComponentID: "x1000c0s0b0n0" })).status,
    ).toBe(201);
    expect((await post("/boot/v1/bootparameters", { hosts: ["Compute"], kernel: "http://172.16.0.254:8080/vmlinuz" }, "PUT")).status).toBe(
      200,
    );
  });
  afterAll(async () => {
    await api?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("serves the script with chain and ds= URLs on the origin the node used, and records the node's address", async () => {
    const text = curl(`${api.url}/boot/v1/bootscript?mac=52:54:00:be:ef:01`);
    expect(text.split("\n")[1]).toBe(
      `kernel --name kernel http://172.16.0.254:8080/vmlinuz xname=x1000c0s0b0n0 nid=1 ds=nocloud;s=${api.url}/cloud-init/ || goto boot_retry`,
    );
    expect(text).toContain(`chain ${api.url}/boot/v1/bootscript?mac=52:54:00:be:ef:01&retry=1\n`);
    const history = JSON.parse(curl(`${api.url}/apis/bss/boot/v1/endpoint-history?name=x1000c0s0b0n0`));
    expect(history).toEqual([
      expect.objectContaining({ name: "x1000c0s0b0n0", endpoint: "bootscript", ip: "127.0.0.1", mac: "52:54:00:be:ef:01" }),
    ]);
  });

  it("reports the bundled package version", async () => {
    expect(JSON.parse(curl(`${api.url}/boot/v1/service/version`))).toEqual({ "bss-version": pkg.version });
  });
});
