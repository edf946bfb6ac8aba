import { isIP } from "../../../shared/ip";
import { HttpProblem } from "../../../shared/problem";
import { CONTROLLER_TYPES, parseXname, xnameType } from "../../../shared/xname";
import type { componentEndpoints, redfishEndpoints } from "../../db/schema";
import { objectBody, optBool, optString } from "../../http/decode";

export type RedfishEndpointRow = typeof redfishEndpoints.$inferSelect;
export type ComponentEndpointRow = typeof componentEndpoints.$inferSelect;

export const RFE_KEYS = [
  "ID",
  "Type",
  "Name",
  "Hostname",
  "Domain",
  "FQDN",
  "Enabled",
  "UUID",
  "User",
  "Password",
  "UseSSDP",
  "MACRequired",
  "MACAddr",
  "IPAddress",
  "RediscoverOnUpdate",
  "TemplateID",
] as const;

/** Wire form, upstream's field order; Name, UUID, UseSSDP, MACRequired, MACAddr, IPAddress, TemplateID omitted when empty. */
export function redfishEndpointJson(r: RedfishEndpointRow) {
  const out: Record<string, unknown> = { ID: r.id, Type: r.type };
  if (r.name) out.Name = r.name;
  out.Hostname = r.hostname;
  out.Domain = r.domain;
  out.FQDN = r.fqdn;
  out.Enabled = r.enabled;
  if (r.uuid) out.UUID = r.uuid;
  out.User = r.user;
  out.Password = r.password;
  if (r.useSsdp) out.UseSSDP = true;
  if (r.macRequired) out.MACRequired = true;
  if (r.macAddr) out.MACAddr = r.macAddr;
  if (r.ipAddress) out.IPAddress = r.ipAddress;
  out.RediscoverOnUpdate = r.rediscoverOnUpdate;
  if (r.templateId) out.TemplateID = r.templateId;
  out.DiscoveryInfo = JSON.parse(r.discoveryInfo);
  return out;
}

const INFO_KEYS: Record<string, string> = {
  ComponentEndpointChassis: "RedfishChassisInfo",
  ComponentEndpointComputerSystem: "RedfishSystemInfo",
  ComponentEndpointManager: "RedfishManagerInfo",
  ComponentEndpointPowerDistribution: "RedfishPDUInfo",
  ComponentEndpointOutlet: "RedfishOutletInfo",
};

/** Wire form; RedfishEndpointFQDN and RedfishURL come from the parent endpoint at read time. */
export function componentEndpointJson(r: ComponentEndpointRow, parentFqdn: string) {
  const out: Record<string, unknown> = { ID: r.id, Type: r.type };
  if (r.domain) out.Domain = r.domain;
  if (r.fqdn) out.FQDN = r.fqdn;
  out.RedfishType = r.redfishType;
  out.RedfishSubtype = r.redfishSubtype;
  if (r.macAddr) out.MACAddr = r.macAddr;
  if (r.uuid) out.UUID = r.uuid;
  out.OdataID = r.odataId;
  out.RedfishEndpointID = r.redfishEndpointId;
  out.Enabled = r.enabled;
  out.RedfishEndpointFQDN = parentFqdn;
  out.RedfishURL = parentFqdn + r.odataId;
  out.ComponentEndpointType = r.componentEndpointType;
  const infoKey = INFO_KEYS[r.componentEndpointType];
  if (infoKey) out[infoKey] = JSON.parse(r.info);
  return out;
}

function invalid(msg: string): never {
  throw new Error(msg);
}

/**
 * Validates a RedfishEndpoint body the way upstream's NewRedfishEPDescription does: derive the
 * ID from Hostname/FQDN when missing, the FQDN from hostname and domain, check they agree and that
 * the ID names a controller. Throws Error(message); the caller adds upstream's prefix.
 */
export function describeRedfishEndpoint(raw: Record<string, unknown>, path: string): RedfishEndpointRow {
  const b = objectBody(raw, RFE_KEYS, path);
  const str = (k: (typeof RFE_KEYS)[number]) => optString(b[k], `${path}.${k}`) ?? "";
  let domain = str("Domain").replace(/^[./ ]+|[./ ]+$/g, "");
  let hostname = str("Hostname").trim();
  const fqdnIn = str("FQDN").trim();
  if (hostname && !isIP(hostname) && hostname.includes(".")) invalid("Hostname is not a basename or IP address.");
  if (fqdnIn) {
    if (isIP(fqdnIn)) {
      if (!hostname) hostname = fqdnIn;
    } else {
      const dot = fqdnIn.indexOf(".");
      const [h, d] = dot < 0 ? [fqdnIn, ""] : [fqdnIn.slice(0, dot), fqdnIn.slice(dot + 1)];
      if (!hostname) hostname = h;
      if (!domain) domain = d;
    }
  }
  const rawId = str("ID").trim() || hostname;
  if (!rawId) invalid("No xname ID found");
  const x = parseXname(rawId);
  if (!x) invalid(`${rawId} is not a valid locational xname ID`);
  if (!CONTROLLER_TYPES.has(x.type)) invalid(`xname ID ${x.id} has wrong type for RF endpoint: ${x.type}`);
  const fqdn = (hostname || x.id) + (domain ? `.${domain}` : "");
  if (fqdnIn && !isIP(fqdnIn) && fqdnIn !== fqdn) invalid(`host/domain conflicts with FQDN: '${fqdn}' != '${fqdnIn}'`);
  let ipAddress = str("IPAddress").trim();
  if (ipAddress && !isIP(ipAddress)) invalid(`IPAddress is not a valid IP address: '${ipAddress}'`);
  if (isIP(hostname)) {
    if (ipAddress && ipAddress !== hostname) invalid(`IPAddress '${ipAddress}' does not match Hostname '${hostname}'`);
    ipAddress = hostname;
  }
  return {
    id: x.id,
    type: x.type,
    name: str("Name"),
    hostname,
    domain,
    fqdn: fqdnIn && isIP(fqdnIn) ? fqdnIn : fqdn,
    enabled: optBool(b.Enabled, `${path}.Enabled`) ?? true,
    uuid: str("UUID"),
    user: str("User"),
    password: str("Password"),
    useSsdp: optBool(b.UseSSDP, `${path}.UseSSDP`) ?? false,
    macRequired: optBool(b.MACRequired, `${path}.MACRequired`) ?? false,
    macAddr: str("MACAddr"),
    ipAddress,
    rediscoverOnUpdate: optBool(b.RediscoverOnUpdate, `${path}.RediscoverOnUpdate`) ?? false,
    templateId: str("TemplateID"),
    discoveryInfo: JSON.stringify({ LastDiscoveryStatus: "NotYetQueried" }),
  };
}

export function validateRedfishEndpoint(raw: Record<string, unknown>, path: string, prefix: string): RedfishEndpointRow {
  try {
    return describeRedfishEndpoint(raw, path);
  } catch (err) {
    if (err instanceof HttpProblem) throw err;
    throw new HttpProblem(400, `${prefix}: ${(err as Error).message}`);
  }
}

/** A component's type as the endpoint parser creates it (types always derive from the ID). */
export function typeOf(id: string): string {
  return xnameType(id) ?? "";
}
