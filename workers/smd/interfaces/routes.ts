import type { Context, Hono } from "hono";
import { interfaceIdFromMac, parseMac } from "../../../shared/mac";
import { HttpProblem } from "../../../shared/problem";
import { canonicalHmsType, parseXname } from "../../../shared/xname";
import { database, isUniqueViolation } from "../../db";
import { readJson } from "../../http/body";
import { objectBody, optArray, optString } from "../../http/decode";
import { isPlainObject } from "../../http/json-keys";
import { Query } from "../../http/query";
import { createdOne, deletedCount } from "../../http/responses";
import { param, resource } from "../../http/routes";
import { type InterfaceRecord, interfaceJson, ipJson, parseRfc3339, storedIp, storedTimestamp } from "./model";
import * as store from "./store";

const BASE = "/hsm/v2/Inventory/EthernetInterfaces";
const dbOf = (c: Context) => database(c.env.DB);
const idOf = (c: Context) => interfaceIdFromMac(param(c, "id"));

function parseFilter(q: Query): store.InterfaceFilter {
  const f: store.InterfaceFilter = {
    ids: q.all("ID").map((v) => {
      if (v.trim() === "") throw new HttpProblem(400, "Invalid component ethernet interface ID.");
      return interfaceIdFromMac(v);
    }),
    macs: q.all("MACAddress").map((v) => {
      if (v.trim() === "") throw new HttpProblem(400, "Invalid component ethernet interface MAC address.");
      const mac = parseMac(v);
      return mac.ok ? mac.mac : v.trim().toLowerCase();
    }),
    ips: q.all("IPAddress").map((v) => storedIp(v) ?? v.trim()),
    networks: q.all("Network"),
    componentIds: q.all("ComponentID").map((v) => {
      if (v.trim() === "") return "";
      const x = parseXname(v);
      if (!x) throw new HttpProblem(400, "Invalid CompID.");
      return x.id;
    }),
    types: q.all("Type").map((v) => {
      const t = canonicalHmsType(v);
      if (!t) throw new HttpProblem(400, "Invalid HMS type.");
      return t;
    }),
  };
  for (const [key, field] of [
    ["OlderThan", "olderThan"],
    ["NewerThan", "newerThan"],
  ] as const) {
    const raw = q.first(key);
    if (raw === undefined) continue;
    const t = parseRfc3339(raw);
    if (!t) throw new HttpProblem(400, "bad query param: Argument was not in a valid RFC3339 time format");
    f[field] = t;
  }
  return f;
}

/** IPAddresses array of a POST/PATCH body: each needs a valid IP literal; duplicates collapse. */
function parseIps(raw: unknown): Array<{ ip: string; network: string }> {
  const list = optArray(raw, "IPAddresses") ?? [];
  const seen = new Set<string>();
  const out: Array<{ ip: string; network: string }> = [];
  list.forEach((item, i) => {
    const b = objectBody(item, ["IPAddress", "Network"] as const, `IPAddresses[${i}]`);
    const raw = optString(b.IPAddress, `IPAddresses[${i}].IPAddress`)?.trim() ?? "";
    const ip = storedIp(raw);
    if (!ip) throw new HttpProblem(400, `Invalid CompEthInterface IP Address${raw ? `: '${raw}'` : ""}`);
    if (seen.has(ip)) return;
    seen.add(ip);
    out.push({ ip, network: optString(b.Network, `IPAddresses[${i}].Network`) ?? "" });
  });
  return out;
}

/** ComponentID of a body: "" (not tied to a component) or a valid xname; Type derives from it. */
function parseComponentId(raw: unknown, path: string, detail: string): { componentId: string; type: string } {
  const value = optString(raw, path)?.trim() ?? "";
  if (value === "") return { componentId: "", type: "" };
  const x = parseXname(value);
  if (!x) throw new HttpProblem(400, detail);
  return { componentId: x.id, type: x.type };
}

async function requireInterface(c: Context, id: string): Promise<InterfaceRecord> {
  const found = await store.getInterface(dbOf(c), id);
  if (!found) throw new HttpProblem(404, `No such component ethernet interface: ${id}`);
  return found;
}

