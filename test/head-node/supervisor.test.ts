/**
 * The supervisor on a real workerd process: an exit is reported with its cause and the process's
 * last output, the process restarted; exits in a row wait longer each time; stop() ends it for good.
 */
import type { ChildProcess } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { WorkerdSupervisor } from "../../head-node/api-runner/supervisor";
import { waitFor } from "../support/wait";
import { isRunning } from "./npm-start";
import { freePort } from "./ports";

/** A worker that says hello when it loads and answers "ok". */
function config(port: number) {
  return {
    services: [
      {
        name: "main",
        worker: {
          modules: [
            {
              name: "w.js",
              esModule: `console.log("hello from the test worker");\nexport default { fetch() { return new Response("ok"); } };\n`,
            },
          ],
          compatibilityDate: "2024-09-23",
        },
      },
    ],
    sockets: [{ name: "http", address: `127.0.0.1:${port}`, http: {}, service: { name: "main" } }],
  };
}

describe("workerd supervisor (real workerd)", () => {
  let supervisor: WorkerdSupervisor | undefined;
  afterEach(async () => {
    await supervisor?.stop();
  });

  it("reports an exit with its cause and last output, restarts with growing delays, and stays stopped after stop()", async () => {
    const port = await freePort();
    const notices: string[] = [];
    let refuse = false;
    const answers = async () => {
      try {
        return (await (await fetch(`http://127.0.0.1:${port}/`)).text()) === "ok";
      } catch {
        return false;
      }
    };
    supervisor = new WorkerdSupervisor({
      role: "test",
      config: config(port),
      ready: async (child: ChildProcess) => {
        await waitFor(answers, 30_000, "the test worker to answer");
        if (refuse) throw new Error(`was refused by the test (pid ${child.pid})`);
      },
      onLog: () => {},
      onNotice: (line) => notices.push(line),
    });
    await supervisor.start();
    const first = supervisor.child.pid!;

    process.kill(first, "SIGKILL");
    await waitFor(
      () => notices.some((n) => n.startsWith("the test workerd is back")),
      30_000,
      () => `a restart; notices: ${notices}`,
    );
    expect(notices[0]).toBe(`the test workerd (pid ${first}) exited on signal SIGKILL; its last output:\n  | hello from the test worker`);
    expect(notices[1]).toBe("restarting the test workerd in 0.5 s");
    expect(supervisor.child.pid).not.toBe(first);
    expect(await answers()).toBe(true);

    // Exits in a row wait longer each time: this one (within a minute of the last) 1 s, then
    // restarts that never become ready 2 s, 4 s.
    notices.length = 0;
    refuse = true;
    process.kill(supervisor.child.pid!, "SIGTERM");
    await waitFor(
      () => notices.includes("restarting the test workerd in 4 s"),
      30_000,
      () => `three exits; notices: ${notices}`,
    );
    expect(notices[0]).toMatch(/^the test workerd \(pid \d+\) exited with code 0 \(2 times in a row\); its last output:\n {2}\| hello/);
    expect(notices[1]).toBe("restarting the test workerd in 1 s");
    expect(notices[2]).toMatch(/^the test workerd \(pid \d+\) was refused by the test \(pid \d+\) \(3 times in a row\)/);
    expect(notices[3]).toBe("restarting the test workerd in 2 s");
    expect(notices[4]).toMatch(/\(4 times in a row\)/);
    refuse = false;
    await waitFor(
      () => notices.some((n) => n.startsWith("the test workerd is back")),
      30_000,
      () => `the return; notices: ${notices}`,
    );

    const last = supervisor.child.pid!;
    await supervisor.stop();
    expect(isRunning(last)).toBe(false);
    notices.length = 0;
    // Nothing restarts it: the port stays closed.
    await expect(answers()).resolves.toBe(false);
    expect(notices).toEqual([]);
  });
});
