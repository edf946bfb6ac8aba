import { z } from "zod";
import { HttpProblem } from "../../shared/problem";
import type { InstanceInfo } from "../boot/types";
import { isUniqueViolation } from "../db";
import { op, type Router, resource } from "../http/route";
import { checked, empty, json, jsonBody, problems } from "../http/wire";
import { derivedInstanceId } from "./metadata";
import {
  type CloudInitGroup,
  ClusterDefaultsBody,
  clusterDefaultsJson,
  GROUP_NAME_RE,
  GroupBody,
  groupJson,
  groupName,
  InstanceInfoBody,
  instanceInfoJson,
  mergeClusterDefaults,
  nodeId,
  parseClusterDefaults,
  parseGroup,
  parseInstanceInfo,
} from "./model";
import * as store from "./store";

/** A path parameter checked by a function that throws upstream's answer. */
const checkedParam = (description: string, check: (raw: string) => string) => z.string().meta({ description }).transform(checked(check));

/** A group to read or delete: a name no group can have is simply not found. */
const ExistingGroup = z.object({
  name: checkedParam("a cloud-init group (an SMD group label)", (raw) => {
    const name = raw.trim().toLowerCase();
    if (!GROUP_NAME_RE.test(name)) throw new HttpProblem(404, `group (${name}) not found`);
    return name;
  }),
});
/** A group to write: an invalid name is a 422, as upstream answers an invalid group. */
const NewGroup = z.object({ name: checkedParam("a cloud-init group (an SMD group label)", groupName) });
const Node = z.object({ id: checkedParam("the node's xname", nodeId) });

const ClusterDefaults = ClusterDefaultsBody;
const Groups = z.record(z.string(), GroupBody).meta({ description: "groups by name" });

/**
 * /cloud-init/admin: what `ochami cloud-init defaults|group|node` calls. Status codes are
 * upstream's where clients see them (POST 201 + Location, 409 on an existing group, PUT upsert);
 * errors are problem+json instead of upstream's mix of text and empty bodies.
 */
