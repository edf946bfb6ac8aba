import { stringify } from "yaml";

/**
 * The cluster the boot-path benchmarks import (bench/storm.ts, bench/import.ts): N BMCs and N
 * nodes with one interface each, all in group `compute`. Node i's MAC and IP follow the same
 * formulas as the Lua helpers in bench/lib/wrk.ts, so wrk can pick a random node by index.
 */
const hex3 = (i: number) => [(i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff].map((b) => b.toString(16).padStart(2, "0")).join(":");
export const mac = (i: number) => `52:54:00:${hex3(i)}`;
export const ip = (i: number) => `10.${((i + 1) >> 16) & 0xff}.${((i + 1) >> 8) & 0xff}.${(i + 1) & 0xff}`;
const bmc = (i: number) => `x${1000 + Math.floor(i / 512)}c${Math.floor(i / 64) % 8}s${Math.floor(i / 2) % 32}b${i % 2}`;
export const xname = (i: number) => `${bmc(i)}n0`;

/** The nodes file `ochami discover static` reads, for `count` nodes. */
export function nodesYaml(count: number): string {
  const bmcs = Array.from({ length: count }, (_, i) => ({
    name: `bmc${i}`,
    xname: bmc(i),
    mac: `52:54:01:${hex3(i)}`,
    ip: `10.200.${(i >> 8) & 0xff}.${i & 0xff}`,
  }));
  const nodes = Array.from({ length: count }, (_, i) => ({
    name: `nid${String(i + 1).padStart(6, "0")}`,
    nid: i + 1,
    xname: xname(i),
    groups: ["compute"],
    interfaces: [{ mac_addr: mac(i), ip_addrs: [{ name: "internal", ip_addr: ip(i) }] }],
  }));
  return stringify({ bmcs, nodes });
}
