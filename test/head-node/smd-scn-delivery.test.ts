import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../support/wait";
import { cleanEnv } from "./auth-process";
import { type NpmStart, npmStart, stopWith } from "./npm-start";
import { freePort } from "./ports";

/**
 * State change notifications over real HTTP: SMD under `npm start` as a site runs it (its workerd
 * outbound as it sets it, no option of the test's) POSTs to subscriber processes on loopback, as
 * to a power-control service on the head node. A subscriber that hangs or refuses does not slow
 * the writes that notify it.
 */
describe("SCN delivery to real subscribers", () => {
  let stateDir = "";
  let started: NpmStart | undefined;
  const api = { url: "" };
  const servers: Server[] = [];
  const received: Array<{ path: string; body: any; contentType?: string }> = [];
  /** Requests the hanging subscriber got (it never answers). */
  let hung = 0;

  async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    return `http://127.0.0.1:${port}`;
  }

  const call = (method: string, p: string, body?: unknown) =>
    fetch(`${api.url}${p}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "ochami-scn-"));
    const port = await freePort();
    api.url = `http://127.0.0.1:${port}`;
    started = await npmStart(
      cleanEnv({ HOST: "127.0.0.1", PORT: String(port), OCHAMI_STATE_DIR: stateDir, OCHAMI_AGENT: "off", OCHAMI_AUTH: "off" }),
    );
    const good = await listen((req, res) => {
      let text = "";
      req.on("data", (d) => {
        text += d;
      });
      req.on("end", () => {
        received.push({ path: req.url ?? "", body: JSON.parse(text), contentType: req.headers["content-type"] });
        res.writeHead(200).end();
      });
    });
    const hanging = await listen(() => {
      hung++;
    });
    // A port nothing listens on: every connection is refused.
    const refused = `http://127.0.0.1:${await freePort()}`;
    for (const [name, url] of [
      ["good", `${good}/hmi/v1/scn`],
      ["hanging", `${hanging}/scn`],
      ["refused", `${refused}/scn`],
    ]) {
      const r = await call("POST", "/hsm/v2/Subscriptions/SCN", { Subscriber: name, Url: url, States: ["Ready", "Off"] });
      expect(r.status).toBe(200);
    }
    expect((await call("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x1c0s0b0n0", State: "Off" }] })).status).toBe(204);
  }, 120_000);

  afterAll(async () => {
    if (started) expect((await stopWith(started, "SIGTERM")).left).toEqual([]);
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("POSTs the change as JSON to the subscriber, while a hanging and a refusing subscriber hold nothing up", async () => {
    const t = performance.now();
    const r = await call("PATCH", "/hsm/v2/State/Components/x1c0s0b0n0/StateData", { State: "Ready" });
    const ms = performance.now() - t;
    expect(r.status).toBe(204);
    // The write answers long before the hanging subscriber's 5 s attempt could time out.
    expect(ms).toBeLessThan(2_000);
    const got = await waitFor(() => received.find((x) => x.body.State === "Ready"), 10_000, "the Ready notification");
    expect(got).toEqual({
      path: "/hmi/v1/scn",
      body: { Components: ["x1c0s0b0n0"], Flag: "OK", State: "Ready" },
      contentType: "application/json",
    });
    await waitFor(() => hung >= 1, 10_000, "the hanging subscriber to be tried");
    // More writes while those two are failing stay fast, and the good subscriber gets each one.
    for (const state of ["Off", "Ready", "Off"]) {
      const t2 = performance.now();
      expect((await call("PATCH", "/hsm/v2/State/Components/x1c0s0b0n0/StateData", { State: state })).status).toBe(204);
      expect(performance.now() - t2).toBeLessThan(2_000);
    }
    // The first is the component's creation (a new component announces its state).
    await waitFor(
      () => received.length >= 5,
      10_000,
      () => `five notifications, got ${JSON.stringify(received)}`,
    );
    expect(received.map((x) => x.body.State)).toEqual(["Off", "Ready", "Off", "Ready", "Off"]);
  }, 60_000);
});
