import { type Context, Hono } from "hono";
import type { BootStep } from "../../shared/boot-events";
import { HttpProblem } from "../../shared/problem";
import { currentSnapshot } from "../boot-snapshot/current";
import { configOf, nodeBaseUrl } from "../config";
import { database } from "../db";
import type { AppEnv } from "../env";
import { recordBootEvent, waiterOf } from "../history/recorder";
import { clientAddress } from "../http/client-ip";
import { param, resource } from "../http/routes";
import { registerAdminRoutes } from "./admin-routes";
import { includeBase, instanceIdOf, type NodeView, renderMetaData, renderVendorData, USER_DATA } from "./metadata";
import { decodeBase64, GROUP_NAME_RE, nodeId } from "./model";
import { d1NodeDirectory, type NodeDirectory, type NodeLookup } from "./nodes";

/**
 * The cloud-init server, mounted at /cloud-init.
 *
 * Node-facing (NoCloud: the kernel line's `ds=nocloud;s=<base>/cloud-init/`), the node identified
 * by its source address (workers/http/client-ip.ts), each fetch recorded in the boot history:
 *   GET meta-data · user-data · vendor-data · <group>.yaml
 * Admin (admin-routes.ts): cluster-defaults, groups, instance-info, and impersonation — what a
 * given node would receive:
 *   GET admin/impersonation/{xname}/meta-data · user-data · vendor-data · <group>.yaml
 */
export function cloudInitApp() {
  const app = new Hono<AppEnv>({ strict: false });
  registerNodeRoutes(app);
  registerAdminRoutes(app);
  registerImpersonationRoutes(app);
  return app;
}

const GROUP_FILE = ":file{[^/]+\\.yaml}";

function registerNodeRoutes(app: Hono<AppEnv>) {
  resource(app, "/meta-data", {
    GET: (c) => forRequester(c, "meta-data", undefined, async (lookup) => metaData(lookup.view)),
  });
  resource(app, "/vendor-data", {
    GET: (c) => forRequester(c, "vendor-data", undefined, async (lookup) => vendorData(c, lookup.view)),
  });
  resource(app, `/${GROUP_FILE}`, {
    GET: (c) => {
      const group = fileGroup(c);
      return forRequester(c, "cloud-init-group", group, async (lookup) => groupFile(lookup, group));
    },
  });
  resource(app, "/user-data", {
    // Upstream's user-data is the same for every node, so no lookup; the history recorder still
    // resolves the node from its address when it writes the event.
    GET: (c) => {
      const who = clientAddress(c.req.raw, configOf(c.env).trustedProxies);
      if (who.ok) record(c, { ip: who.ip, endpoint: "user-data" });
      return text(USER_DATA);
    },
  });
  resource(app, "/version", {
    GET: (c) => c.json({ process_name: "cloud-init-server", build_info: "ochami-edge (OpenCHAMI cloud-init API on workerd + D1)" }),
  });
}

function registerImpersonationRoutes(app: Hono<AppEnv>) {
  const base = "/admin/impersonation/:id";
  resource(app, `${base}/meta-data`, { GET: async (c) => responseOf(await metaData(await impersonated(c))) });
  resource(app, `${base}/vendor-data`, { GET: async (c) => responseOf(await vendorData(c, await impersonated(c))) });
  resource(app, `${base}/user-data`, {
    GET: async (c) => {
      const view = await impersonated(c);
      if (!view.inSmd) throw new HttpProblem(404, `node ${view.id} not found in SMD`);
      return text(USER_DATA);
    },
  });
  resource(app, `${base}/${GROUP_FILE}`, {
    GET: async (c) => {
      const group = fileGroup(c);
      const lookup = await directoryOf(c).byId(nodeId(param(c, "id")), { file: group });
      return responseOf(await groupFile(lookup, group));
    },
  });
}

// ----------------------------------------------------------------------------- documents

interface Served {
  body: string | Uint8Array;
  contentType: string;
  /** What the boot history records about this fetch. */
  detail: string;
}

async function metaData(view: NodeView): Promise<Served> {
  if (!view.inSmd) throw new HttpProblem(404, `node ${view.id} not found in SMD`);
  const instanceId = await instanceIdOf(view);
  return {
    body: renderMetaData(view, instanceId),
    contentType: "application/x-yaml",
    detail: `instance-id ${instanceId}`,
  };
}

