import { describe, expect, it } from "vitest";
import { SharedCheck, type SharedCheckCounters } from "../../workers/boot/snapshot/shared-check";

/**
 * `shared` snapshot mode's check batching (workers/boot/snapshot/shared-check.ts) on a clock and
 * waits the test drives: which reads share which query, and what happens to a batch whose leader
 * the platform drops (workerd as `npm start` runs it never does; test/head-node/
 * shared-check-hangup.test.ts covers the hang-up there).
 */
const WAIT_LIMIT_MS = 2_000;
const LEADER_LATE_MS = 20;

function harness() {
  let now = 1_000;
  /** Leaders whose wait for their turn the platform drops (their continuation never runs). */
  let dropLeaders = false;
  const counters: SharedCheckCounters = { checks: 0, waited: 0, orphansAnswered: 0 };
  const check = new SharedCheck<string>(
    {
      now: () => now,
      limit: (p, who) => (who === "leader" && dropLeaders ? new Promise(() => {}) : p),
    },
    counters,
    WAIT_LIMIT_MS,
    LEADER_LATE_MS,
  );
  const queries: Array<(answer: string) => void> = [];
  const kept: Promise<unknown>[] = [];
  const read = () => {
    let answer: string | undefined;
    let done = false;
    check
      .read(
        () => new Promise<string>((resolve) => queries.push(resolve)),
        (p) => kept.push(p),
      )
      .then((a) => {
        answer = a;
        done = true;
      });
    return { answer: () => (done ? answer : "(waiting)") };
  };
  return {
    counters,
    queries,
    kept,
    read,
    advance: (ms: number) => (now += ms),
    dropLeaders: () => (dropLeaders = true),
  };
}

/** Lets every promise that can settle settle. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("shared snapshot mode: one generation check for the boot reads that ask together", () => {
  it("reads arriving while a check is in flight share the next one, issued by the first of them", async () => {
    const h = harness();
    const first = h.read();
    await settle();
    const [leader, b, c] = [h.read(), h.read(), h.read()];
    await settle();
    expect(h.queries).toHaveLength(1);
    h.queries[0]("generation 1");
    await settle();
    // The first read's own check answers it; the others' check is issued after it, for them all.
    expect(first.answer()).toBe("generation 1");
    expect([leader, b, c].map((r) => r.answer())).toEqual(["(waiting)", "(waiting)", "(waiting)"]);
    expect(h.queries).toHaveLength(2);
    h.queries[1]("generation 2");
    await settle();
    expect([leader, b, c].map((r) => r.answer())).toEqual(["generation 2", "generation 2", "generation 2"]);
    expect(h.counters).toEqual({ checks: 2, waited: 3, orphansAnswered: 0 });
    expect(h.kept).toHaveLength(2); // each check kept alive past its request
  });

  it("a batch whose woken leader never issues its check is answered by the next read's check", async () => {
    const h = harness();
    h.dropLeaders();
    h.read();
    await settle();
    const [, b, c] = [h.read(), h.read(), h.read()];
    await settle();
    h.queries[0]("generation 1");
    await settle();
    // The leader was woken and dropped: nothing issued for its batch.
    expect(h.queries).toHaveLength(1);
    h.advance(LEADER_LATE_MS - 1);
    const late = h.read(); // the leader may still come: this read joins its batch
    await settle();
    expect(h.queries).toHaveLength(1);
    h.advance(1);
    const next = h.read(); // now it is taken for lost
    await settle();
    expect(h.queries).toHaveLength(2);
    h.queries[1]("generation 2");
    await settle();
    expect([b, c, late, next].map((r) => r.answer())).toEqual(["generation 2", "generation 2", "generation 2", "generation 2"]);
    expect(h.counters.orphansAnswered).toBe(3);
  });

  it("a lost batch older than the wait limit is left to its members, who have given up", async () => {
    const h = harness();
    h.dropLeaders();
    h.read();
    await settle();
    const stale = [h.read(), h.read()];
    await settle();
    h.queries[0]("generation 1");
    await settle();
    h.advance(WAIT_LIMIT_MS);
    const next = h.read();
    await settle();
    h.queries[1]("generation 2");
    await settle();
    expect(next.answer()).toBe("generation 2");
    expect(stale[1].answer()).toBe("(waiting)"); // its own limit (a timer in production) answers it
    expect(h.counters.orphansAnswered).toBe(0);
  });
});
