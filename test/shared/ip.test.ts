import ipaddr from "ipaddr.js";
import { describe, expect, it } from "vitest";
import { canonicalIp, isIPv4 } from "../../shared/ip";

/**
 * isIPv4 and canonicalIp's IPv4 answers come from a pattern alone; they must be what ipaddr.js
 * says: a dotted quad of four decimal parts without leading zeros (its isValidFourPartDecimal),
 * written back as ipaddr.js writes it.
 */
const reference = (s: string) => ipaddr.IPv4.isValidFourPartDecimal(s);

function candidates(): string[] {
  const crafted = [
    "0.0.0.0",
    "255.255.255.255",
    "256.0.0.1",
    "1.2.3.4",
    "01.2.3.4",
    "1.2.3.04",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.",
    ".1.2.3",
    "1..2.3",
    "199.249.250.251",
    "200.250.255.260",
    "10.0.0.5\n",
    " 10.0.0.5",
    "0x0a.0.0.1",
    "1e2.0.0.1",
    "",
  ];
  // Seeded, so a failure names the same inputs on every run.
  let seed = 42;
  const random = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed % n;
  };
  const octet = () => {
    const n = String(random(320));
    return random(10) === 0 ? `0${n}` : n;
  };
  const quads = Array.from({ length: 20_000 }, () => [octet(), octet(), octet(), octet()].join("."));
  const noise = Array.from({ length: 20_000 }, () =>
    Array.from({ length: 1 + random(16) }, () => "0123456789.1234567890.5x"[random(24)]).join(""),
  );
  return [...crafted, ...quads, ...noise];
}

describe("IPv4 literals", () => {
  it("isIPv4 accepts exactly what ipaddr.js takes as a four-part decimal", () => {
    const wrong = candidates().filter((s) => isIPv4(s) !== reference(s));
    expect(wrong).toEqual([]);
  });

  it("canonicalIp writes an IPv4 literal as ipaddr.js does", () => {
    for (const s of candidates().filter(reference)) expect(canonicalIp(s)).toBe(ipaddr.IPv4.parse(s).toString());
    expect(canonicalIp(" 10.0.0.5 ")).toBe("10.0.0.5");
    expect(canonicalIp("::ffff:10.0.0.5")).toBe("10.0.0.5");
    expect(canonicalIp("010.0.0.5")).toBeUndefined();
  });
});