async function vendorData(c: Context<AppEnv>, view: NodeView): Promise<Served> {
  if (!view.inSmd) throw new HttpProblem(404, `node ${view.id} not found in SMD`);
  const body = renderVendorData(view, includeBase(view, `${nodeBaseUrl(c.env, c.req.url)}/cloud-init`));
  const includes = body.split("\n").length - 2;
  return { body, contentType: TEXT, detail: `${includes} include${includes === 1 ? "" : "s"}` };
}

/**
 * A group's cloud-config for a member node: the stored file, base64-decoded when stored so;
 * `#cloud-config` when the group has no file (or no cloud-init data at all).
 */
async function groupFile(lookup: NodeLookup, group: string): Promise<Served> {
  const { view, file } = lookup;
  if (!view.groups.includes(group))
    throw new HttpProblem(404, `node ${view.id} is not a member of group ${group} (node and/or group may not exist in SMD)`);
  if (!file || file.content === "") return { body: USER_DATA, contentType: TEXT, detail: `${group} (no file)` };
  if (file.encoding !== "base64") return { body: file.content, contentType: TEXT, detail: group };
  const bytes = decodeBase64(file.content);
  if (!bytes) throw new Error(`group ${group}: stored base64 content does not decode`);
  return { body: bytes, contentType: TEXT, detail: group };
}

/** The group named by `<group>.yaml`; names that no SMD label can have are nobody's group (404). */
function fileGroup(c: Context): string {
  const name = param(c, "file").slice(0, -".yaml".length).toLowerCase();
  if (!GROUP_NAME_RE.test(name)) throw new HttpProblem(404, `no group '${name}': not a valid group name`);
  return name;
}

// ----------------------------------------------------------------------------- who is asking

/**
 * Serves a node-facing document to the node at the request's source address (found in the boot
 * snapshot when it is current, else in D1) and records the fetch (success or failure) in the boot
 * history, off the response path. An address no node has is a 422, as upstream answers, never
 * another node's data.
 */
async function forRequester(
  c: Context<AppEnv>,
  endpoint: BootStep,
  file: string | undefined,
  serve: (lookup: NodeLookup) => Promise<Served>,
): Promise<Response> {
  const who = clientAddress(c.req.raw, configOf(c.env).trustedProxies);
  if (!who.ok) throw new HttpProblem(422, `cannot identify the requesting node: ${who.reason}`);
  const snapshot = await currentSnapshot(c.env, waiterOf(c));
  const lookup = snapshot ? snapshot.nodeByIp(who.ip, { file }) : await directoryOf(c).byIp(who.ip, { file });
  if (!lookup) {
    record(c, { ip: who.ip, endpoint, detail: `422: no node has this IP${file ? ` (${file})` : ""}` });
    throw new HttpProblem(422, `no node in SMD has IP address ${who.ip} (SMD EthernetInterfaces)`);
  }
  const name = lookup.view.id;
  // What a node gets depends only on the snapshot, the document and the origin it asked at.
  const memoKey = `${endpoint}\0${file ?? ""}\0${name}\0${new URL(c.req.url).origin}`;
  try {
    let served = snapshot?.memoGet<Served>(memoKey);
    if (!served) {
      served = await serve(lookup);
      snapshot?.memoSet(memoKey, served);
    }
    record(c, { name, ip: who.ip, endpoint, detail: served.detail });
    return responseOf(served);
  } catch (err) {
    if (err instanceof HttpProblem) record(c, { name, ip: who.ip, endpoint, detail: `${err.status}: ${err.detail}` });
    throw err;
  }
}

async function impersonated(c: Context<AppEnv>): Promise<NodeView> {
  return (await directoryOf(c).byId(nodeId(param(c, "id")))).view;
}

/** Node lookups on D1: the admin routes, and node requests when the boot snapshot cannot answer. */
function directoryOf(c: Context<AppEnv>): NodeDirectory {
  return d1NodeDirectory(database(c.env.DB));
}

function record(c: Context<AppEnv>, e: { name?: string; ip: string; endpoint: BootStep; detail?: string }) {
  recordBootEvent(waiterOf(c), database(c.env.DB), configOf(c.env).historyMax, { ...e, timeMs: Date.now() });
}

const NO_STORE = { "cache-control": "no-store" };

const TEXT = "text/plain; charset=utf-8";

function text(body: string | Uint8Array): Response {
  return new Response(body, { headers: { "content-type": TEXT, ...NO_STORE } });
}

function responseOf(served: Served): Response {
  // A kept document serves many responses: never hand out its bytes themselves.
  const body = typeof served.body === "string" ? served.body : served.body.slice();
  return new Response(body, { headers: { "content-type": served.contentType, ...NO_STORE } });
}
