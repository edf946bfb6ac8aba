import { describe, expect, it } from "vitest";
import { createApp } from "../../workers/app";
import { api } from "./client";

/**
 * Malformed input at every route the app registers (taken from the router, so new routes are
 * covered automatically): odd path parameters, broken and mistyped bodies, odd query strings.
 * Nothing may answer 5xx, and every error must be problem+json.
 */
const ODD_PARAMS = [
  "FAKE",
  "x0",
  "-1",
  "99999999999999999999999",
  "%00",
  "..%2F..%2Fetc",
  "%E2%82%AC",
  "a".repeat(3000),
  "x1000c0s0b0n0'--",
  "de:ad:be:ef:00:01",
];

const BODIES: Array<string | undefined> = [
  undefined,
  "",
  "{",
  "null",
  "[]",
  "123",
  '"text"',
  "{}",
  '{"Components":"x"}',
  '{"Components":[null]}',
  '{"Components":[{"ID":{},"State":[]}]}',
  '{"ID":7,"id":[],"Id":{}}',
  '{"RedfishEndpoints":[1,2]}',
  '{"SchemaVersion":1,"ID":"x1000c0s0b0","Systems":[{"ethernet_interfaces":[{"mac":7}]}],"Managers":"no"}',
  '{"ComponentIDs":"x1c0","State":5,"Flag":{},"Enabled":"yes","NID":"one","Role":1}',
  '{"NIDRanges":[{},"1-","-5","9999999999999999999999"]}',
  '{"label":{},"members":{"ids":[1,{}]},"tags":"a"}',
  '{"events":[{"endpoint":"dhcp","mac":1,"ip":{}}]}',
  '{"macs":"aa","hosts":[1],"nids":["x"],"params":{},"kernel":[],"initrd":1,"cloud-init":"x"}',
  '{"name":"","meta-data":"x","file":{"content":1,"encoding":"rot13"}}',
  JSON.stringify({ deep: JSON.parse("[".repeat(200) + "]".repeat(200)) }),
  JSON.stringify({ Components: Array.from({ length: 300 }, (_, i) => ({ ID: `x${i}c0s0b0n0`, State: i % 2 ? "On" : "Bogus" })) }),
  // Values over what D1 stores in one field (2,000,000 bytes) in the fields routes keep whole.
  (() => {
    const big = "b".repeat(2_300_000);
    return JSON.stringify({
      name: "big",
      label: "big",
      description: big,
      macs: ["52:54:00:00:00:09"],
      kernel: "http://h/k",
      params: big,
      "meta-data": { big },
      file: { content: big },
      "local-hostname": big,
    });
  })(),
];

const QUERIES = [
  "",
  "?id=&type=!&nid=abc&nid_start=-&enabled=&stateonly=maybe",
  "?group=%00&partition=P1.2.3&group=a&group=b&partition=p1&partition=p2",
  "?mac=zz&name=&nid=-1&retry=x&arch=%0A&json=1",
  "?MACAddress=&IPAddress=999.1.1.1&OlderThan=now&Type=nope&limit=-4&since=x&after_id=y",
  `?${"a=1&".repeat(500)}`,
  // A filter key many times over: more values than D1's 100 bound parameters (each alone: a
  // route may refuse a key it does not know before it reads the others).
  ...["type=Node", "state=Ready", "nid=1", "nid_start=1&nid_end=2", "group=g", "partition=p1", "role=Compute", "id=x1000c0s0b0n0"]
    .concat([
      "mac=52:54:00:00:00:01",
      "manufacturer=hpe",
      "fruid=a",
      "name=x1000c0s0b0n0",
      "ipaddress=10.0.0.1",
      "componentid=x1000c0s0b0n0",
    ])
    .map((term) => `?${`${term}&`.repeat(120)}`),
];

function concretePaths(pattern: string): string[] {
  if (!pattern.includes(":")) return [pattern];
  return ODD_PARAMS.map((v) => pattern.replace(/:[A-Za-z_]+/g, v));
}

describe("fuzz: no input gives a 5xx", () => {
  const routes = createApp()
    .routes.filter((r) => r.method !== "ALL" && !r.path.includes("*"))
    .map((r) => ({ method: r.method, path: r.path }));
  const unique = [...new Map(routes.map((r) => [`${r.method} ${r.path}`, r])).values()];

  it("covers the registered routes", () => {
    expect(unique.length).toBeGreaterThan(60);
  });

  it("answers every malformed request with < 500 and problem+json errors", async () => {
    const failures: string[] = [];
    let n = 0;
    const hit = async (method: string, path: string, body?: string) => {
      let timer: any;
      const res = await Promise.race([
        api(path, { method, body }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within 30 s (a hang): ${method} ${path.slice(0, 100)} body=${String(body).slice(0, 60)}`)),
            30_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      const text = await res.text();
      n++;
      if (res.status >= 500)
        failures.push(`${method} ${path.slice(0, 100)} body=${String(body).slice(0, 50)} → ${res.status} ${text.slice(0, 200)}`);
      // The OAuth token endpoints answer errors in RFC 6749 §5.2's JSON shape instead.
      else if (res.status >= 400 && !/\/(oauth2\/)?token$/.test(path) && !res.headers.get("content-type")?.includes("problem+json"))
        failures.push(`${method} ${path.slice(0, 100)} → ${res.status} without problem+json`);
    };
    for (const r of unique) {
      const paths = concretePaths(r.path);
      const withBody = r.method !== "GET";
      const bodies = r.method === "DELETE" ? [undefined, "{", "[]"] : BODIES;
      // Every odd parameter once (bodies taken in turn), every body and query on a plausible path.
      for (const [i, path] of paths.entries())
        await hit(r.method, path + (withBody ? "" : QUERIES[i % QUERIES.length]), withBody ? bodies[i % bodies.length] : undefined);
      const plausible = r.path.replace(/:[A-Za-z_]+/g, "x1000c0s0b0n0");
      if (withBody) for (const body of bodies) await hit(r.method, plausible, body);
      else for (const q of QUERIES) await hit(r.method, plausible + q);
    }
    expect(n).toBeGreaterThan(1000);
    expect(failures.slice(0, 20)).toEqual([]);
  }, 600_000);
});
