import { beforeAll, describe, expect, it } from "vitest";
import pkg from "../../package.json";
import { getJson, ochamiSend, problemOf, send } from "./client";

const B = "/boot/v1";

beforeAll(async () => {
  await send("POST", "/hsm/v2/State/Components", {
    Components: [
      { ID: "x5000c0s0b0n0", State: "Ready", Role: "Compute", NID: 1 },
      { ID: "x5000c0s1b0n0", State: "On", Role: "Service", NID: 2, Enabled: false },
      { ID: "x5000c0s0b0", State: "Ready" },
    ],
  });
  await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: "02:50:00:00:00:02", ComponentID: "x5000c0s0b0n0" });
  await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: "02:50:00:00:00:01", ComponentID: "x5000c0s0b0n0" });
  await send("POST", "/hsm/v2/Inventory/EthernetInterfaces", { MACAddress: "02:50:00:00:00:09", ComponentID: "x5000c0s0b0" });
});

const N0 = {
  ID: "x5000c0s0b0n0",
  Type: "Node",
  State: "Ready",
  Flag: "OK",
  Enabled: true,
  Role: "Compute",
  NID: 1,
  FQDN: "",
  MAC: ["02:50:00:00:00:01", "02:50:00:00:00:02"],
  EndpointEnabled: true,
};

describe("BSS /hosts and /dumpstate", () => {
  it("lists SMD's Node components live, in upstream's SMComponent shape", async () => {
    const r = await getJson(`${B}/hosts`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual([
      N0,
      {
        ID: "x5000c0s1b0n0",
        Type: "Node",
        State: "On",
        Flag: "OK",
        Enabled: false,
        Role: "Service",
        NID: 2,
        FQDN: "",
        MAC: [],
        EndpointEnabled: false,
      },
    ]);
  });

  it("filters by name, MAC and NID (comma lists) and 404s on the first unknown one", async () => {
    expect((await getJson(`${B}/hosts?mac=02-50-00-00-00-02`)).body).toEqual([N0]);
    expect((await getJson(`${B}/hosts?name=x5000c0s0b0n0,x5000c0s1b0n0`)).body).toHaveLength(2);
    expect((await getJson(`/apis/bss/boot/v1/hosts?nid=2`)).body.map((h: any) => h.ID)).toEqual(["x5000c0s1b0n0"]);
    expect(problemOf(await getJson(`${B}/hosts?name=x5000c0s0b0`))).toMatchObject({
      status: 404,
      detail: "Not Found - Unknown host name 'x5000c0s0b0'",
    });
    expect(problemOf(await getJson(`${B}/hosts?mac=02:50:00:00:00:09`))).toMatchObject({
      status: 404,
      detail: "Not Found - Unknown MAC address '02:50:00:00:00:09'",
    });
    expect(problemOf(await getJson(`${B}/hosts?nid=3`))).toMatchObject({ status: 404, detail: "Not Found - Unknown NID '3'" });
    expect(problemOf(await getJson(`${B}/hosts?nid=x`))).toMatchObject({ status: 400, detail: "Bad Request - Invalid nid 'x'" });
  });

  it("POST /hosts (upstream: re-read SMD) is a 204: we always read live", async () => {
    const r = await send("POST", `${B}/hosts`);
    expect(r.status).toBe(204);
    expect(r.res.headers.get("cache-control")).toBe("no-cache");
  });

  it("dumpstate gives every node and every boot entry", async () => {
    expect(
      (await ochamiSend("PUT", `${B}/bootparameters`, { hosts: ["Compute"], macs: ["02:50:00:00:00:01"], kernel: "http://k" })).status,
    ).toBe(200);
    const r = await getJson(`${B}/dumpstate`);
    expect(r.body.Components.map((c: any) => c.ID)).toEqual(["x5000c0s0b0n0", "x5000c0s1b0n0"]);
    expect(r.body.Params).toEqual([
      {
        // The MAC is x5000c0s0b0n0's: stored as that node's entry.
        hosts: ["Compute", "x5000c0s0b0n0"],
        kernel: "http://k",
        "cloud-init": {
          "meta-data": null,
          "user-data": null,
          "phone-home": { pub_key_dsa: "", pub_key_rsa: "", pub_key_ecdsa: "", instance_id: "", hostname: "", fqdn: "" },
        },
      },
    ]);
  });
});

describe("BSS /service", () => {
  it("reports status, SMD and storage, and the real version", async () => {
    expect((await getJson(`${B}/service/status`)).body).toEqual({ "bss-status": "running" });
    expect((await getJson(`${B}/service/hsm`)).body).toEqual({ "bss-status-hsm": "connected" });
    expect((await getJson(`${B}/service/storage/status`)).body).toEqual({ "bss-storage-backend": { name: "d1", status: "connected" } });
    const version = await getJson(`/apis/bss/boot/v1/service/version`);
    expect(version.status).toBe(200);
    expect(version.body).toEqual({ "bss-version": pkg.version });
    expect((await getJson(`${B}/service/status/all`)).body).toEqual({
      "bss-version": pkg.version,
      "bss-status": "running",
      "bss-status-hsm": "connected",
      "bss-storage-backend": { name: "d1", status: "connected" },
    });
  });
});
