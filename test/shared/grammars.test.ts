import { describe, expect, it } from "vitest";
import { BOOT_STEPS, isBootStep } from "../../shared/boot-events";
import { parseDuration } from "../../shared/duration";
import { parseMac } from "../../shared/mac";
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

  it("MACs: any usual spelling gives the stored one; the stored one is taken as it is", () => {
    const cases: Array<[string, string | undefined]> = [
      ["52:54:00:be:ef:0a", "52:54:00:be:ef:0a"],
      ["52:54:00:BE:EF:0A", "52:54:00:be:ef:0a"],
      ["52-54-00-be-ef-0a", "52:54:00:be:ef:0a"],
      ["5254.00be.ef0a", "52:54:00:be:ef:0a"],
      ["525400beef0a", "52:54:00:be:ef:0a"],
      [" 52:54:00:be:ef:0a ", "52:54:00:be:ef:0a"],
      ["52:54:00:be:ef:0a:", "52:54:00:be:ef:0a"],
      ["52:54:00:be:ef", undefined],
      ["52:54:00:be:ef:0g", undefined],
      ["52:54:00:be:ef:0a\n", "52:54:00:be:ef:0a"],
      ["", undefined],
    ];
    for (const [text, mac] of cases) {
      const r = parseMac(text);
      expect(r.ok ? r.mac : undefined, JSON.stringify(text)).toBe(mac);
      if (r.ok) expect(r.id, JSON.stringify(text)).toBe(mac!.replaceAll(":", ""));
    }
    // The stored spelling, random bytes: the same answer as through the general path (upper case).
    for (let i = 0; i < 2000; i++) {
      const mac = Array.from({ length: 6 }, () =>
        Math.floor(Math.random() * 256)
          .toString(16)
          .padStart(2, "0"),
      ).join(":");
      expect(parseMac(mac)).toEqual(parseMac(mac.toUpperCase()));
    }
  });

  it("boot steps: the wire names, checked one by one", () => {
    expect(BOOT_STEPS).toContain("cloud-init-group");
    expect(isBootStep("kernel")).toBe(true);
    expect(isBootStep("Kernel")).toBe(false);
  });
});
