import { z } from "zod";
import type { BootStep } from "../../shared/boot-events";
import { HttpProblem } from "../../shared/problem";
import { type BootReader, liveReader } from "../boot/reader";
import type { NodeLookup, NodeView } from "../boot/types";
import { CA_CERTS_FILE, caCertsCloudConfig } from "../cluster-ca";
import { nodeBaseUrl } from "../config";
import type { BootEnv } from "../env";
import { recordBootEvent } from "../history/recorder";
import { clientAddress } from "../http/client-ip";
import { originOf } from "../http/request-target";
import { op, type RequestScope, type Router, resource, router, scopeOf } from "../http/route";
import { checked, json, problems, refuse, text } from "../http/wire";
import { registerAdminRoutes } from "./admin-routes";
import {
  includeBase,
  instanceIdOf,
  type MetaDataTemplate,
  renderMetaData,
  renderMetaDataShared,
  renderVendorData,
  USER_DATA,
} from "./metadata";
import { decodeBase64, GROUP_NAME_RE, nodeId } from "./model";

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
  const app = router();
  registerNodeRoutes(app);
  registerAdminRoutes(app);
  registerImpersonationRoutes(app);
  return app;
}

const tags = ["cloud-init"];
const NODE = "The node is the one holding the request's source address in SMD (EthernetInterfaces); an address no node has is a 422.";

/** `<group>.yaml`: names no SMD label can have are nobody's group (404). */
const GroupFile = z.object({
  group: z
    .string()
    .meta({ description: "an SMD group label" })
    .transform((raw, ctx) => {
      const name = raw.toLowerCase();
      return GROUP_NAME_RE.test(name) ? name : refuse(ctx, `no group '${name}': not a valid group name`, raw, 404);
    }),
});

const NodeId = z.object({ id: z.string().meta({ description: "the node's xname" }).transform(checked(nodeId)) });

function registerNodeRoutes(app: Router) {
  const doc = (summary: string, what: string) => ({
    summary,
    description: NODE,
    tags,
    boot: true as const,
    responses: { 200: text(what), ...problems(404, 422) },
  });
  resource(app, "/meta-data", {
    get: op(doc("The node's NoCloud meta-data", "YAML meta-data"), (c) =>
      forRequester(c, "meta-data", undefined, ({ view }, scope) => metaData(view, scope.var.boot)),
    ),
  });
  resource(app, "/vendor-data", {
    get: op(doc("The node's vendor-data: an #include of its groups' files", "vendor-data"), (c) =>
      forRequester(c, "vendor-data", undefined, ({ view }, scope) => vendorData(scope, view)),
    ),
  });
  // Before the group files: its name is no group's (workers/cluster-ca.ts).
  resource(app, `/${CA_CERTS_FILE}`, {
    get: op(
      {
        summary: "A cloud-config making the node trust the cluster CA (ca_certs)",
        description: "Listed first in vendor-data when OCHAMI_CLUSTER_CA is set; the same for every node.",
        tags,
        responses: { 200: text("#cloud-config with ca_certs"), ...problems(404) },
      },
      (c) => caCertsResponse(c),
    ),
  });
  resource(app, "/{group}.yaml", {
    get: op({ ...doc("A group's cloud-config, for a member node", "the group's cloud-config"), request: { params: GroupFile } }, (c) => {
      const { group } = c.req.valid("param");
      return forRequester(c, "cloud-init-group", group, (lookup) => groupFile(lookup, group));
    }),
  });
  resource(app, "/user-data", {
    // Upstream's user-data is the same for every node, so no lookup; the history recorder still
    // resolves the node from its address when it writes the event.
    get: op(
      { summary: "user-data: an empty cloud-config, the same for every node", tags, responses: { 200: text("#cloud-config") } },
      (c) => {
        const who = clientAddress(c.req.raw, c.var.config.trustedProxies);
        if (who.ok) record(c, { ip: who.ip, endpoint: "user-data" });
        return textResponse(USER_DATA);
      },
    ),
  });
  resource(app, "/version", {
    get: op(
      {
        summary: "The cloud-init server's version",
        tags,
        responses: { 200: json(z.looseObject({ process_name: z.string() }), "version") },
      },
      (c) => c.json({ process_name: "cloud-init-server", build_info: "ochami-edge (OpenCHAMI cloud-init API on workerd + D1)" }),
    ),
  });
}

