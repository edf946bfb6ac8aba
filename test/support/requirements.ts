/**
 * What a test suite needs from the machine, declared where the suite is: `requirements()` returns
 * why it cannot run here (undefined when it can), for `describe.skipIf(missing)` or `it.skipIf`;
 * when something is missing it also adds one skipped test that prints the reason, so the run's
 * output says what is missing and how to install it. See needs.ts for what can be declared.
 */
import { it } from "vitest";
import { describeMissing, type Needs } from "./needs";

export type { Needs } from "./needs";

/**
 * Why the tests that follow cannot run here, or undefined when they can. Call it at the level of
 * the suite it guards (file or describe); when something is missing, the one skipped test it adds
 * there carries the reason into the report.
 */
export function requirements(needs: Needs): string | undefined {
  const reason = describeMissing(needs);
  if (reason)
    it("requirements", (ctx) => {
      console.warn(`skipped: ${reason}`);
      ctx.skip(reason);
    });
  return reason;
}
