import { z } from "zod";
import { isIP } from "../../../shared/ip";
import { HttpProblem } from "../../../shared/problem";
import { CONTROLLER_TYPES, parseXname } from "../../../shared/xname";
import type { componentEndpoints, redfishEndpoints } from "../../db/schema";
import { canonicalKeys, isPlainObject } from "../../http/json-keys";
import { goObject, opt } from "../../http/wire";
import { DISCOVERY_FIELDS } from "./parser";

export type RedfishEndpointRow = typeof redfishEndpoints.$inferSelect;
export type ComponentEndpointRow = typeof componentEndpoints.$inferSelect;

// ----------------------------------------------------------------------------- wire schemas

const text = (description?: string, example?: string) => opt(z.string()).meta({ description, example });
const flag = (description: string) => opt(z.boolean()).meta({ description });
/** Answered by SMD; a request's value, of any type, is ignored. */
const ignored = (type: string, description: string) => z.unknown().optional().meta({ type, readOnly: true, description });

/** A RedfishEndpoint's own fields (RedfishEPDescription), in upstream's order. */
const ENDPOINT_FIELDS = {
  ID: text("the BMC's (or other controller's) xname; derived from Hostname or FQDN when left out", "x1000c1s0b0"),
  Type: ignored("string", "the HMS type of ID"),
  Name: text("a name for people", "bmc01"),
  Hostname: text("a host name without a domain, or an IP address"),
  Domain: text(undefined, "openchami.cluster"),
  FQDN: text("Hostname.Domain; either part is derived from it when left out", "x1000c1s0b0.openchami.cluster"),
  Enabled: flag("default true"),
  UUID: text(),
  User: text(),
  Password: text("stored as given, and answered as stored"),
  UseSSDP: flag("default false"),
  MACRequired: flag("default false"),
  MACAddr: text(undefined, "de:ca:fc:0f:ee:ee"),
  IPAddress: text("an IP literal; an IP address as Hostname is also the IPAddress", "172.16.0.101"),
  RediscoverOnUpdate: flag("default false"),
  TemplateID: text(),
  DiscoveryInfo: ignored("object", 'what discovery found; `{"LastDiscoveryStatus":"NotYetQueried"}` until Redfish discovery runs'),
};

/**
 * One RedfishEndpoint: as SMD answers it, and as clients post it, optionally with what
 * `ochami discover static` and magellan found behind the BMC (SchemaVersion ≥ 1: its Managers and
 * Systems, which become components, ethernet interfaces and component endpoints).
 */
export const RedfishEndpoint = goObject(
  { ...ENDPOINT_FIELDS, ...DISCOVERY_FIELDS },
  { id: "RedfishEndpoint", description: "a BMC (or other Redfish controller) SMD knows, and what was discovered behind it" },
);

/**
 * A value of the wrong type in a single endpoint is reported as `body.<field>` (in an element of
 * the array form, `RedfishEndpoints[i].<field>`), as this service has always worded it: this
 * check, run whatever was found, puts `body` in front of the paths of the issues outside the array.
 */
const bodyPaths = z.superRefine(
  (_value, ctx) => {
    // An issue without a path is the body's own, which upstream names `body` already.
    for (const issue of ctx.issues) if (issue.path?.[0] !== "RedfishEndpoints") issue.path?.unshift("body");
  },
  { when: () => true },
);

/** The answer to a body that is no JSON object (upstream: "error decoding JSON"). */
export const NOT_OBJECT = "error decoding JSON: body: expected a JSON object";

/**
 * POST's body: one endpoint, or `{"RedfishEndpoints": [...]}` to add many in one request (the
 * body's other keys are then ignored). An element that is no object reads as null, which the
 * route refuses with upstream's message.
 */
export const RedfishEndpointsPost = z.preprocess(
  (v) => {
    if (!isPlainObject(v)) return v;
    const { RedfishEndpoints } = canonicalKeys(v, ["RedfishEndpoints"]);
    return RedfishEndpoints === undefined ? v : { RedfishEndpoints };
  },
  goObject(
    {
      RedfishEndpoints: opt(z.array(z.preprocess((v) => (isPlainObject(v) ? v : null), RedfishEndpoint.nullable()))).meta({
        description: "many endpoints at once (ochami discover static sends them so); each is created as if posted alone",
      }),
      ...ENDPOINT_FIELDS,
      ...DISCOVERY_FIELDS,
    },
    { description: "a RedfishEndpoint, or `RedfishEndpoints`: a list of them" },
    { notObject: NOT_OBJECT },
  ).check(bodyPaths),
);

/** An ID whose value is never read as given: the URL names the endpoint (PUT, PATCH). */
const urlId = z.unknown().optional().meta({ type: "string", description: "the URL's xname, or left out" });

/** PUT's body: an endpoint and what was discovered behind it, under the URL's ID. */
export const RedfishEndpointPut = goObject({ ...ENDPOINT_FIELDS, ID: urlId, ...DISCOVERY_FIELDS }, undefined, {
  notObject: NOT_OBJECT,
}).check(bodyPaths);

