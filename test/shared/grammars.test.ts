import { describe, expect, it } from "vitest";
import { BOOT_STEPS, isBootStep } from "../../shared/boot-events";
import { parseDuration } from "../../shared/duration";
import { parseOnOff } from "../../shared/on-off";

/** The project's one duration and one on/off grammar, used by the worker, the agent and the CLI. */
describe("shared grammars", () => {
  it("durations: plain seconds, Go-style unit pairs, days; case and spaces ignored", () => {
    const cases: Array<[string, number | undefined]> = [
      ["90", 90_000],
      ["0.5", 500],
      ["30s", 30_000],
      ["1m30s", 90_000],
      ["500ms", 500],
      ["1.5h", 5_400_000],
      ["1d", 86_400_000],
      [" 2H ", 7_200_000],
      ["1h30m15s", 5_415_000],
      ["", undefined],
      ["soon", undefined],
      ["1x", undefined],
      ["s", undefined],
      ["1m 30s", undefined],
      ["-5s", undefined],
    ];
    for (const [text, ms] of cases) expect(parseDuration(text), text).toBe(ms);
  });

  it("on/off: on, true, yes, 1 and their opposites, any case; anything else is undefined", () => {
    for (const on of ["on", "ON", "true", "True", "yes", "1", " on "]) expect(parseOnOff(on), on).toBe(true);
    for (const off of ["off", "false", "No", "0"]) expect(parseOnOff(off), off).toBe(false);
    for (const bad of ["", "enabled", "2", "o n"]) expect(parseOnOff(bad), bad).toBeUndefined();
  });

  it("boot steps: the wire names, checked one by one", () => {
    expect(BOOT_STEPS).toContain("cloud-init-group");
    expect(isBootStep("kernel")).toBe(true);
    expect(isBootStep("Kernel")).toBe(false);
  });
});
