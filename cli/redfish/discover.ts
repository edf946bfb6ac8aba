import { type HttpResponse, NetworkError, request, type TlsOptions } from "../../shared/api-client/http";
import { normalizeMac } from "../../shared/mac";
import { asList, asString, at, isObject, type JsonObject } from "../io/json";
import type { Target } from "./targets";

/**
 * Reads what `discover redfish` needs from one BMC over Redfish (DMTF DSP0266), the standard way
 * instead of the seed script's vendor paths: the service root, the BMC's own NIC from
 * Managers/<id>/EthernetInterfaces (the one carrying the address we reached it on), and each
 * system's NICs from Systems/<id>/EthernetInterfaces. HTTP Basic authentication.
 */
export interface RedfishSettings {
  scheme: "https" | "http";
  port?: number;
  user: string;
  password: string;
  tls: TlsOptions;
  timeoutMs: number;
}

export interface Nic {
  id: string;
  mac: string;
  enabled: boolean;
  linkUp?: boolean;
}

export interface SystemFacts {
  uri: string;
  id: string;
  name: string;
  uuid?: string;
  nics: Nic[];
}

export interface BmcFacts {
  target: Target;
  uuid?: string;
  mac?: string;
  /** The address the BMC was reached on (its IP when the target was one). */
  ip: string;
  manager?: string;
  systems: SystemFacts[];
}

export type BmcResult = { ok: true; facts: BmcFacts } | { ok: false; target: Target; error: string };

class RedfishError extends Error {}