function registerImpersonationRoutes(app: Router) {
  const doc = (summary: string) => ({
    summary,
    description: "What the node would receive, read from D1 (never the boot snapshot).",
    tags,
    request: { params: NodeId },
    responses: { 200: text("the document"), ...problems(400, 404) },
  });
  const base = "/admin/impersonation/{id}";
  resource(app, `${base}/meta-data`, {
    get: op(doc("A node's meta-data, as it would receive it"), async (c) => {
      const { view } = await liveReader(c).nodeById(c.req.valid("param").id);
      return responseOf(await metaData(view));
    }),
  });
  resource(app, `${base}/vendor-data`, {
    get: op(doc("A node's vendor-data, as it would receive it"), async (c) => {
      const { view } = await liveReader(c).nodeById(c.req.valid("param").id);
      return responseOf(await vendorData(c, view));
    }),
  });
  resource(app, `${base}/user-data`, {
    get: op(doc("A node's user-data, as it would receive it"), async (c) => {
      const { view } = await liveReader(c).nodeById(c.req.valid("param").id);
      if (!view.inSmd) throw new HttpProblem(404, `node ${view.id} not found in SMD`);
      return textResponse(USER_DATA);
    }),
  });
  // Before the group files, as on the node's own path: vendor-data lists it, so the dashboard reads it.
  resource(app, `${base}/${CA_CERTS_FILE}`, {
    get: op(doc("The cluster CA's cloud-config, as the node would receive it"), async (c) => {
      const { view } = await liveReader(c).nodeById(c.req.valid("param").id);
      if (!view.inSmd) throw new HttpProblem(404, `node ${view.id} not found in SMD`);
      return caCertsResponse(c);
    }),
  });
  resource(app, `${base}/{group}.yaml`, {
    get: op(
      { ...doc("A group's cloud-config, as the node would receive it"), request: { params: NodeId.extend(GroupFile.shape) } },
      async (c) => {
        const { id, group } = c.req.valid("param");
        return responseOf(await groupFile(await liveReader(c).nodeById(id, { file: group }), group));
      },
    ),
  });
}

// ----------------------------------------------------------------------------- documents

/** The cloud-config that makes a node trust the cluster CA; the same for every node. */
function caCertsResponse(c: RequestScope): Response {
  const pem = c.var.config.clusterCa;
  if (!pem) throw new HttpProblem(404, "no cluster CA is configured here (OCHAMI_CLUSTER_CA)");
  return textResponse(caCertsCloudConfig(pem));
}

interface Served {
  body: string | Uint8Array;
  contentType: string;
  /** What the boot history records about this fetch. */
  detail: string;
}

/** `reader`: where the text shared by nodes with the same groups is kept (the boot path's reader); none: rendered whole. */
async function metaData(view: NodeView, reader?: BootReader): Promise<Served> {
  if (!view.inSmd) throw new HttpProblem(404, `node ${view.id} not found in SMD`);
  const instanceId = await instanceIdOf(view);
  // The template depends on the node's groups and on what the reader holds for all nodes.
  const template = (r: BootReader) => (build: () => MetaDataTemplate | undefined) =>
    r.remember(`meta-data template\0${view.groups.join("\0")}`, async () => ({ value: build(), keep: true }));
  return {
    body: reader ? await renderMetaDataShared(view, instanceId, template(reader)) : renderMetaData(view, instanceId),
    contentType: "application/x-yaml",
    detail: `instance-id ${instanceId}`,
  };
}

