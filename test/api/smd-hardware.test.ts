import { describe, expect, it } from "vitest";
import { send } from "./client";

/**
 * Hardware inventory, replaying upstream SMD's CT stages (test_hardware and
 * test_hardware_negative under 3-disruptive, test_hardware and test_hardware_history under
 * 4-destructive-initial) with upstream's bodies and expectations, then the inventory SMD derives
 * from a discovered Redfish endpoint and detaches when the endpoint goes.
 */

const fru = (Type: string, infoKey: string, info: Record<string, unknown>, FRUID = "posted-fruid-is-ignored") => ({
  FRUID,
  Type,
  Subtype: "",
  HWInventoryByFRUType: `HWInvByFRU${Type}`,
  [infoKey]: info,
});

/** upstream's test_hardware bodies: one location of each kind. */
const HW = {
  rectifier: {
    ID: "x9999c7t9",
    CMMRectifierLocationInfo: { Name: "Rectifier9", FirmwareVersion: "" },
    PopulatedFRU: fru("CMMRectifier", "CMMRectifierFRUInfo", {
      Manufacturer: "ABB",
      SerialNumber: "LBGEPE20KZ46051725",
      Model: "CC15000H3C380T",
      PartNumber: "",
    }),
  },
  chassis: {
    ID: "x9999c7",
    ChassisLocationInfo: { Id: "Enclosure", Name: "Enclosure", Description: "CMM", HostName: "" },
    PopulatedFRU: fru("Chassis", "ChassisFRUInfo", {
      AssetTag: "",
      ChassisType: "Enclosure",
      Model: "CMM",
      Manufacturer: "HPE",
      PartNumber: "101426404.D",
      SerialNumber: "IMZ2409069079",
      SKU: "",
    }),
  },
  blade: {
    ID: "x9999c7s9",
    ComputeModuleLocationInfo: { Id: "Blade9", Name: "Blade9", Description: "", HostName: "" },
    PopulatedFRU: fru("ComputeModule", "ComputeModuleFRUInfo", {
      AssetTag: "",
      ChassisType: "Blade",
      Model: "Blade9",
      Manufacturer: "HPE",
      PartNumber: "",
      SerialNumber: "",
      SKU: "",
    }),
  },
  memory: {
    ID: "x9999c7s9b9n9d9",
    MemoryLocationInfo: {
      Id: "DIMM9",
      Name: "DIMM9",
      Description: "",
      MemoryLocation: { Socket: 9, MemoryController: 9, Channel: 9, Slot: 9 },
    },
    PopulatedFRU: fru("Memory", "MemoryFRUInfo", {
      BaseModuleType: "RDIMM",
      CapacityMiB: 16384,
      Manufacturer: "SKHynix",
      MemoryDeviceType: "DDR4",
      PartNumber: "HMA82GR7CJR8N-XN",
      SerialNumber: "YBZ0215997182",
    }),
  },
  bmc: {
    ID: "x9999c7s9b9",
    NodeBMCLocationInfo: {
      DateTime: "2022-10-17T16:22:13+00:00",
      Description: "ShastaManager",
      FirmwareVersion: "",
      Id: "BMC",
      Name: "BMC",
    },
    PopulatedFRU: fru("NodeBMC", "NodeBMCFRUInfo", {
      ManagerType: "EnclosureManager",
      Model: "",
      Manufacturer: "",
      PartNumber: "",
      SerialNumber: "",
    }),
  },
  enclosure: {
    ID: "x9999c7s9e9",
    NodeEnclosureLocationInfo: { Id: "Enclosure", Name: "Enclosure", Description: "WNC", HostName: "" },
    PopulatedFRU: fru("NodeEnclosure", "NodeEnclosureFRUInfo", {
      ChassisType: "Enclosure",
      Model: "WNC",
      Manufacturer: "HPE",
      PartNumber: "101920703.D",
      SerialNumber: "XJJ7679069386",
    }),
  },
  hsnNic: {
    ID: "x9999c7s9b9n9h3",
    NodeHsnNicLocationInfo: { Id: "HPCNet0", Name: "", Description: "SS11200Gb2PNICMezzREV02(HSN)" },
    PopulatedFRU: fru("NodeHsnNic", "NodeHsnNicFRUInfo", {
      Manufacturer: "HPE-PRM",
      Model: "R4K44A",
      PartNumber: "P43012-001",
      SerialNumber: "OTI6996696413",
    }),
  },
  node: (description: string, bios: string) => ({
    ID: "x9999c7s9b9n9",
    NodeLocationInfo: {
      Id: "Node9",
      Name: "Node9",
      Description: description,
      HostName: "",
      ProcessorSummary: { Count: 2, Model: "AMDEPYC776364-CoreProcessor" },
      MemorySummary: { TotalSystemMemoryGiB: 512 },
    },
    PopulatedFRU: fru(
      "Node",
      "NodeFRUInfo",
      {
        BiosVersion: bios,
        Model: "HPECRAYEX425(MILAN)",
        Manufacturer: "HPE",
        PartNumber: "101920703.D",
        SerialNumber: "XJJ7679069386",
        SystemType: "Physical",
      },
      "Node.HPE.101920703D.XJJ7679069386_9",
    ),
  }),
  processor: {
    ID: "x9999c7s9b9n9p3",
    ProcessorLocationInfo: { Id: "CPU3", Name: "Processor", Description: "", Socket: "CPU3" },
    PopulatedFRU: fru("Processor", "ProcessorFRUInfo", {
      Manufacturer: "AdvancedMicroDevices,Inc.",
      Model: "AMDEPYC776364-CoreProcessor",
      SerialNumber: "EWN8203534712",
      PartNumber: "",
      ProcessorType: "CPU",
      TotalCores: 64,
    }),
  },
};

