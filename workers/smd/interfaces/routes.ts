import { z } from "zod";
import { interfaceIdFromMac, parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { canonicalHmsType, parseXname } from "../../../shared/xname";
import { type Db, isUniqueViolation } from "../../db";
import { createdOne, deletedCount } from "../../http/responses";
import { op, type Router, resource } from "../../http/route";
import { each, json, jsonBody, problems, refuse } from "../../http/wire";
import {
  EthernetInterface,
  EthernetInterfacePatch,
  type InterfaceRecord,
  IPAddressMapping,
  IPAddressPatch,
  interfaceJson,
  interfaceRecord,
  ipJson,
  ipList,
  parseRfc3339,
  storedIp,
  storedTimestamp,
} from "./model";
import * as store from "./store";

const BASE = "/hsm/v2/Inventory/EthernetInterfaces";
const tags = ["SMD"];

const time = z
  .string()
  .transform((raw, ctx) => parseRfc3339(raw) ?? refuse(ctx, "bad query param: Argument was not in a valid RFC3339 time format", raw));

/** GET's filters: values of one parameter are OR-ed, parameters AND-ed; checked in this order. */
const InterfaceFilter = z
  .object({
    ID: each((v) => (v.trim() === "" ? undefined : interfaceIdFromMac(v)), "Invalid component ethernet interface ID.")
      .optional()
      .meta({ description: "interface IDs (a MAC address's 12 hex digits)" }),
    MACAddress: each((v) => {
      if (v.trim() === "") return undefined;
      // A value that is no MAC address is looked up as written: it finds nothing.
      const mac = parseMac(v);
      return mac.ok ? mac.mac : v.trim().toLowerCase();
    }, "Invalid component ethernet interface MAC address.")
      .optional()
      .meta({ description: "MAC addresses, any usual spelling" }),
    IPAddress: z
      .array(z.string())
      .transform((values) => values.map((v) => storedIp(v) ?? v.trim()))
      .optional()
      .meta({ description: "IP addresses, however spelt; an empty value selects interfaces without any" }),
    Network: z.array(z.string()).optional(),
    ComponentID: each((v) => (v.trim() === "" ? "" : parseXname(v)?.id), "Invalid CompID.")
      .optional()
      .meta({ description: 'xnames; "" selects interfaces tied to no component' }),
    Type: each(canonicalHmsType, "Invalid HMS type.").optional().meta({ description: "HMS types of ComponentID (Node, NodeBMC, …)" }),
    OlderThan: time.optional().meta({ description: "RFC 3339: LastUpdate before this time" }),
    NewerThan: time.optional().meta({ description: "RFC 3339: LastUpdate after this time" }),
  })
  .transform(
    (q): store.InterfaceFilter => ({
      ids: q.ID ?? [],
      macs: q.MACAddress ?? [],
      ips: q.IPAddress ?? [],
      networks: q.Network ?? [],
      componentIds: q.ComponentID ?? [],
      types: q.Type ?? [],
      olderThan: q.OlderThan,
      newerThan: q.NewerThan,
    }),
  );

/** An interface in a path: its ID or its MAC address, in any usual spelling. */
const InterfacePath = z.object({
  id: z.string().transform(interfaceIdFromMac).meta({ description: "the interface's ID (or MAC address)", example: "deadbeef0001" }),
});
const IpPath = InterfacePath.extend({
  ip: z
    .string()
    .transform((v) => storedIp(v) ?? v)
    .meta({ description: "one of the interface's IP addresses, however spelt", example: "172.16.0.1" }),
});

const Created = z.object({ URI: z.string() });
const deleted = json(z.object({ code: z.int(), message: z.string() }), "deleted (`deleted N entries`)");

async function requireInterface(db: Db, id: string): Promise<InterfaceRecord> {
  const found = await store.getInterface(db, id);
  if (!found) throw new HttpProblem(404, `No such component ethernet interface: ${id}`);
  return found;
}

export function registerInterfaceRoutes(app: Router) {
  resource(app, "/Inventory/EthernetInterfaces", {
    get: op(
      {
        summary: "List ethernet interfaces",
        description: "All of them, or those the filters select, by ID. What coresmd reads to answer DHCP.",
        tags,
        request: { query: InterfaceFilter },
        responses: { 200: json(z.array(EthernetInterface), "the interfaces (a bare array)"), ...problems(400) },
      },
      async (c) => c.json((await store.listInterfaces(c.var.db, c.req.valid("query"))).map(interfaceJson)),
    ),
    post: op(
      {
        summary: "Add an ethernet interface",
        description: "Its ID is its MAC address's 12 hex digits; its Type is ComponentID's. A MAC address already known is a 409.",
        tags,
        request: { body: jsonBody(EthernetInterface) },
        responses: { 201: json(Created, "created (Location: its URI)"), ...problems(400, 409) },
      },
      async (c) => {
        const record = interfaceRecord(c.req.valid("json"), storedTimestamp());
        try {
          await store.insertInterfaces(c.var.db, [record], "fail");
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          throw new HttpProblem(
            409,
            "operation would conflict with an existing component ethernet interface that has the same MAC address.",
          );
        }
        return createdOne(`${BASE}/${record.id}`);
      },
    ),
    delete: op({ summary: "Delete every ethernet interface", tags, responses: { 200: deleted, ...problems(404) } }, async (c) => {
      const n = await store.deleteAllInterfaces(c.var.db);
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      return deletedCount(n);
    }),
  });

  resource(app, "/Inventory/EthernetInterfaces/{id}/IPAddresses", {
    get: op(
      {
        summary: "An ethernet interface's IP addresses",
        tags,
        request: { params: InterfacePath },
        responses: { 200: json(z.array(IPAddressMapping), "its addresses, in order"), ...problems(404) },
      },
      async (c) => c.json((await requireInterface(c.var.db, c.req.valid("param").id)).ips.map(ipJson)),
    ),
    post: op(
      {
        summary: "Add an IP address to an ethernet interface",
        description: "Added after the interface's other addresses; an address it already has is a 409.",
        tags,
        request: { params: InterfacePath, body: jsonBody(IPAddressMapping) },
        responses: { 201: json(Created, "added (Location: its URI)"), ...problems(400, 404, 409) },
      },
      async (c) => {
        const { id } = c.req.valid("param");
        const { IPAddress: ip, Network } = c.req.valid("json");
        const { db } = c.var;
        await requireInterface(db, id);
        try {
          await store.addIp(db, id, ip, Network ?? "", storedTimestamp());
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          throw new HttpProblem(409, "operation would conflict with an existing IP Address on the same ethernet interface.");
        }
        return createdOne(`${BASE}/${id}/IPAddresses/${ip}`);
      },
    ),
  });

  resource(app, "/Inventory/EthernetInterfaces/{id}/IPAddresses/{ip}", {
    patch: op(
      {
        summary: "Change the network of an ethernet interface's IP address",
        tags,
        request: { params: IpPath, body: jsonBody(IPAddressPatch) },
        responses: { 200: json(IPAddressMapping, "the address now"), ...problems(400, 404) },
      },
      async (c) => {
        const { id, ip } = c.req.valid("param");
        const { Network: network } = c.req.valid("json");
        if (network == null) throw new HttpProblem(400, "Request must have at least one patch field.");
        const n = await store.setIpNetwork(c.var.db, id, ip, network, storedTimestamp());
        if (n === 0) throw new HttpProblem(404, "no such IP address in component ethernet interface.");
        return c.json(ipJson({ ip, network }));
      },
    ),
    delete: op(
      {
        summary: "Remove an IP address from an ethernet interface",
        tags,
        request: { params: IpPath },
        responses: { 200: deleted, ...problems(404) },
      },
      async (c) => {
        const { id, ip } = c.req.valid("param");
        const n = await store.deleteIp(c.var.db, id, ip, storedTimestamp());
        if (n === 0) throw new HttpProblem(404, "component ethernet interface has no such ip address.");
        return deletedCount(1);
      },
    ),
  });

  resource(app, "/Inventory/EthernetInterfaces/{id}", {
    get: op(
      {
        summary: "An ethernet interface",
        tags,
        request: { params: InterfacePath },
        responses: { 200: json(EthernetInterface, "the interface"), ...problems(404) },
      },
      async (c) => c.json(interfaceJson(await requireInterface(c.var.db, c.req.valid("param").id))),
    ),
    patch: op(
      {
        summary: "Update an ethernet interface",
        description: "Description, ComponentID (and with it Type) and the IP list; LastUpdate changes with the IP list.",
        tags,
        request: { params: InterfacePath, body: jsonBody(EthernetInterfacePatch) },
        responses: { 200: json(EthernetInterface, "the interface now"), ...problems(400, 404) },
      },
      async (c) => {
        const { id } = c.req.valid("param");
        const b = c.req.valid("json");
        // Absent fields stay; a field given as null is cleared.
        if (b.Description === undefined && b.ComponentID === undefined && b.IPAddresses === undefined)
          throw new HttpProblem(400, "Request must have at least one patch field.");
        const patch: Parameters<typeof store.updateInterface>[2] = { ...b.ComponentID };
        if (b.Description !== undefined) patch.description = b.Description ?? "";
        if (b.IPAddresses !== undefined) {
          patch.ips = ipList(b.IPAddresses);
          patch.lastUpdate = storedTimestamp();
        }
        const { db } = c.var;
        if (!(await store.getInterface(db, id))) throw new HttpProblem(404, "no such component ethernet interface.");
        await store.updateInterface(db, id, patch);
        return c.json(interfaceJson((await store.getInterface(db, id))!));
      },
    ),
    delete: op(
      {
        summary: "Delete an ethernet interface",
        tags,
        request: { params: InterfacePath },
        responses: { 200: deleted, ...problems(404) },
      },
      async (c) => {
        const n = await store.deleteInterface(c.var.db, c.req.valid("param").id);
        if (n === 0) throw new HttpProblem(404, "no such component ethernet interface.");
        return deletedCount(1);
      },
    ),
  });
}