export async function discoverBmc(target: Target, s: RedfishSettings): Promise<BmcResult> {
  const origin = `${s.scheme}://${target.host.includes(":") ? `[${target.host}]` : target.host}${(target.port ?? s.port) ? `:${target.port ?? s.port}` : ""}`;
  const auth = `Basic ${Buffer.from(`${s.user}:${s.password}`).toString("base64")}`;
  const get = async (path: string): Promise<JsonObject> => {
    let res: HttpResponse;
    try {
      res = await request(origin + path, {
        headers: { authorization: auth, accept: "application/json", "odata-version": "4.0" },
        timeoutMs: s.timeoutMs,
        tls: s.tls,
      });
    } catch (err) {
      if (err instanceof NetworkError) throw new RedfishError(err.message);
      throw err;
    }
    if (res.status === 401 || res.status === 403)
      throw new RedfishError(`${res.status} ${res.statusText} for ${path}: check the BMC credentials`);
    if (res.status !== 200) throw new RedfishError(`${res.status} ${res.statusText} for ${path}`);
    let body: unknown;
    try {
      body = JSON.parse(res.text());
    } catch {
      throw new RedfishError(`${path} did not answer JSON: not a Redfish service?`);
    }
    // Read field by field: an answer that is not an object has none of the fields asked for.
    return isObject(body) ? body : {};
  };
  const link = (obj: JsonObject | undefined, key: string): string | undefined => {
    const v = at(obj, key, "@odata.id");
    return typeof v === "string" ? v.replace(/\/+$/, "") : undefined;
  };
  /** A collection's member URIs, following `Members@odata.nextLink` pages. */
  const members = async (path: string | undefined): Promise<string[]> => {
    const out: string[] = [];
    for (let page = path, n = 0; page && n < 100; n++) {
      const col = await get(page);
      for (const m of asList(col.Members)) {
        const uri = at(m, "@odata.id");
        if (typeof uri === "string") out.push(uri);
      }
      page = asString(col["Members@odata.nextLink"]);
    }
    return out;
  };
  /**
   * NICs from Chassis/{id}/NetworkAdapters/{id}/NetworkPorts (or Ports): where some BMCs list the
   * host's MACs when Systems/{id}/EthernetInterfaces is empty (the seed's gen_nodes_file.sh read
   * .../NetworkAdapters/Nic259/NetworkPorts/NICChannel0 for that reason).
   */
  const chassisNics = async (root: JsonObject): Promise<Nic[]> => {
    const list: Nic[] = [];
    for (const chassisUri of await members(link(root, "Chassis"))) {
      const chassis = await get(chassisUri);
      for (const adapterUri of await members(link(chassis, "NetworkAdapters"))) {
        const adapter = await get(adapterUri);
        for (const portUri of await members(link(adapter, "NetworkPorts") ?? link(adapter, "Ports"))) {
          const port = await get(portUri);
          const macs = [...asList(port.AssociatedNetworkAddresses), ...asList(at(port, "Ethernet", "AssociatedMACAddresses"))];
          for (const raw of macs) {
            const mac = normalizeMac(raw);
            if (mac && mac !== "00:00:00:00:00:00" && !list.some((n) => n.mac === mac))
              list.push({
                id: String(port.Id ?? portUri.split("/").pop()),
                mac,
                enabled: true,
                linkUp: port.LinkStatus === undefined ? undefined : /^(Up|LinkUp)$/.test(String(port.LinkStatus)),
              });
          }
        }
      }
    }
    return list;
  };
  const nicsOf = async (path: string | undefined): Promise<Array<Nic & { ipv4: string[] }>> => {
    const list = [];
    for (const uri of await members(path)) {
      const n = await get(uri);
      const mac = normalizeMac(n.MACAddress) ?? normalizeMac(n.PermanentMACAddress);
      if (!mac || mac === "00:00:00:00:00:00") continue;
      list.push({
        id: String(n.Id ?? uri.split("/").pop()),
        mac,
        enabled: n.InterfaceEnabled !== false && at(n, "Status", "State") !== "Disabled",
        linkUp: n.LinkStatus === undefined ? undefined : n.LinkStatus === "LinkUp",
        ipv4: asList(n.IPv4Addresses).flatMap((a) => asString(at(a, "Address")) || []),
      });
    }
    return list;
  };

  try {
    const root = await get("/redfish/v1");
    if (!link(root, "Systems") && !link(root, "Managers"))
      throw new RedfishError("/redfish/v1 lists no Systems or Managers: not a Redfish service?");
    // The BMC: a manager of type BMC (else the first), and its NIC carrying the target address.
    let bmcMac: string | undefined;
    let managerUri: string | undefined;
    const managers = [];
    for (const uri of await members(link(root, "Managers"))) managers.push({ uri, m: await get(uri) });
    const manager = managers.find((x) => x.m.ManagerType === "BMC") ?? managers[0];
    if (manager) {
      managerUri = manager.uri;
      const nics = await nicsOf(link(manager.m, "EthernetInterfaces"));
      bmcMac = (nics.find((n) => n.ipv4.includes(target.host)) ?? nics.find((n) => n.enabled) ?? nics[0])?.mac;
    }
    const systems: SystemFacts[] = [];
    for (const uri of await members(link(root, "Systems"))) {
      const sys = await get(uri);
      const nics = (await nicsOf(link(sys, "EthernetInterfaces"))).map(({ ipv4: _ipv4, ...n }) => n);
      systems.push({
        uri,
        id: String(sys.Id ?? uri.split("/").pop()),
        name: String(sys.Name ?? sys.Id ?? ""),
        uuid: typeof sys.UUID === "string" ? sys.UUID : undefined,
        nics,
      });
    }
    if (!systems.length) throw new RedfishError("no systems under /redfish/v1/Systems");
    if (systems.length === 1 && !systems[0].nics.length) systems[0].nics = await chassisNics(root);
    return {
      ok: true,
      facts: {
        target,
        uuid: typeof root.UUID === "string" ? root.UUID : undefined,
        mac: bmcMac,
        ip: target.host,
        manager: managerUri,
        systems,
      },
    };
  } catch (err) {
    if (err instanceof RedfishError) return { ok: false, target, error: err.message };
    throw err;
  }
}

/**
 * Runs `work` over `items` with at most `limit` in flight, results in input order. Hand-written:
 * ten lines, where a dependency (p-limit) would add an ESM-only package for the same loop.
 */
export async function mapBounded<T, R>(
  items: T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
  onDone?: (result: R) => void,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i], i);
      onDone?.(results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