const post = (...hardware: unknown[]) => send("POST", "/hsm/v2/Inventory/Hardware", { Hardware: hardware });

describe("upstream's hardware stages (3-disruptive/test_hardware)", () => {
  it("creates each kind of location; the FRU ID is computed from the FRU info, as upstream", async () => {
    const expected: Record<string, string> = {
      rectifier: "CMMRectifier.ABB.LBGEPE20KZ46051725",
      chassis: "Chassis.HPE.101426404D.IMZ2409069079",
      blade: "FRUIDforx9999c7s9",
      memory: "Memory.SKHynix.HMA82GR7CJR8NXN.YBZ0215997182",
      bmc: "FRUIDforx9999c7s9b9",
      enclosure: "NodeEnclosure.HPE.101920703D.XJJ7679069386",
      hsnNic: "NodeHsnNic.HPEPRM.P43012001.OTI6996696413",
      processor: "Processor.AdvancedMicroDevicesInc.EWN8203534712",
    };
    for (const [name, fruid] of Object.entries(expected)) {
      const body = (HW as Record<string, any>)[name];
      const r = await post(body);
      expect([r.status, r.body], name).toEqual([200, { code: 0, message: "Created 1 entries" }]);
      const got = await send("GET", `/hsm/v2/Inventory/Hardware/${body.ID}`);
      expect(got.status).toBe(200);
      expect(got.body.PopulatedFRU.FRUID, name).toBe(fruid);
      expect(got.body).toMatchObject({ ID: body.ID, Status: "Populated" });
    }
    const chassis = (await send("GET", "/hsm/v2/Inventory/Hardware/x9999c7")).body;
    expect(chassis).toEqual({
      ID: "x9999c7",
      Type: "Chassis",
      Ordinal: 7,
      Status: "Populated",
      HWInventoryByLocationType: "HWInvByLocChassis",
      ChassisLocationInfo: HW.chassis.ChassisLocationInfo,
      PopulatedFRU: {
        FRUID: "Chassis.HPE.101426404D.IMZ2409069079",
        Type: "Chassis",
        Subtype: "",
        HWInventoryByFRUType: "HWInvByFRUChassis",
        ChassisFRUInfo: HW.chassis.PopulatedFRU.ChassisFRUInfo,
      },
    });
    // Lists answer the same documents, key order included.
    const listed = await send("GET", "/hsm/v2/Inventory/Hardware?id=x9999c7");
    expect(listed.text).toBe(JSON.stringify([chassis]));
    const frus = await send("GET", "/hsm/v2/Inventory/HardwareByFRU?fruid=Chassis.HPE.101426404D.IMZ2409069079");
    expect(frus.text).toBe(JSON.stringify([chassis.PopulatedFRU]));
  });

  it("updates a node in place (same FRU, new info)", async () => {
    expect((await post(HW.node("WNC", "ex425.bios-1.6.3"))).status).toBe(200);
    expect((await post(HW.node("WNC-Updated", "ex425.bios-1.6.3-updated"))).status).toBe(200);
    const node = (await send("GET", "/hsm/v2/Inventory/Hardware/x9999c7s9b9n9")).body;
    expect(node.NodeLocationInfo.Description).toBe("WNC-Updated");
    expect(node.PopulatedFRU.FRUID).toBe("Node.HPE.101920703D.XJJ7679069386");
    expect(node.PopulatedFRU.NodeFRUInfo.BiosVersion).toBe("ex425.bios-1.6.3-updated");
  });

  it("lists with every filter of upstream's stages", async () => {
    const ids = async (q: string) => (await send("GET", `/hsm/v2/Inventory/Hardware${q}`)).body.map((l: any) => l.ID);
    expect(await ids("")).toHaveLength(9);
    expect(await ids("?id=x9999c7t9")).toEqual(["x9999c7t9"]);
    expect(await ids("?type=Chassis")).toEqual(["x9999c7"]);
    expect(await ids("?type=memory&type=processor")).toEqual(["x9999c7s9b9n9d9", "x9999c7s9b9n9p3"]);
    expect(await ids("?manufacturer=AdvancedMicroDevices,Inc.")).toEqual(["x9999c7s9b9n9p3"]);
    expect(await ids("?manufacturer=hpe")).toEqual(["x9999c7", "x9999c7s9", "x9999c7s9b9n9", "x9999c7s9b9n9h3", "x9999c7s9e9"]);
    // Any number of values (one bound parameter each passed D1's 100 at the 100th: a 500), any
    // length (D1 on Cloudflare refuses a LIKE pattern over 50 bytes), `_` and `%` as themselves.
    const many = Array.from({ length: 150 }, (_, i) => `manufacturer=${"n".repeat(60)}${i}`).join("&");
    expect(await ids(`?${many}&manufacturer=abb`)).toEqual(["x9999c7t9"]);
    expect(await ids("?manufacturer=h_e")).toEqual([]);
    expect(await ids("?manufacturer=%25")).toEqual([]);
    expect(await ids("?partnumber=HMA82GR7CJR8N-XN")).toEqual(["x9999c7s9b9n9d9"]);
    expect(await ids("?serialnumber=HER1920112770")).toEqual([]);
    expect(await ids("?serialnumber=IMZ2409069079")).toEqual(["x9999c7"]);
    expect(await ids("?fruid=Memory.SKHynix.HMA82GR7CJR8NXN.YBZ0215997182")).toEqual(["x9999c7s9b9n9d9"]);
  });

  it("queries by xname: children, parents, types and formats", async () => {
    const q = async (path: string) => {
      const r = await send("GET", `/hsm/v2/Inventory/Hardware/Query/${path}`);
      expect(r.status, path).toBe(200);
      return r.body;
    };
    const chassis = await q("x9999c7?children=False&parents=True");
    expect(Object.keys(chassis)).toEqual(["XName", "Format", "Chassis"]);
    expect(chassis.Chassis.map((c: any) => c.ID)).toEqual(["x9999c7"]);
    // Children by default: under the node, its processor, memory and HSN NIC, nested in it.
    const node = await q("x9999c7s9b9n9?children=True");
    expect(node.Format).toBe("NestNodesOnly");
    expect(Object.keys(node)).toEqual(["XName", "Format", "Nodes"]);
    expect(node.Nodes[0].Processors.map((p: any) => p.ID)).toEqual(["x9999c7s9b9n9p3"]);
    expect(node.Nodes[0].Memory.map((p: any) => p.ID)).toEqual(["x9999c7s9b9n9d9"]);
    expect(node.Nodes[0].NodeHsnNics.map((p: any) => p.ID)).toEqual(["x9999c7s9b9n9h3"]);
    const flat = await q("x9999c7s9b9n9?format=FullyFlat");
    expect(Object.keys(flat)).toEqual(["XName", "Format", "Nodes", "Processors", "Memory", "NodeHsnNics"]);
    // A memory module alone (NestNodesOnly without its node in the answer keeps it at the top).
    expect((await q("x9999c7s9b9n9d9?format=FullyFlat")).Memory.map((m: any) => m.ID)).toEqual(["x9999c7s9b9n9d9"]);
    expect((await q("x9999c7s9b9n9d9")).Memory).toHaveLength(1);
    // Types with children: the locations of those types under the xname, and what is under them.
    const blade = await q("x9999c7s9?type=Node");
    expect(blade.Nodes.map((n: any) => n.ID)).toEqual(["x9999c7s9b9n9"]);
    expect(blade.Nodes[0].Processors).toHaveLength(1);
    expect(blade.ComputeModules).toBeUndefined();
    expect((await q("x9999c7s9?xname=x9999c7s9&children=False")).ComputeModules.map((m: any) => m.ID)).toEqual(["x9999c7s9"]);
    expect((await q("x9999c7r9e9?type=HSNBoard")).HSNBoards).toBeUndefined();
    expect((await q("x9999c7s9b9?format=NestNodesOnly&children=False")).NodeBMCs.map((b: any) => b.ID)).toEqual(["x9999c7s9b9"]);
    // The whole system, and everything of a type with what is under it.
    const all = await q("all");
    expect(all.XName).toBe("all");
    expect(all.Nodes[0].Memory).toHaveLength(1);
    expect(Object.keys(all)).toEqual([
      "XName",
      "Format",
      "Nodes",
      "Chassis",
      "ComputeModules",
      "NodeEnclosures",
      "CMMRectifiers",
      "NodeBMCs",
    ]);
    expect(Object.keys(await q("s0?type=Processor"))).toEqual(["XName", "Format", "Processors"]);
    // Parents of a processor: its node, the BMC, the blade and the chassis.
    const up = await q("x9999c7s9b9n9p3?parents=true&format=FullyFlat");
    expect([up.Processors, up.Nodes, up.NodeBMCs, up.ComputeModules, up.Chassis].map((l: any[]) => l.map((x) => x.ID))).toEqual([
      ["x9999c7s9b9n9p3"],
      ["x9999c7s9b9n9"],
      ["x9999c7s9b9"],
      ["x9999c7s9"],
      ["x9999c7"],
    ]);
  });

  it("gets a FRU by ID and lists FRUs with filters", async () => {
    const f = await send("GET", "/hsm/v2/Inventory/HardwareByFRU/NodeEnclosure.HPE.101920703D.XJJ7679069386");
    expect(f.body).toEqual({
      FRUID: "NodeEnclosure.HPE.101920703D.XJJ7679069386",
      Type: "NodeEnclosure",
      Subtype: "",
      HWInventoryByFRUType: "HWInvByFRUNodeEnclosure",
      NodeEnclosureFRUInfo: HW.enclosure.PopulatedFRU.NodeEnclosureFRUInfo,
    });
    const frus = (await send("GET", "/hsm/v2/Inventory/HardwareByFRU?type=Memory")).body;
    expect(frus.map((x: any) => x.FRUID)).toEqual(["Memory.SKHynix.HMA82GR7CJR8NXN.YBZ0215997182"]);
    expect((await send("GET", "/hsm/v2/Inventory/HardwareByFRU?manufacturer=abb")).body.map((x: any) => x.Type)).toEqual(["CMMRectifier"]);
  });

  it("records a Detected event per FRU seen, not again for the same FRU at the same place", async () => {
    const h = (await send("GET", "/hsm/v2/Inventory/Hardware/History/x9999c7s9b9n9")).body;
    expect(h.ID).toBe("x9999c7s9b9n9");
    expect(h.History).toEqual([
      { ID: "x9999c7s9b9n9", FRUID: "Node.HPE.101920703D.XJJ7679069386", Timestamp: expect.stringMatching(/Z$/), EventType: "Detected" },
    ]);
    const byFru = (await send("GET", "/hsm/v2/Inventory/HardwareByFRU/History")).body;
    expect(byFru.Components.map((c: any) => c.ID)).toContain("Node.HPE.101920703D.XJJ7679069386");
  });

  it("deletes locations one by one; a second delete is 404", async () => {
    for (const id of [
      "x9999c7t9",
      "x9999c7",
      "x9999c7s9",
      "x9999c7s9b9n9d9",
      "x9999c7s9b9",
      "x9999c7s9e9",
      "x9999c7s9b9n9h3",
      "x9999c7s9b9n9",
      "x9999c7s9b9n9p3",
    ]) {
      expect((await send("DELETE", `/hsm/v2/Inventory/Hardware/${id}`)).body, id).toEqual({ code: 0, message: "deleted 1 entry" });
    }
    expect((await send("DELETE", "/hsm/v2/Inventory/Hardware/x9999c7s9b9n9")).body.detail).toBe("no such xname.");
    expect((await send("GET", "/hsm/v2/Inventory/Hardware")).body).toEqual([]);
  });
});

