import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import deprecated from "../fixtures/nodes.deprecated-format.yaml?raw";
import newFormat from "../fixtures/nodes.new-format.yaml?raw";
import tutorial from "../fixtures/nodes.tutorial-9-nodes.yaml?raw";
import { getJson, send } from "./client";
import { discoverStatic } from "./ochami-discover";

const sendRaw = async (method: string, path: string, body?: unknown) => {
  // ochami sends no Content-Type; `send` sets none either.
  const r = await send(method, path, body);
  return { status: r.status };
};

interface TutorialNode {
  name: string;
  nid: number;
  xname: string;
  bmc_mac: string;
  bmc_ip: string;
  interfaces: Array<{ mac_addr: string; ip_addrs: Array<{ ip_addr: string }> }>;
}

describe("replaying `ochami discover static`", () => {
  const nodes = (parse(tutorial) as { nodes: TutorialNode[] }).nodes;

  it("accepts the tutorial inventory (deprecated format) with upstream's status codes", async () => {
    const log = await discoverStatic(sendRaw, tutorial);
    expect(log.map(([m, p, s]) => `${m} ${p.replace(/x[0-9a-z]+$/, "X")} ${s}`)).toEqual([
      "POST /State/Components 204",
      ...nodes.map(() => "POST /Inventory/RedfishEndpoints 201"),
      "POST /groups 201",
    ]);
  });

  it("gives coresmd what it reads: lower-case MACs to node IPs, and NIDs", async () => {
    const ifaces = (await getJson("/hsm/v2/Inventory/EthernetInterfaces")).body as any[];
    const comps = (await getJson("/hsm/v2/State/Components")).body.Components as any[];
    for (const n of nodes) {
      const iface = ifaces.find((i) => i.MACAddress === n.interfaces[0].mac_addr);
      expect(iface).toMatchObject({ ComponentID: n.xname, Type: "Node" });
      expect(iface.IPAddresses[0].IPAddress).toBe(n.interfaces[0].ip_addrs[0].ip_addr);
      const bmc = ifaces.find((i) => i.MACAddress === n.bmc_mac);
      expect(bmc).toMatchObject({ ComponentID: n.xname.replace(/n0$/, ""), Type: "NodeBMC" });
      expect(bmc.IPAddresses).toEqual([{ IPAddress: n.bmc_ip }]);
      // The user's NID wins over the parser's position-derived one.
      expect(comps.find((c) => c.ID === n.xname)).toMatchObject({ Type: "Node", NID: n.nid, State: "On", Enabled: true, Role: "Compute" });
      expect(comps.find((c) => c.ID === n.xname.replace(/n0$/, ""))).toMatchObject({ Type: "NodeBMC", Enabled: true });
    }
  });

  it("gives BSS what it reads: nodes, enabled component endpoints with NIC MACs", async () => {
    const comps = (await getJson("/hsm/v2/State/Components?type=Node")).body.Components as any[];
    expect(comps.map((c) => c.ID).sort()).toEqual(nodes.map((n) => n.xname).sort());
    const ces = (await getJson("/hsm/v2/Inventory/ComponentEndpoints?type=Node")).body.ComponentEndpoints as any[];
    for (const n of nodes) {
      const ce = ces.find((c) => c.ID === n.xname);
      expect(ce).toMatchObject({
        Type: "Node",
        Enabled: true,
        RedfishType: "ComputerSystem",
        RedfishEndpointID: n.xname.replace(/n0$/, ""),
        ComponentEndpointType: "ComponentEndpointComputerSystem",
        OdataID: `/redfish/v1/Systems/${n.xname}`,
      });
      expect(ce.RedfishSystemInfo.Name).toBe(n.name);
      expect(ce.RedfishSystemInfo.EthernetNICInfo.map((e: any) => e.MACAddress)).toEqual([n.interfaces[0].mac_addr]);
    }
    const managers = (await getJson("/hsm/v2/Inventory/ComponentEndpoints?type=NodeBMC")).body.ComponentEndpoints as any[];
    expect(managers).toHaveLength(nodes.length);
    expect(managers[0].RedfishManagerInfo.EthernetNICInfo[0].MACAddress).toMatch(/^de:ca:fc/);
    const ifaces = (await getJson("/hsm/v2/Inventory/EthernetInterfaces?type=Node")).body as any[];
    expect(ifaces).toHaveLength(nodes.length);
  });

  it("gives cloud-init what it reads: interfaces (trailing slash), memberships, NIDs", async () => {
    const ifaces = (await getJson("/hsm/v2/Inventory/EthernetInterfaces/")).body as any[];
    expect(ifaces.length).toBe(nodes.length * 2);
    for (const n of nodes) {
      expect((await getJson(`/hsm/v2/memberships/${n.xname}`)).body).toEqual({ id: n.xname, groupLabels: ["compute"], partitionName: "" });
      expect((await getJson(`/hsm/v2/State/Components/${n.xname}`)).body.NID).toBe(n.nid);
    }
    expect((await getJson("/hsm/v2/groups/compute")).body.members.ids.sort()).toEqual(nodes.map((n) => n.xname).sort());
  });

  it("fails a second plain run as upstream does (409s), and a --overwrite run succeeds idempotently", async () => {
    const again = await discoverStatic(sendRaw, tutorial);
    expect(again.filter(([, , s]) => s === 409).length).toBe(nodes.length + 1);
    const log = await discoverStatic(sendRaw, tutorial, true);
    // ochami answers a POST's 409 with a PUT (endpoints) or PATCH (groups); those must succeed.
    const fallbacks = log.filter(([m]) => m === "PUT" || m === "PATCH");
    expect(log.filter(([m, , s]) => m === "POST" && s === 409)).toHaveLength(nodes.length + 1);
    expect(fallbacks.filter(([_m, p]) => !p.startsWith("/State")).map(([, , s]) => s)).toEqual([...nodes.map(() => 200), 204]);
    expect(log.filter(([m, , s]) => !(m === "POST" && s === 409) && (s < 200 || s >= 300))).toEqual([]);
    const ifaces = (await getJson("/hsm/v2/Inventory/EthernetInterfaces")).body as any[];
    expect(ifaces).toHaveLength(nodes.length * 2);
    const comps = (await getJson("/hsm/v2/State/Components?type=Node")).body.Components as any[];
    expect(comps.map((c) => c.NID).sort()).toEqual(nodes.map((n) => n.nid).sort());
  });

  it("accepts the new bmcs:/nodes: format and the deprecated example", async () => {
    for (const doc of [newFormat, deprecated]) {
      const log = await discoverStatic(sendRaw, doc);
      expect(log.filter(([m, p]) => m === "POST" && p === "/Inventory/RedfishEndpoints").map(([, , s]) => s)).toEqual([201]);
    }
    const iface = (await getJson("/hsm/v2/Inventory/EthernetInterfaces/deadbeeeeef1")).body;
    expect(iface).toMatchObject({
      ComponentID: "x1000c1s0b0n0",
      MACAddress: "de:ad:be:ee:ee:f1",
      IPAddresses: [{ IPAddress: "172.16.0.1" }],
    });
    const rfe = (await getJson("/hsm/v2/Inventory/RedfishEndpoints/x1000c1s0b0")).body;
    expect(rfe).toMatchObject({
      ID: "x1000c1s0b0",
      Type: "NodeBMC",
      Name: "bmc01",
      FQDN: "x1000c1s0b0.openchami.cluster",
      Hostname: "x1000c1s0b0",
      Domain: "openchami.cluster",
      IPAddress: "172.16.0.101",
      MACAddr: "de:ca:fc:0f:ee:ee",
      Enabled: true,
    });
    expect(rfe.DiscoveryInfo).toEqual({ LastDiscoveryStatus: "NotYetQueried" });
  });

  it("deleting an endpoint empties its components but keeps them and their interfaces", async () => {
    const r = await send("DELETE", "/hsm/v2/Inventory/RedfishEndpoints/x1000c1s0b0");
    expect(r.body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect((await getJson("/hsm/v2/State/Components/x1000c1s0b0n0")).body).toMatchObject({ State: "Empty", Flag: "OK" });
    expect((await getJson("/hsm/v2/Inventory/ComponentEndpoints/x1000c1s0b0n0")).status).toBe(404);
    expect((await getJson("/hsm/v2/Inventory/EthernetInterfaces/deadbeeeeef1")).status).toBe(200);
  });

  it("our difference: the array form of POST /RedfishEndpoints parses each element as if posted alone", async () => {
    /** SMD as clients read it, without the timestamps of the moment it was written. */
    const state = async () => {
      const strip = (x: unknown) => JSON.parse(JSON.stringify(x).replace(/"(LastUpdate|LastDiscoveryAttempt|UUID)":"[^"]*"/g, '"$1":"-"'));
      const paths = [
        "/hsm/v2/State/Components",
        "/hsm/v2/Inventory/EthernetInterfaces",
        "/hsm/v2/Inventory/ComponentEndpoints",
        "/hsm/v2/Inventory/RedfishEndpoints",
        "/hsm/v2/Inventory/Hardware",
        "/hsm/v2/Inventory/HardwareByFRU",
      ];
      return strip(await Promise.all(paths.map(async (p) => (await getJson(p)).body)));
    };
    const wipe = async () => {
      for (const p of [
        "/hsm/v2/State/Components",
        "/hsm/v2/Inventory/RedfishEndpoints",
        "/hsm/v2/Inventory/EthernetInterfaces",
        "/hsm/v2/Inventory/Hardware",
      ])
        await send("DELETE", p);
    };
    const requests: Array<[string, string, unknown]> = [];
    await wipe();
    await discoverStatic(async (method, path, body) => {
      requests.push([method, path, body]);
      return sendRaw(method, path, body);
    }, tutorial);
    const alone = await state();
    await wipe();
    const RFE = "/hsm/v2/Inventory/RedfishEndpoints";
    const rfes = requests.filter(([, p]) => p === RFE).map(([, , b]) => b);
    expect(rfes.length).toBe(nodes.length);
    for (const [method, path, body] of requests) {
      if (path === RFE) {
        if (body === rfes[0]) expect((await send("POST", RFE, { RedfishEndpoints: rfes })).status).toBe(201);
      } else if (path !== "/hsm/v2/groups") await sendRaw(method, path, body);
    }
    expect(await state()).toEqual(alone);
  });
});