export function registerInterfaceRoutes(app: Hono<any>) {
  resource(app, "/Inventory/EthernetInterfaces", {
    GET: async (c) => {
      const rows = await store.listInterfaces(dbOf(c), parseFilter(Query.of(c.req.raw)));
      return c.json(rows.map(interfaceJson));
    },
    POST: async (c) => {
      const b = objectBody(await readJson(c.req.raw), ["Description", "MACAddress", "ComponentID", "IPAddresses"] as const);
      const mac = parseMac(b.MACAddress ?? "");
      if (!mac.ok) throw new HttpProblem(400, mac.error);
      const record: InterfaceRecord = {
        id: mac.id,
        macAddress: mac.mac,
        description: optString(b.Description, "Description") ?? "",
        ...parseComponentId(b.ComponentID, "ComponentID", "Invalid CompEthInterface component ID"),
        lastUpdate: storedTimestamp(),
        ips: parseIps(b.IPAddresses),
      };
      try {
        await store.insertInterfaces(dbOf(c), [record], "fail");
      } catch (err) {
        if (isUniqueViolation(err))
          throw new HttpProblem(
            409,
            "operation would conflict with an existing component ethernet interface that has the same MAC address.",
          );
        throw err;
      }
      return createdOne(`${BASE}/${record.id}`);
    },
    DELETE: async (c) => {
      const n = await store.deleteAllInterfaces(dbOf(c));
      if (n === 0) throw new HttpProblem(404, "no entries to delete");
      return deletedCount(n);
    },
  });

  resource(app, "/Inventory/EthernetInterfaces/:id/IPAddresses", {
    GET: async (c) => c.json((await requireInterface(c, idOf(c))).ips.map(ipJson)),
    POST: async (c) => {
      const id = idOf(c);
      const b = objectBody(await readJson(c.req.raw), ["IPAddress", "Network"] as const);
      const raw = optString(b.IPAddress, "IPAddress")?.trim() ?? "";
      const ip = storedIp(raw);
      if (!ip) throw new HttpProblem(400, `Invalid CompEthInterface IP Address${raw ? `: '${raw}'` : ""}`);
      await requireInterface(c, id);
      try {
        await store.addIp(dbOf(c), id, ip, optString(b.Network, "Network") ?? "", storedTimestamp());
      } catch (err) {
        if (isUniqueViolation(err))
          throw new HttpProblem(409, "operation would conflict with an existing IP Address on the same ethernet interface.");
        throw err;
      }
      return createdOne(`${BASE}/${id}/IPAddresses/${ip}`);
    },
  });

  resource(app, "/Inventory/EthernetInterfaces/:id/IPAddresses/:ip", {
    PATCH: async (c) => {
      const id = idOf(c);
      const ip = storedIp(param(c, "ip")) ?? param(c, "ip");
      const b = objectBody(await readJson(c.req.raw), ["Network"] as const);
      const network = optString(b.Network, "Network");
      if (network === undefined) throw new HttpProblem(400, "Request must have at least one patch field.");
      const n = await store.setIpNetwork(dbOf(c), id, ip, network, storedTimestamp());
      if (n === 0) throw new HttpProblem(404, "no such IP address in component ethernet interface.");
      return c.json(ipJson({ ip, network }));
    },
    DELETE: async (c) => {
      const n = await store.deleteIp(dbOf(c), idOf(c), storedIp(param(c, "ip")) ?? param(c, "ip"), storedTimestamp());
      if (n === 0) throw new HttpProblem(404, "component ethernet interface has no such ip address.");
      return deletedCount(1);
    },
  });

  resource(app, "/Inventory/EthernetInterfaces/:id", {
    GET: async (c) => c.json(interfaceJson(await requireInterface(c, idOf(c)))),
    PATCH: async (c) => {
      const id = idOf(c);
      const body = await readJson(c.req.raw);
      if (!isPlainObject(body)) throw new HttpProblem(400, "error decoding JSON: body: expected a JSON object");
      const b = objectBody(body, ["Description", "ComponentID", "IPAddresses"] as const);
      if (b.Description === undefined && b.ComponentID === undefined && b.IPAddresses === undefined)
        throw new HttpProblem(400, "Request must have at least one patch field.");
      const patch: Parameters<typeof store.updateInterface>[2] = {};
      if (b.Description !== undefined) patch.description = optString(b.Description, "Description") ?? "";
      if (b.ComponentID !== undefined)
        Object.assign(patch, parseComponentId(b.ComponentID, "ComponentID", "bad query param: Argument was not a valid xname ID"));
      if (b.IPAddresses !== undefined) {
        patch.ips = parseIps(b.IPAddresses);
        patch.lastUpdate = storedTimestamp();
      }
      await requireInterface(c, id).catch(() => {
        throw new HttpProblem(404, "no such component ethernet interface.");
      });
      await store.updateInterface(dbOf(c), id, patch);
      return c.json(interfaceJson((await store.getInterface(dbOf(c), id))!));
    },
    DELETE: async (c) => {
      const n = await store.deleteInterface(dbOf(c), idOf(c));
      if (n === 0) throw new HttpProblem(404, "no such component ethernet interface.");
      return deletedCount(1);
    },
  });
}