export function registerAdminRoutes(app: Router) {
  const tags = ["cloud-init"];

  resource(app, "/admin/cluster-defaults", {
    get: op(
      { summary: "The cluster's defaults", tags, responses: { 200: json(ClusterDefaults, "the defaults ({} when none)") } },
      async (c) => c.json(clusterDefaultsJson(await store.getDefaults(c.var.db))),
    ),
    post: op(
      {
        summary: "Update the cluster's defaults",
        description: "Upstream's semantics: the non-empty fields given replace the stored ones (POST cannot clear a field; PUT can).",
        tags,
        request: { body: jsonBody(ClusterDefaults) },
        responses: { 201: json(ClusterDefaults, "the defaults now"), ...problems(400) },
      },
      async (c) => {
        const update = parseClusterDefaults(c.req.valid("json"));
        const { db } = c.var;
        const merged = mergeClusterDefaults(await store.getDefaults(db), update);
        await store.putDefaults(db, merged);
        return c.json(clusterDefaultsJson(merged), 201);
      },
    ),
    put: op(
      {
        summary: "Replace the cluster's defaults (ours: the only way to clear a field)",
        tags,
        request: { body: jsonBody(ClusterDefaults) },
        responses: { 200: json(ClusterDefaults, "the defaults now"), ...problems(400) },
      },
      async (c) => {
        const defaults = parseClusterDefaults(c.req.valid("json"));
        await store.putDefaults(c.var.db, defaults);
        return c.json(clusterDefaultsJson(defaults));
      },
    ),
  });

  resource(app, "/admin/groups", {
    get: op({ summary: "Every cloud-init group, by name", tags, responses: { 200: json(Groups, "the groups") } }, async (c) => {
      // Upstream answers a map keyed by name, tab-indented; ochami expects the map.
      const groups = Object.fromEntries((await store.listGroups(c.var.db)).map((g) => [g.name, groupJson(g)]));
      return c.body(JSON.stringify(groups, null, "\t"), 200, { "content-type": "application/json" });
    }),
    post: op(
      {
        summary: "Add a cloud-init group",
        tags,
        invalidStatus: 422,
        request: { body: jsonBody(GroupBody) },
        responses: { 201: json(GroupBody, "created"), ...problems(400, 409, 422) },
      },
      async (c) => {
        const group = parseGroup(c.req.valid("json"));
        try {
          await store.insertGroup(c.var.db, group);
        } catch (err) {
          if (isUniqueViolation(err)) throw new HttpProblem(409, `group '${group.name}' not added as it already exists`);
          throw err;
        }
        return groupWritten(group, 201);
      },
    ),
  });

  resource(app, "/admin/groups/{name}", {
    get: op(
      {
        summary: "A cloud-init group",
        tags,
        request: { params: ExistingGroup },
        responses: { 200: json(GroupBody, "the group"), ...problems(404) },
      },
      async (c) => {
        const { name } = c.req.valid("param");
        const group = await store.getGroup(c.var.db, name);
        if (!group) throw new HttpProblem(404, `group (${name}) not found`);
        return c.json(groupJson(group));
      },
    ),
    put: op(
      {
        summary: "Create or replace a cloud-init group (ochami cloud-init group set)",
        tags,
        invalidStatus: 422,
        request: { params: NewGroup, body: jsonBody(GroupBody) },
        responses: { 200: json(GroupBody, "replaced"), 201: json(GroupBody, "created"), ...problems(400, 422) },
      },
      async (c) => {
        const group = parseGroup(c.req.valid("json"), c.req.valid("param").name);
        const created = await store.upsertGroup(c.var.db, group);
        return groupWritten(group, created ? 201 : 200);
      },
    ),
    delete: op(
      {
        summary: "Delete a cloud-init group",
        tags,
        request: { params: ExistingGroup },
        responses: { 200: empty("deleted"), ...problems(404) },
      },
      async (c) => {
        const { name } = c.req.valid("param");
        if (!(await store.deleteGroup(c.var.db, name))) throw new HttpProblem(404, `group (${name}) not found`);
        return c.body(null, 200);
      },
    ),
  });

  resource(app, "/admin/instance-info", {
    get: op(
      { summary: "Every node's instance-info", tags, responses: { 200: json(z.array(InstanceInfoBody), "instance-info records") } },
      async (c) => c.json(await Promise.all((await store.listInstances(c.var.db)).map(instanceJson))),
    ),
  });

  resource(app, "/admin/instance-info/{id}", {
    get: op(
      {
        summary: "A node's instance-info",
        tags,
        request: { params: Node },
        responses: { 200: json(InstanceInfoBody, "the record"), ...problems(400, 404) },
      },
      async (c) => {
        const { id } = c.req.valid("param");
        const info = await store.getInstance(c.var.db, id);
        if (!info) throw new HttpProblem(404, `no instance-info for node ${id}`);
        return c.json(await instanceJson(info));
      },
    ),
    put: op(
      {
        summary: "Replace a node's instance-info",
        description: "Keeps the node's instance-id unless the body sets one.",
        tags,
        request: { params: Node, body: jsonBody(InstanceInfoBody) },
        responses: { 200: json(InstanceInfoBody, "replaced"), 201: json(InstanceInfoBody, "created"), ...problems(400) },
      },
      async (c) => {
        const info = parseInstanceInfo(c.req.valid("json"), c.req.valid("param").id);
        const { created, instanceId } = await store.putInstance(c.var.db, info);
        return c.json(await instanceJson({ ...info, instanceId }), created ? 201 : 200);
      },
    ),
    delete: op(
      {
        summary: "Delete a node's instance-info",
        tags,
        request: { params: Node },
        responses: { 200: empty("deleted"), ...problems(400, 404) },
      },
      async (c) => {
        const { id } = c.req.valid("param");
        if (!(await store.deleteInstance(c.var.db, id))) throw new HttpProblem(404, `no instance-info for node ${id}`);
        return c.body(null, 200);
      },
    ),
  });
}

function groupWritten(group: CloudInitGroup, status: 200 | 201): Response {
  return Response.json(groupJson(group), { status, headers: { location: `/cloud-init/admin/groups/${group.name}` } });
}

async function instanceJson(info: InstanceInfo) {
  return instanceInfoJson(info, info.instanceId || (await derivedInstanceId(info.id)));
}