describe("upstream's negative hardware stages (3-disruptive/test_hardware_negative)", () => {
  it("words each refusal as upstream", async () => {
    const { ID, ...noId } = HW.rectifier;
    const cases: Array<[unknown, string]> = [
      [noId, "ID is empty or not a valid xname"],
      [{ ...HW.chassis, ID: "" }, "ID is empty or not a valid xname"],
      [{ ID: "x9999c7s9b9n9d9" }, "PopulatedFRU must be populated"],
      [{ ID: "x9999c7s9b9", PopulatedFRU: HW.bmc.PopulatedFRU }, "Component location info is empty"],
      [{ ID: "x9999c7s9e9", NodeEnclosureLocationInfo: {}, PopulatedFRU: { FRUID: "x", Type: "NodeEnclosure" } }, "FRU info is empty"],
      [{ ...HW.hsnNic, ID: "FAKE" }, "ID is empty or not a valid xname"],
      [{ ID: "x9999c7b0", PopulatedFRU: {} }, "HMSType value not supported for this operation"],
    ];
    for (const [body, detail] of cases) {
      const r = await post(HW.chassis, body);
      expect([r.status, r.body.detail], JSON.stringify(body)).toEqual([400, detail]);
    }
    // All or nothing: the valid entry before the bad one was not stored.
    expect((await send("GET", "/hsm/v2/Inventory/Hardware/x9999c7")).status).toBe(404);
    const stages: Array<[string, string, number, string | undefined]> = [
      ["GET", "/hsm/v2/Inventory/Hardware/x9989c7s9b9n9", 404, "no such xname."],
      ["GET", "/hsm/v2/Inventory/Hardware?id=FAKE", 400, "Invalid xname"],
      ["GET", "/hsm/v2/Inventory/Hardware?type=FAKE", 400, "Invalid HMS type"],
      ["GET", "/hsm/v2/Inventory/Hardware/Query/x9999c7s9b9n9?children=False", 200, undefined],
      ["GET", "/hsm/v2/Inventory/Hardware/Query/FAKE", 400, "Invalid xname"],
      ["GET", "/hsm/v2/Inventory/Hardware/Query/all?children=maybe", 400, "Invalid boolean for children"],
      ["GET", "/hsm/v2/Inventory/Hardware/Query/all?format=Hierarchical", 400, "Invalid format"],
      ["GET", "/hsm/v2/Inventory/Hardware/Query/all?partition=bad", 400, "Invalid partition"],
      ["DELETE", "/hsm/v2/Inventory/Hardware/x9999c7s9b9n9", 404, "no such xname."],
      ["DELETE", "/hsm/v2/Inventory/Hardware/FAKE", 404, "no such xname."],
      ["GET", "/hsm/v2/Inventory/Hardware/History?eventtype=Exploded", 400, "Invalid HWInvHist event type"],
      ["GET", "/hsm/v2/Inventory/Hardware/History?starttime=yesterday", 400, "Argument was not in a valid RFC3339 time format"],
      ["GET", "/hsm/v2/Inventory/Hardware/History/FAKE", 400, "Invalid xname"],
    ];
    for (const [method, path, status, detail] of stages) {
      const r = await send(method, path);
      expect([r.status, r.body?.detail], path).toEqual([status, detail]);
    }
    expect((await send("POST", "/hsm/v2/Inventory/Hardware", { Hardware: "x" })).status).toBe(400);
  });

  it("bounds an import: at most 5,000 locations, and a declared body over 8 MB is refused unread", async () => {
    const many = await send("POST", "/hsm/v2/Inventory/Hardware", { Hardware: Array.from({ length: 5001 }, () => ({})) });
    expect([many.status, many.body.detail]).toEqual([413, "a hardware import may hold at most 5000 locations, got 5001; split it"]);
    const big = await send("POST", "/hsm/v2/Inventory/Hardware", { Hardware: [] }, { "content-length": String(9 * 1024 * 1024) });
    expect(big.status).toBe(413);
  });
});

