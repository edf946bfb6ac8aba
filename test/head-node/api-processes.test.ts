/**
 * Several API workerd processes on one listening socket (OCHAMI_API_PROCESSES): the kernel hands
 * connections to both, each holds its own boot snapshot, and a write through one is seen by the
 * very next boot read through the other. Requests go over keep-alive connections pinned to one
 * process each: a connection's process is what GET /boot/v1/service/snapshot on it says.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { waitFor } from "../support/wait";
import { freePort } from "./ports";

interface Answer {
  status: number;
  body: string;
  socket: Socket;
}

/** One request on `agent` (one keep-alive connection at most). */
function send(agent: Agent, url: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${p}`, { method, agent, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, socket: res.socket }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A connection to API process `n`: new connections until the kernel hands one to that process. */
class Pinned {
  private agent = new Agent({ keepAlive: true, maxSockets: 1 });
  private socket?: Socket;

  constructor(
    private readonly url: string,
    readonly n: number,
  ) {}

  private async pin() {
    for (let attempt = 0; attempt < 200; attempt++) {
      const a = await send(this.agent, this.url, "GET", "/boot/v1/service/snapshot");
      if (JSON.parse(a.body).process === this.n) {
        this.socket = a.socket;
        return;
      }
      this.agent.destroy();
      this.agent = new Agent({ keepAlive: true, maxSockets: 1 });
    }
    throw new Error(`no connection reached API process ${this.n} in 200 tries`);
  }

  /** The request on this process's connection; made again on a new one if the connection was replaced meanwhile. */
  async call(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<Answer> {
    for (;;) {
      if (!this.socket || this.socket.destroyed) await this.pin();
      const a = await send(this.agent, this.url, method, p, body, headers);
      if (a.socket === this.socket) return a;
      this.socket = undefined;
    }
  }

  async stats(): Promise<{ process: number; served: number; rebuilds: number; writesElsewhere: number }> {
    return JSON.parse((await this.call("GET", "/boot/v1/service/snapshot")).body);
  }

  close() {
    this.agent.destroy();
  }
}

describe("two API processes on one socket", () => {
  let stateDir = "";
  let api: ApiServer;
  let one: Pinned;
  let two: Pinned;
  const MAC = "02:00:00:00:0a:01";
  // The node asks through the node proxy, as under `npm start` with a boot network.
  const PROXY_SECRET = "a-test-proxy-secret-of-enough-length-0123456789";
  const asNode = { "X-Ochami-Proxy-Secret": PROXY_SECRET, "X-Forwarded-For": "10.9.0.7" };

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "ochami-api-processes-"));
    api = await startApiServer({
      port: await freePort(),
      stateDir,
      vars: { OCHAMI_AUTH: "off", OCHAMI_TRUSTED_PROXIES: "127.0.0.1", OCHAMI_PROXY_SECRET: PROXY_SECRET },
      processes: 2,
      onLog: () => {},
    });
    one = new Pinned(api.url, 1);
    two = new Pinned(api.url, 2);
    // One request at a time on a pinned connection.
    const node = await one.call("POST", "/hsm/v2/State/Components", {
      Components: [{ ID: "x3000c0s1b0n0", State: "Ready", Role: "Compute", NID: 7 }],
    });
    expect(node.status, node.body).toBeLessThan(300);
    const nic = await one.call("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
      MACAddress: MAC,
      ComponentID: "x3000c0s1b0n0",
      IPAddresses: [{ IPAddress: "10.9.0.7" }],
    });
    expect(nic.status, nic.body).toBeLessThan(300);
  });
  afterAll(async () => {
    one?.close();
    two?.close();
    await api?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("both accept on the API's socket", async () => {
    expect(api.processes.map((p) => p.pid)).toHaveLength(2);
    expect(new Set(api.processes.map((p) => p.pid)).size).toBe(2);
    expect((await one.stats()).process).toBe(1);
    expect((await two.stats()).process).toBe(2);
  });

  it("a write through one process is in the next boot read of the other, each answering from its snapshot", async () => {
    const kernelOn = async (p: Pinned) =>
      /kernel --name kernel (\S+)/.exec((await p.call("GET", `/boot/v1/bootscript?mac=${MAC}`)).body)?.[1];
    /** Boot reads until `p` answers from a snapshot that has `kernel` (the first read after a change rebuilds it in the background). */
    const fromSnapshot = async (p: Pinned, kernel: string) =>
      waitFor(
        async () => {
          const before = (await p.stats()).served;
          return (await kernelOn(p)) === kernel && (await p.stats()).served > before;
        },
        20_000,
        `process ${p.n} to serve ${kernel} from its snapshot`,
      );
    let round = 0;
    for (const [writer, reader] of [
      [one, two],
      [two, one],
      [one, two],
      [two, one],
    ]) {
      const kernel = `http://k/${++round}`;
      const told = (await reader.stats()).writesElsewhere;
      const put = await writer.call("PUT", "/boot/v1/bootparameters", { macs: [MAC], kernel });
      expect(put.status, put.body).toBe(200);
      // The very next boot read on the other process, and on the writer.
      expect(await kernelOn(reader)).toBe(kernel);
      expect(await kernelOn(writer)).toBe(kernel);
      expect((await reader.stats()).writesElsewhere).toBeGreaterThan(told);
      // Both snapshots caught up: the next write changes an answer each serves from memory.
      await fromSnapshot(reader, kernel);
      await fromSnapshot(writer, kernel);
    }
  });

  it("cloud-init: a group's meta-data written through one process is in the other's next meta-data", async () => {
    const metaOn = async (p: Pinned) => (await p.call("GET", "/cloud-init/meta-data", undefined, asNode)).body;
    const group = await one.call("POST", "/hsm/v2/groups", { label: "compute", members: { ids: ["x3000c0s1b0n0"] } });
    expect(group.status, group.body).toBeLessThan(300);
    for (const [writer, reader, value] of [
      [one, two, "first"],
      [two, one, "second"],
    ] as const) {
      // Warm the reader's snapshot, then change the group.
      const rebuilds = (await reader.stats()).rebuilds;
      await waitFor(async () => (await metaOn(reader)) && (await reader.stats()).rebuilds > rebuilds, 20_000, "a new snapshot");
      // ... and answering from it, not checking the database first.
      await waitFor(
        async () => {
          const before = (await reader.stats()).served;
          await metaOn(reader);
          return (await reader.stats()).served > before;
        },
        20_000,
        "meta-data from the snapshot",
      );
      const res = await writer.call("PUT", "/cloud-init/admin/groups/compute", { name: "compute", "meta-data": { marker: value } });
      expect(res.status, res.body).toBeLessThan(300);
      expect(await metaOn(reader)).toContain(`marker: ${value}`);
    }
  });
});
