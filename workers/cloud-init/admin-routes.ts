import type { Context, Hono } from "hono";
import { HttpProblem } from "../../shared/problem";
import { database, isUniqueViolation } from "../db";
import type { AppEnv } from "../env";
import { readJson } from "../http/body";
import { param, resource } from "../http/routes";
import { derivedInstanceId } from "./metadata";
import {
  type CloudInitGroup,
  clusterDefaultsJson,
  GROUP_NAME_RE,
  groupJson,
  groupName,
  type InstanceInfo,
  instanceInfoJson,
  mergeClusterDefaults,
  nodeId,
  parseClusterDefaults,
  parseGroup,
  parseInstanceInfo,
} from "./model";
import * as store from "./store";

/**
 * /cloud-init/admin: what `ochami cloud-init defaults|group|node` calls (bss-cloudinit.md B9, C2).
 * Status codes are upstream's where clients see them (POST 201 + Location, 409 on an existing
 * group, PUT upsert); errors are problem+json instead of upstream's mix of text and empty bodies.
 */
export function registerAdminRoutes(app: Hono<AppEnv>) {
  const dbOf = (c: Context<AppEnv>) => database(c.env.DB);

  resource(app, "/admin/cluster-defaults", {
    GET: async (c) => c.json(clusterDefaultsJson(await store.getDefaults(dbOf(c)))),
    // Upstream: merge the non-empty fields into what is stored; 201.
    POST: async (c) => {
      const update = parseClusterDefaults(await readJson(c.req.raw));
      const db = dbOf(c);
      const merged = mergeClusterDefaults(await store.getDefaults(db), update);
      await store.putDefaults(db, merged);
      return c.json(clusterDefaultsJson(merged), 201);
    },
    // Ours: replace the whole record, the only way to clear a field.
    PUT: async (c) => {
      const defaults = parseClusterDefaults(await readJson(c.req.raw));
      await store.putDefaults(dbOf(c), defaults);
      return c.json(clusterDefaultsJson(defaults));
    },
  });

  resource(app, "/admin/groups", {
    /** Upstream answers a map keyed by name, tab-indented; ochami expects the map. */
    GET: async (c) => {
      const groups = Object.fromEntries((await store.listGroups(dbOf(c))).map((g) => [g.name, groupJson(g)]));
      return c.body(JSON.stringify(groups, null, "\t"), 200, { "content-type": "application/json" });
    },
    POST: async (c) => {
      const group = parseGroup(await readJson(c.req.raw));
      try {
        await store.insertGroup(dbOf(c), group);
      } catch (err) {
        if (isUniqueViolation(err)) throw new HttpProblem(409, `group '${group.name}' not added as it already exists`);
        throw err;
      }
      return groupCreated(c, group, 201);
    },
  });

  resource(app, "/admin/groups/:name", {
    GET: async (c) => {
      const name = existingGroupName(c);
      const group = await store.getGroup(dbOf(c), name);
      if (!group) throw new HttpProblem(404, `group (${name}) not found`);
      return c.json(groupJson(group));
    },
    /** Create or replace (ochami `cloud-init group set`): 201 when created, 200 when replaced. */
    PUT: async (c) => {
      const group = parseGroup(await readJson(c.req.raw), groupName(param(c, "name")));
      const created = await store.upsertGroup(dbOf(c), group);
      return groupCreated(c, group, created ? 201 : 200);
    },
    DELETE: async (c) => {
      const name = existingGroupName(c);
      if (!(await store.deleteGroup(dbOf(c), name))) throw new HttpProblem(404, `group (${name}) not found`);
      return c.body(null, 200);
    },
  });

  resource(app, "/admin/instance-info", {
    GET: async (c) => c.json(await Promise.all((await store.listInstances(dbOf(c))).map(instanceJson))),
  });

  resource(app, "/admin/instance-info/:id", {
    GET: async (c) => {
      const id = nodeId(param(c, "id"));
      const info = await store.getInstance(dbOf(c), id);
      if (!info) throw new HttpProblem(404, `no instance-info for node ${id}`);
      return c.json(await instanceJson(info));
    },
    /** Replaces the node's record, keeping its instance-id unless the body sets one: 201 created, 200 replaced. */
    PUT: async (c) => {
      const id = nodeId(param(c, "id"));
      const info = parseInstanceInfo(await readJson(c.req.raw), id);
      const { created, instanceId } = await store.putInstance(dbOf(c), info);
      return c.json(await instanceJson({ ...info, instanceId }), created ? 201 : 200);
    },
    DELETE: async (c) => {
      const id = nodeId(param(c, "id"));
      if (!(await store.deleteInstance(dbOf(c), id))) throw new HttpProblem(404, `no instance-info for node ${id}`);
      return c.body(null, 200);
    },
  });
}

function groupCreated(c: Context, group: CloudInitGroup, status: 200 | 201): Response {
  return c.json(groupJson(group), status, { location: `/cloud-init/admin/groups/${group.name}` });
}

/** A group name from the path; a name no group can have is simply not found. */
function existingGroupName(c: Context): string {
  const name = param(c, "name").trim().toLowerCase();
  if (!GROUP_NAME_RE.test(name)) throw new HttpProblem(404, `group (${name}) not found`);
  return name;
}

async function instanceJson(info: InstanceInfo) {
  return instanceInfoJson(info, info.instanceId || (await derivedInstanceId(info.id)));
}
