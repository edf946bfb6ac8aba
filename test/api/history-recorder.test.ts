import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Config } from "../../workers/config";
import { database } from "../../workers/db";
import type { BootEvent } from "../../workers/history/model";
import { recordBootEvents } from "../../workers/history/recorder";
import { waitFor } from "../support/wait";

/**
 * The recorder's flush loop runs in the `waitUntil` of the request that scheduled it, and workerd
 * can cancel that work (a cancelled request's): the loop then never comes back. Here
 * its database never answers instead, which leaves the loop just as silent; events recorded
 * after it must still be written, by a new loop, once the old one has been silent for 2 s.
 */
describe("boot history recorder", () => {
  const config = { historyClientRate: 20, historyMax: 100_000, historyUnknownMax: 10_000 } as Config;
  const event = (name: string): BootEvent => ({
    name,
    ip: "10.9.9.9",
    client: "10.9.9.9",
    endpoint: "bootscript",
    inSmd: true,
    timeMs: Date.now(),
  });
  const written = async (name: string) =>
    ((await env.DB.prepare("SELECT count(*) AS n FROM boot_events WHERE name = ?").bind(name).first<{ n: number }>())?.n ?? 0) > 0;

  it("a flush that falls silent is taken for dead after 2 s; the events after it are written by another", async () => {
    let writing = false;
    const silent = {
      prepare: (q: string) => env.DB.prepare(q),
      batch: () => {
        writing = true;
        return new Promise(() => {});
      },
    } as unknown as D1Database;
    const started = Date.now();
    recordBootEvents({ waiter: undefined, db: database(silent), config }, [event("x9000c0s0b0n0")]);
    await waitFor(() => writing, 2_000, "the first flush's write");
    // Recorded while that flush is alive as far as anyone can tell: it waits for the one that replaces it.
    recordBootEvents({ waiter: undefined, db: database(env.DB), config }, [event("x9000c0s1b0n0")]);
    // Each later event asks again whether a flush is alive (as a storm's requests do).
    let n = 0;
    await waitFor(
      async () => {
        recordBootEvents({ waiter: undefined, db: database(env.DB), config }, [event(`x9000c1s${n++ % 32}b0n0`)]);
        return written("x9000c0s1b0n0");
      },
      6_000,
      "the event recorded behind a silent flush",
      { everyMs: 100 },
    );
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(2_000);
    expect(waited).toBeLessThan(6_000);
    expect(await written("x9000c0s0b0n0")).toBe(false); // still in the silent loop's batch
  }, 15_000);
});
