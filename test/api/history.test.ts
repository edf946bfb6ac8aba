import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { database } from "../../workers/db";
import { writeEvents } from "../../workers/history/store";
import { getJson, problemOf, send } from "./client";

const H = "/boot/v1/endpoint-history";

beforeAll(async () => {
  await send("POST", "/hsm/v2/State/Components", { Components: [{ ID: "x1000c0s0b0n0", State: "On", NID: 1 }] });
  await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
    MACAddress: "52:54:00:be:ef:01",
    ComponentID: "x1000c0s0b0n0",
    IPAddresses: [{ IPAddress: "172.16.0.1" }],
  });
});

describe("boot history", () => {
  it("accepts agent reports and resolves the node from MAC or IP", async () => {
    const post = await send("POST", H, {
      events: [
        { mac: "52:54:00:BE:EF:01", ip: "172.16.0.1", endpoint: "dhcp", epoch_ms: 1_700_000_000_000, detail: "ACK 172.16.0.1" },
        { ip: "172.16.0.1", endpoint: "kernel", epoch_ms: 1_700_000_001_000, detail: "/vmlinuz" },
        { mac: "02:00:00:00:00:99", endpoint: "dhcp", epoch_ms: 1_700_000_002_000 },
      ],
    });
    expect(post.status).toBe(202);
    expect(post.body).toEqual({ accepted: 3 });
    const latest = await getJson(`${H}?name=x1000c0s0b0n0`);
    expect(latest.body.map((r: any) => [r.name, r.endpoint, r.last_epoch])).toEqual([
      ["x1000c0s0b0n0", "dhcp", 1_700_000_000],
      ["x1000c0s0b0n0", "kernel", 1_700_000_001],
    ]);
    const unknown = await getJson(`${H}?endpoint=dhcp`);
    expect(unknown.body.find((r: any) => r.mac === "02:00:00:00:00:99")).toMatchObject({ name: "", endpoint: "dhcp" });
    // An unknown requester's entry is kept under "mac:…", which is not a node's name.
    expect((await getJson(`${H}?name=mac:02:00:00:00:00:99`)).body).toEqual([]);
  });

  it("keeps the latest per node and step, and the full log in order", async () => {
    await send("POST", H, { events: [{ name: "x1000c0s0b0n0", endpoint: "dhcp", epoch_ms: 1_700_000_005_000 }] });
    await send("POST", H, { events: [{ name: "x1000c0s0b0n0", endpoint: "dhcp", epoch_ms: 1_600_000_000_000 }] });
    const latest = await getJson(`${H}?name=x1000c0s0b0n0&endpoint=dhcp`);
    expect(latest.body).toHaveLength(1);
    expect(latest.body[0].last_epoch).toBe(1_700_000_005);
    const log = await getJson(`${H}?name=x1000c0s0b0n0&history=true`);
    expect(log.body.map((e: any) => e.endpoint)).toEqual(["dhcp", "kernel", "dhcp", "dhcp"]);
    const after = await getJson(`${H}?history=true&after_id=${log.body[2].id}&name=x1000c0s0b0n0`);
    expect(after.body).toHaveLength(1);
  });

  it("rejects malformed reports", async () => {
    expect(problemOf(await send("POST", H, { events: [{ mac: "nope", endpoint: "dhcp" }] }))).toMatchObject({ status: 400 });
    expect(problemOf(await send("POST", H, { events: [{ mac: "52:54:00:be:ef:01", endpoint: "telnet" }] }))).toMatchObject({ status: 400 });
    expect(problemOf(await send("POST", H, { events: [{ endpoint: "dhcp" }] }))).toMatchObject({ status: 400 });
    expect(problemOf(await send("POST", H, { events: "x" }))).toMatchObject({ status: 400 });
    expect((await getJson(`${H}?limit=0`)).status).toBe(400);
  });

  it("bounds the log but keeps every node's latest step", async () => {
    const db = database(env.DB);
    const many = Array.from({ length: 250 }, (_, i) => ({
      mac: `02:00:00:00:${String(Math.floor(i / 100)).padStart(2, "0")}:${String(i % 100).padStart(2, "0")}`,
      endpoint: "dhcp" as const,
      timeMs: 1_800_000_000_000 + i,
    }));
    await writeEvents(db, many, { maxEvents: 100, maxUnknown: 10_000 });
    const count = await env.DB.prepare("SELECT count(*) AS n FROM boot_events").first<{ n: number }>();
    expect(count!.n).toBe(100);
    const latest = await env.DB.prepare("SELECT count(*) AS n FROM boot_latest WHERE subject LIKE 'mac:02:00:00:00:0%'").first<{
      n: number;
    }>();
    expect(latest!.n).toBe(250);
  });
});