describe("upstream's destructive hardware stages (4-destructive-initial)", () => {
  it("deletes all locations, then FRUs one by one and all; 404 when none are left", async () => {
    expect((await post(HW.node("WNC", "b1"), HW.processor, HW.memory)).status).toBe(200);
    expect((await send("DELETE", "/hsm/v2/Inventory/Hardware")).body).toEqual({ code: 0, message: "deleted 3 entries" });
    expect((await send("DELETE", "/hsm/v2/Inventory/Hardware")).body.detail).toBe("no entries to delete");
    expect((await send("GET", "/hsm/v2/Inventory/Hardware")).body).toEqual([]);
    const [first] = (await send("GET", "/hsm/v2/Inventory/HardwareByFRU")).body;
    expect((await send("GET", `/hsm/v2/Inventory/HardwareByFRU/${first.FRUID}`)).status).toBe(200);
    expect((await send("DELETE", `/hsm/v2/Inventory/HardwareByFRU/${first.FRUID}`)).body).toEqual({ code: 0, message: "deleted 1 entry" });
    expect((await send("DELETE", `/hsm/v2/Inventory/HardwareByFRU/${first.FRUID}`)).body.detail).toBe("no such FRU ID.");
    expect((await send("GET", `/hsm/v2/Inventory/HardwareByFRU/${first.FRUID}`)).body.detail).toBe("no such FRU ID.");
    expect((await send("DELETE", "/hsm/v2/Inventory/HardwareByFRU")).body.message).toMatch(/^deleted [0-9]+ entries$/);
    expect((await send("DELETE", "/hsm/v2/Inventory/HardwareByFRU")).body.detail).toBe("no entries to delete");
  });

  it("reads history by location and by FRU, then deletes it (test_hardware_history)", async () => {
    const byLoc = (await send("GET", "/hsm/v2/Inventory/Hardware/History")).body;
    const xname = byLoc.Components[0].ID;
    expect((await send("GET", `/hsm/v2/Inventory/Hardware/History?id=${xname}`)).body.Components.map((c: any) => c.ID)).toEqual([xname]);
    expect((await send("GET", `/hsm/v2/Inventory/Hardware/History/${xname}`)).body.History.length).toBeGreaterThan(0);
    const fruid = (await send("GET", "/hsm/v2/Inventory/HardwareByFRU/History")).body.Components[0].ID;
    expect((await send("GET", `/hsm/v2/Inventory/HardwareByFRU/History?fruid=${fruid}`)).body.Components[0].ID).toBe(fruid);
    expect((await send("GET", `/hsm/v2/Inventory/HardwareByFRU/History/${fruid}`)).body.ID).toBe(fruid);
    expect((await send("DELETE", `/hsm/v2/Inventory/Hardware/History/${xname}`)).body.message).toMatch(/^deleted [0-9]+ entries$/);
    expect((await send("DELETE", `/hsm/v2/Inventory/Hardware/History/${xname}`)).body.detail).toBe("no entries to delete");
    expect((await send("GET", `/hsm/v2/Inventory/Hardware/History/${xname}`)).body).toEqual({ ID: xname, History: [] });
    expect((await send("DELETE", "/hsm/v2/Inventory/Hardware/History")).body.message).toMatch(/^deleted [0-9]+ entries$/);
    expect((await send("DELETE", "/hsm/v2/Inventory/Hardware/History")).body.detail).toBe("no entries to delete");
    expect((await send("GET", "/hsm/v2/Inventory/Hardware/History")).body).toEqual({ Components: [] });
    expect((await send("DELETE", `/hsm/v2/Inventory/HardwareByFRU/History/${fruid}`)).body.detail).toBe("no entries to delete");
    // `History/#`: the fragment is not sent; no route deletes the whole FRU history (upstream's 405).
    expect((await send("DELETE", "/hsm/v2/Inventory/HardwareByFRU/History/")).status).toBe(405);
  });
});