/** PATCH's body: the fields to change (`null` resets one to its default). */
export const RedfishEndpointPatch = goObject(
  { ...ENDPOINT_FIELDS, ID: urlId },
  { description: "the fields to change; a new Hostname or Domain without an FQDN derives a new FQDN" },
  { notObject: NOT_OBJECT },
).check(bodyPaths);

export type EndpointFields = Omit<z.output<typeof RedfishEndpointPatch>, "ID" | "Type" | "DiscoveryInfo"> & { ID?: string | null };

/** A component endpoint's fields (ComponentEndpoint), as SMD answers them. */
export const ComponentEndpoint = z
  .object({
    ID: z.string(),
    Type: z.string(),
    Domain: z.string().optional(),
    FQDN: z.string().optional(),
    RedfishType: z.string().meta({ example: "ComputerSystem" }),
    RedfishSubtype: z.string(),
    MACAddr: z.string().optional(),
    UUID: z.string().optional(),
    OdataID: z.string().meta({ example: "/redfish/v1/Systems/x1000c1s0b0n0" }),
    RedfishEndpointID: z.string(),
    Enabled: z.boolean(),
    RedfishEndpointFQDN: z.string(),
    RedfishURL: z.string(),
    ComponentEndpointType: z.string().meta({ example: "ComponentEndpointComputerSystem" }),
    RedfishSystemInfo: z.looseObject({}).optional(),
    RedfishManagerInfo: z.looseObject({}).optional(),
    RedfishChassisInfo: z.looseObject({}).optional(),
    RedfishPDUInfo: z.looseObject({}).optional(),
    RedfishOutletInfo: z.looseObject({}).optional(),
  })
  .meta({ id: "ComponentEndpoint", description: "a Redfish component (System, Manager, …) behind a RedfishEndpoint" });

// ----------------------------------------------------------------------------- answers

/** Wire form, upstream's field order; Name, UUID, UseSSDP, MACRequired, MACAddr, IPAddress, TemplateID omitted when empty. */
export function redfishEndpointJson(r: RedfishEndpointRow) {
  const out: EndpointFields & { Type: string; DiscoveryInfo?: unknown } = { ID: r.id, Type: r.type };
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

// ----------------------------------------------------------------------------- validation

function invalid(msg: string): never {
  throw new Error(msg);
}

/**
 * Validates what a RedfishEndpoint body means, as upstream's NewRedfishEPDescription does: derive
 * the ID from Hostname/FQDN when missing, the FQDN from hostname and domain, check they agree and
 * that the ID names a controller. Throws Error(message); the caller adds upstream's prefix.
 */
export function describeRedfishEndpoint(b: EndpointFields): RedfishEndpointRow {
  let domain = (b.Domain ?? "").replace(/^[./ ]+|[./ ]+$/g, "");
  let hostname = (b.Hostname ?? "").trim();
  const fqdnIn = (b.FQDN ?? "").trim();
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
  const rawId = (b.ID ?? "").trim() || hostname;
  if (!rawId) invalid("No xname ID found");
  const x = parseXname(rawId);
  if (!x) invalid(`${rawId} is not a valid locational xname ID`);
  if (!CONTROLLER_TYPES.has(x.type)) invalid(`xname ID ${x.id} has wrong type for RF endpoint: ${x.type}`);
  const fqdn = (hostname || x.id) + (domain ? `.${domain}` : "");
  if (fqdnIn && !isIP(fqdnIn) && fqdnIn !== fqdn) invalid(`host/domain conflicts with FQDN: '${fqdn}' != '${fqdnIn}'`);
  let ipAddress = (b.IPAddress ?? "").trim();
  if (ipAddress && !isIP(ipAddress)) invalid(`IPAddress is not a valid IP address: '${ipAddress}'`);
  if (isIP(hostname)) {
    if (ipAddress && ipAddress !== hostname) invalid(`IPAddress '${ipAddress}' does not match Hostname '${hostname}'`);
    ipAddress = hostname;
  }
  return {
    id: x.id,
    type: x.type,
    name: b.Name ?? "",
    hostname,
    domain,
    fqdn: fqdnIn && isIP(fqdnIn) ? fqdnIn : fqdn,
    enabled: b.Enabled ?? true,
    uuid: b.UUID ?? "",
    user: b.User ?? "",
    password: b.Password ?? "",
    useSsdp: b.UseSSDP ?? false,
    macRequired: b.MACRequired ?? false,
    macAddr: b.MACAddr ?? "",
    ipAddress,
    rediscoverOnUpdate: b.RediscoverOnUpdate ?? false,
    templateId: b.TemplateID ?? "",
    discoveryInfo: JSON.stringify({ LastDiscoveryStatus: "NotYetQueried" }),
  };
}

/** describeRedfishEndpoint, its failure a 400 worded `<prefix>: <reason>`. */
export function validateRedfishEndpoint(b: EndpointFields, prefix: string): RedfishEndpointRow {
  try {
    return describeRedfishEndpoint(b);
  } catch (err) {
    throw new HttpProblem(400, `${prefix}: ${(err as Error).message}`);
  }
}