async function vendorData(c: RequestScope, view: NodeView): Promise<Served> {
  if (!view.inSmd) throw new HttpProblem(404, `node ${view.id} not found in SMD`);
  const { config } = c.var;
  const first = config.clusterCa ? [CA_CERTS_FILE] : [];
  const body = renderVendorData(view, includeBase(view, `${nodeBaseUrl(config, c.req.url)}/cloud-init`), first);
  // The detail counts the group files only: the dashboard calls a boot done once the node fetched
  // as many group files as its vendor-data included (the CA file is no group file and records no step).
  const includes = body.split("\n").length - 2 - first.length;
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
  let bytes = decodedFiles.get(file);
  if (bytes === undefined) {
    bytes = decodeBase64(file.content);
    if (!bytes) throw new Error(`group ${group}: stored base64 content does not decode`);
    decodedFiles.set(file, bytes);
  }
  return { body: bytes, contentType: TEXT, detail: group };
}

/**
 * A base64 group file's bytes, decoded once per stored file object: the snapshot's (one per group,
 * for as long as it is current) serves every member node, where decoding it for each node cost
 * ~30 ms and, kept per node, a copy each (2,000 nodes fetching a 512 KiB file took the API from 138
 * to 1,182 MB). The D1 reader's objects are new on each read.
 */
const decodedFiles = new WeakMap<NonNullable<NodeLookup["file"]>, Uint8Array>();

// ----------------------------------------------------------------------------- who is asking

type BootScope = RequestScope<BootEnv["Variables"]>;

/**
 * Serves a node-facing document to the node at the request's source address and records the
 * fetch (success or failure) in the boot history, off the response path. An address no node has
 * is a 422, as upstream answers, never another node's data. What a node gets depends only on the
 * boot data, the document and the origin it asked at, so the reader keeps it.
 */
async function forRequester(
  context: BootScope,
  endpoint: BootStep,
  file: string | undefined,
  serve: (lookup: NodeLookup, scope: BootScope) => Promise<Served>,
) {
  const c = scopeOf(context);
  const { boot, config } = c.var;
  const who = clientAddress(c.req.raw, config.trustedProxies);
  if (!who.ok) throw new HttpProblem(422, `cannot identify the requesting node: ${who.reason}`);
  const lookup = await boot.nodeByIp(who.ip, { file });
  if (!lookup) {
    record(c, { ip: who.ip, endpoint, detail: `422: no node has this IP${file ? ` (${file})` : ""}` });
    throw new HttpProblem(422, `no node in SMD has IP address ${who.ip} (SMD EthernetInterfaces)`);
  }
  const name = lookup.view.id;
  try {
    // A group's file is not kept per node: serving it is a lookup, and it is the group's, as
    // large as its admin made it (the kept answers' budget would count it once per member).
    const served =
      file === undefined
        ? await boot.remember(`${endpoint}\0${name}\0${originOf(c.req.url)}`, async () => ({ value: await serve(lookup, c), keep: true }))
        : await serve(lookup, c);
    const inSmd = lookup.view.inSmd;
    record(c, { name, ip: who.ip, endpoint, inSmd, detail: served.detail });
    return responseOf(served);
  } catch (err) {
    if (err instanceof HttpProblem)
      record(c, { name, ip: who.ip, endpoint, inSmd: lookup.view.inSmd, detail: `${err.status}: ${err.detail}` });
    throw err;
  }
}

function record(c: RequestScope, e: { name?: string; ip: string; endpoint: BootStep; inSmd?: boolean; detail?: string }) {
  recordBootEvent(c.var, { ...e, timeMs: Date.now() });
}

const NO_STORE = { "cache-control": "no-store" };

const TEXT = "text/plain; charset=utf-8";

function textResponse(body: string | Uint8Array): Response {
  return new Response(body, { headers: { "content-type": TEXT, ...NO_STORE } });
}

function responseOf(served: Served): Response {
  // A kept document serves many responses: never hand out its bytes themselves.
  const body = typeof served.body === "string" ? served.body : served.body.slice();
  return new Response(body, { headers: { "content-type": served.contentType, ...NO_STORE } });
}