describe("hardware from a discovered Redfish endpoint", () => {
  const endpoint = {
    ID: "x3000c0s1b0",
    FQDN: "x3000c0s1b0",
    SchemaVersion: 1,
    Managers: [{ uri: "/redfish/v1/Managers/BMC", name: "BMC", model: "iLO 6", type: "BMC", firmware_version: "1.5" }],
    Systems: [
      {
        uri: "https://h/redfish/v1/Systems/1",
        uuid: "u-1",
        name: "Node",
        system_type: "Physical",
        manufacturer: "HPE",
        model: "ProLiant",
        serial: "SN-1",
        bios_version: "U30",
        processor_count: 2,
        processor_type: "EPYC",
        memory_total: 512,
        chassis_manufacturer: "HPE",
        chassis_model: "DL385",
        chassis_serial: "CH-1",
        ethernet_interfaces: [{ mac: "de:ad:be:ef:00:01", ip: "10.0.0.1" }],
        processors: [
          {
            Id: "CPU1",
            Name: "Processor",
            Socket: "P1",
            ProcessorType: "CPU",
            Manufacturer: "AMD",
            Model: "EPYC",
            SerialNumber: "C1",
            TotalCores: 64,
          },
          {
            Id: "CPU2",
            Name: "Processor",
            Socket: "P2",
            ProcessorType: "CPU",
            Manufacturer: "AMD",
            Model: "EPYC",
            SerialNumber: "C2",
            TotalCores: 64,
          },
          { Id: "GPU1", Name: "GPU", ProcessorType: "GPU", Manufacturer: "NVIDIA", PartNumber: "H100", SerialNumber: "G1" },
        ],
        memory: [
          {
            Id: "DIMM1",
            CapacityMiB: 32768,
            Manufacturer: "Samsung",
            PartNumber: "M321",
            SerialNumber: "D1",
            MemoryLocation: { Socket: 1, Slot: 1 },
          },
          { Id: "DIMM2", CapacityMiB: 0, Status: { State: "Absent" } },
          { Id: "DIMM3", CapacityMiB: 32768, Manufacturer: "Samsung", PartNumber: "M321", SerialNumber: "D3" },
        ],
      },
    ],
  };

  it("derives the node, its CPUs, GPU and DIMMs, the BMC and the enclosure, with FRU IDs and Detected events", async () => {
    expect((await send("POST", "/hsm/v2/Inventory/RedfishEndpoints", endpoint)).status).toBe(201);
    const inv = (await send("GET", "/hsm/v2/Inventory/Hardware/Query/x3000c0s1?format=FullyFlat")).body;
    const ids = (k: string) => (inv[k] ?? []).map((l: any) => [l.ID, l.PopulatedFRU.FRUID]);
    expect(ids("Nodes")).toEqual([["x3000c0s1b0n0", "Node.HPE.SN1"]]);
    expect(ids("Processors")).toEqual([
      ["x3000c0s1b0n0p0", "Processor.AMD.C1"],
      ["x3000c0s1b0n0p1", "Processor.AMD.C2"],
    ]);
    expect(ids("NodeAccels")).toEqual([["x3000c0s1b0n0a0", "NodeAccel.NVIDIA.H100.G1"]]);
    expect(ids("Memory")).toEqual([
      ["x3000c0s1b0n0d0", "Memory.Samsung.M321.D1"],
      ["x3000c0s1b0n0d1", "Memory.Samsung.M321.D3"],
    ]);
    expect(ids("NodeBMCs")).toEqual([["x3000c0s1b0", "FRUIDforx3000c0s1b0"]]);
    expect(ids("NodeEnclosures")).toEqual([["x3000c0s1e0", "NodeEnclosure.HPE.CH1"]]);
    const node = inv.Nodes[0];
    expect(node.NodeLocationInfo).toEqual({
      Id: "1",
      Name: "Node",
      Description: "",
      HostName: "",
      ProcessorSummary: { Count: 2, Model: "EPYC" },
      MemorySummary: { TotalSystemMemoryGiB: 512 },
    });
    expect(node.PopulatedFRU.NodeFRUInfo).toMatchObject({
      BiosVersion: "U30",
      Model: "ProLiant",
      Manufacturer: "HPE",
      SerialNumber: "SN-1",
      UUID: "u-1",
    });
    const history = (await send("GET", "/hsm/v2/Inventory/Hardware/History?eventtype=detected")).body.Components;
    expect(history).toHaveLength(8);
    // Discovered again: nothing new in the history.
    expect((await send("PUT", "/hsm/v2/Inventory/RedfishEndpoints/x3000c0s1b0", endpoint)).status).toBe(200);
    expect((await send("GET", "/hsm/v2/Inventory/Hardware/History")).body.Components.flatMap((c: any) => c.History)).toHaveLength(8);
    // A replaced DIMM: a new Detected event at that location.
    const swapped = structuredClone(endpoint);
    swapped.Systems[0].memory[0].SerialNumber = "D9";
    expect((await send("PUT", "/hsm/v2/Inventory/RedfishEndpoints/x3000c0s1b0", swapped)).status).toBe(200);
    const dimm = (await send("GET", "/hsm/v2/Inventory/Hardware/History/x3000c0s1b0n0d0")).body.History;
    expect(dimm.map((e: any) => [e.FRUID, e.EventType])).toEqual([
      ["Memory.Samsung.M321.D1", "Detected"],
      ["Memory.Samsung.M321.D9", "Detected"],
    ]);
  });

  it("deleting the endpoint detaches its FRUs: the locations go, each with a Removed event; the FRUs stay", async () => {
    expect((await send("DELETE", "/hsm/v2/Inventory/RedfishEndpoints/x3000c0s1b0")).status).toBe(200);
    const left = (await send("GET", "/hsm/v2/Inventory/Hardware")).body.map((l: any) => l.ID);
    expect(left.filter((id: string) => id.startsWith("x3000c0s1b0n0"))).toEqual([]);
    const removed = (await send("GET", "/hsm/v2/Inventory/Hardware/History?eventtype=Removed")).body.Components.map((c: any) => c.ID);
    expect(removed).toEqual(expect.arrayContaining(["x3000c0s1b0n0", "x3000c0s1b0n0p0", "x3000c0s1b0n0d0"]));
    // Once each, although the node's locations are under both the BMC and the node it describes.
    expect(removed).toHaveLength(new Set(removed).size);
    expect((await send("GET", "/hsm/v2/Inventory/HardwareByFRU/Node.HPE.SN1")).status).toBe(200);
  });

  it("deleting a FRU empties its location rather than failing", async () => {
    expect((await post(HW.chassis)).status).toBe(200);
    expect((await send("DELETE", "/hsm/v2/Inventory/HardwareByFRU/Chassis.HPE.101426404D.IMZ2409069079")).status).toBe(200);
    const loc = (await send("GET", "/hsm/v2/Inventory/Hardware/x9999c7")).body;
    expect(loc.ID).toBe("x9999c7");
    expect(loc.PopulatedFRU).toBeUndefined();
  });

  it("the array form stores each element's hardware as if posted alone, also when elements share a FRU", async () => {
    // Two BMCs whose nodes report the same manufacturer and serial: one FRU ID, each endpoint's
    // facts in turn (the later one's BIOS version wins), a Detected event at each location.
    const pair = (rack: number, serial: string) =>
      [1, 2].map((slot) => ({
        ID: `x${rack}c0s${slot}b0`,
        FQDN: `x${rack}c0s${slot}b0`,
        SchemaVersion: 1,
        Systems: [
          {
            uuid: `u-${rack}-${slot}`,
            manufacturer: "HPE",
            serial,
            bios_version: `U${slot}`,
            ethernet_interfaces: [{ mac: `de:ad:be:ef:${String(rack % 100).padStart(2, "0")}:0${slot}` }],
          },
        ],
      }));
    const seen = async (rack: number, serial: string) => {
      const fruId = `Node.HPE.${serial.replace(/[^a-zA-Z0-9]/g, "")}`;
      const at = (slot: number) => `/hsm/v2/Inventory/Hardware/History/x${rack}c0s${slot}b0n0`;
      const history = async (slot: number) => (await send("GET", at(slot))).body.History.map((e: any) => [e.FRUID, e.EventType]);
      const fru = (await send("GET", `/hsm/v2/Inventory/HardwareByFRU/${fruId}`)).body;
      // The two runs differ only in their names: rack, serial, UUIDs.
      const named = (x: unknown) => JSON.stringify(x).replaceAll(fruId, "F").replaceAll(serial, "S").replaceAll(`u-${rack}-`, "u-");
      return { fru: JSON.parse(named(fru.NodeFRUInfo)), histories: [await history(1), await history(2)].map(named) };
    };
    for (const e of pair(3101, "SN-S")) expect((await send("POST", "/hsm/v2/Inventory/RedfishEndpoints", e)).status).toBe(201);
    const alone = await seen(3101, "SN-S");
    expect(alone.fru).toMatchObject({ BiosVersion: "U2" });
    expect(alone.histories).toEqual(['[["F","Detected"]]', '[["F","Detected"]]']);
    expect((await send("POST", "/hsm/v2/Inventory/RedfishEndpoints", { RedfishEndpoints: pair(3102, "SN-T") })).status).toBe(201);
    expect(await seen(3102, "SN-T")).toEqual(alone);
  });

  it("a discovery payload without hardware facts (ochami discover static's) adds no hardware", async () => {
    await send("DELETE", "/hsm/v2/Inventory/Hardware");
    const plain = {
      ID: "x3000c0s2b0",
      FQDN: "x3000c0s2b0",
      SchemaVersion: 1,
      Systems: [{ uuid: "u-2", ethernet_interfaces: [{ mac: "de:ad:be:ef:00:02" }] }],
    };
    expect((await send("POST", "/hsm/v2/Inventory/RedfishEndpoints", plain)).status).toBe(201);
    expect((await send("GET", "/hsm/v2/Inventory/Hardware")).body).toEqual([]);
  });
});
