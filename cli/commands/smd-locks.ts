import { Command } from "commander";
import { EXIT, UsageError } from "../errors";
import { listOption } from "../io/input";
import { at, type JsonObject, objectsIn } from "../io/json";
import type { TableSpec } from "../io/output";
import { act, collect, examples, type OutputOptions, output, withOutput } from "./define";
import { parseBool, parseInteger } from "./payload";

/**
 * `ochami smd lock` (/locks) and `ochami smd scn` (/Subscriptions/SCN), which upstream's ochami
 * has no command for. Lock commands print SMD's answer (which components changed, and why the
 * others did not) and exit 4 when only some components could be handled, 1 when none could.
 */

const STATUS_TABLE: TableSpec = {
  rows: (d) => objectsIn(at(d, "Components")),
  columns: [
    { header: "ID", value: (c) => c.ID },
    { header: "LOCKED", value: (c) => c.Locked },
    { header: "RESERVED", value: (c) => c.Reserved },
    { header: "EXPIRES", value: (c) => c.ExpirationTime },
    { header: "DISABLED", value: (c) => c.ReservationDisabled },
  ],
};

const RESERVATION_TABLE: TableSpec = {
  rows: (d) => objectsIn(at(d, "Success")),
  columns: [
    { header: "ID", value: (c) => c.ID },
    { header: "RESERVATION KEY", value: (c) => c.ReservationKey },
    { header: "DEPUTY KEY", value: (c) => c.DeputyKey },
    { header: "EXPIRES", value: (c) => c.ExpirationTime },
  ],
};

interface TargetOptions extends OutputOptions {
  type?: string[];
  flexible?: boolean;
}

/** The components a lock command acts on: xnames, and/or the filter options. */
function filterBody(xnames: string[], o: TargetOptions): JsonObject {
  const ids = xnames.flatMap((x) => listOption(x));
  const type = listOption(o.type);
  if (!ids.length && !type.length) throw new UsageError("name the components: xnames, or --type");
  return {
    ...(ids.length ? { ComponentIDs: ids } : {}),
    ...(type.length ? { Type: type } : {}),
    ProcessingModel: o.flexible ? "flexible" : "rigid",
  };
}

const withTargets = (cmd: Command) =>
  cmd
    .argument("[xname...]", "components (repeatable, or comma-separated)")
    .option("--type <type>", "every component of these HMS types (repeatable, or comma-separated)", collect)
    .option("--flexible", "do what can be done and report the rest (default: all or nothing)");

/** Keys as SMD hands them out (`<xname>:rk:<uuid>`, `<xname>:dk:<uuid>`): the xname is the key's prefix. */
function keyPairs(keys: string[], kind: "rk" | "dk"): Array<{ ID: string; Key: string }> {
  return keys.map((key) => {
    const m = new RegExp(`^(.+):${kind}:[0-9a-fA-F-]+$`).exec(key);
    if (!m) throw new UsageError(`'${key}' is not a ${kind === "rk" ? "reservation" : "deputy"} key (<xname>:${kind}:<uuid>)`);
    return { ID: m[1], Key: key };
  });
}

/** Exit 4 when SMD handled some components and not others, 1 when it handled none. */
function exitOf(res: unknown): number {
  const failed = objectsIn(at(res, "Failure")).length;
  const success = at(res, "Success");
  // Reservations answer a list of successes; the other operations a list of component IDs.
  const ok = Array.isArray(success) ? success.length : ((at(success, "ComponentIDs") as unknown[] | undefined)?.length ?? 0);
  return failed === 0 ? EXIT.OK : ok === 0 ? EXIT.REQUEST : EXIT.PARTIAL;
}

export function lockCommand(): Command {
  const lock = new Command("lock").description("component locks and reservations, as power services use them (/locks)");
  examples(lock, [
    "ochami smd lock status --type Node -F table",
    "ochami smd lock reserve --duration 5 x1000c0s0b0n0",
    "ochami smd lock release x1000c0s0b0n0:rk:…",
  ]);

  const status = act<TargetOptions & { reserved?: string }, [xnames: string[]]>(
    new Command("status")
      .description("lock and reservation status of components (all when none is named)")
      .argument("[xname...]", "components (repeatable, or comma-separated)")
      .option("--type <type>", "HMS types (repeatable, or comma-separated)", collect)
      .option("--reserved <bool>", "only the reserved (true) or unreserved (false) ones"),
    async (run) => {
      const ids = run.args[0].flatMap((x) => listOption(x));
      const body: JsonObject = {
        ...(ids.length ? { ComponentIDs: ids } : {}),
        ...(run.opts.type ? { Type: listOption(run.opts.type) } : {}),
      };
      if (run.opts.reserved !== undefined) body.Reserved = [String(parseBool(run.opts.reserved, "--reserved"))];
      output(run, await run.ctx.api().json("smd", "POST", "/locks/status", { body }), STATUS_TABLE);
    },
  );
  withOutput(status);
  examples(status, ["ochami smd lock status x1000c0s0b0n0", "ochami smd lock status --type Node --reserved true -F table"]);

  const actions: Array<[string, string, string]> = [
    ["lock", "lock components: no new reservations, and by convention no power action", "/locks/lock"],
    ["unlock", "unlock components", "/locks/unlock"],
    ["disable", "disable reservations on components (releasing theirs)", "/locks/disable"],
    ["repair", "enable reservations on components again", "/locks/repair"],
    ["remove", "remove components' reservations, whoever holds them", "/locks/reservations/remove"],
  ];
  const commands = actions.map(([name, description, path]) => {
    const cmd = act<TargetOptions, [xnames: string[]]>(withTargets(new Command(name).description(description)), async (run) => {
      const res = await run.ctx.api().json("smd", "POST", path, { body: filterBody(run.args[0], run.opts) });
      output(run, res);
      return exitOf(res);
    });
    withOutput(cmd);
    examples(cmd, [`ochami smd lock ${name} x1000c0s0b0n0 x1000c0s0b0n1`, `ochami smd lock ${name} --type Node --flexible`]);
    return cmd;
  });

  const reserve = act<TargetOptions & { duration?: string }, [xnames: string[]]>(
    withTargets(
      new Command("reserve")
        .description(
          "reserve components: for --duration minutes (a service's reservation, of unlocked components), or without one (an admin's, of locked components)",
        )
        .option("--duration <minutes>", "1 to 15"),
    ),
    async (run) => {
      const body = filterBody(run.args[0], run.opts);
      const path = run.opts.duration === undefined ? "/locks/reservations" : "/locks/service/reservations";
      if (run.opts.duration !== undefined) body.ReservationDuration = parseInteger(run.opts.duration, "--duration");
      const res = await run.ctx.api().json("smd", "POST", path, { body });
      output(run, res, RESERVATION_TABLE);
      return exitOf(res);
    },
  );
  withOutput(reserve);
  examples(reserve, [
    "ochami smd lock reserve --duration 5 x1000c0s0b0n0 -F table",
    "ochami smd lock lock x1000c0s0b0n0 && ochami smd lock reserve x1000c0s0b0n0",
  ]);

  const byKeys = (name: string, description: string, kind: "rk" | "dk", path: string, duration: boolean) => {
    let cmd = new Command(name)
      .description(description)
      .argument("<key...>", kind === "rk" ? "reservation keys" : "deputy keys")
      .option("--flexible", "do what can be done and report the rest");
    if (duration) cmd = cmd.requiredOption("--duration <minutes>", "1 to 15");
    const c = act<OutputOptions & { flexible?: boolean; duration?: string }, [keys: string[]]>(cmd, async (run) => {
      const pairs = keyPairs(run.args[0], kind);
      const body: JsonObject =
        kind === "dk" ? { DeputyKeys: pairs } : { ReservationKeys: pairs, ProcessingModel: run.opts.flexible ? "flexible" : "rigid" };
      if (duration) body.ReservationDuration = parseInteger(run.opts.duration!, "--duration");
      const res = await run.ctx.api().json("smd", "POST", path, { body });
      output(run, res, kind === "dk" ? RESERVATION_TABLE : undefined);
      return exitOf(res);
    });
    withOutput(c);
    examples(c, [`ochami smd lock ${name} x1000c0s0b0n0:${kind}:6b4d2d8c-6a0b-4f55-9c3c-3b6f7a4e1b2a${duration ? " --duration 5" : ""}`]);
    return c;
  };

  lock.addCommand(status);
  for (const c of commands) lock.addCommand(c);
  return lock
    .addCommand(reserve)
    .addCommand(byKeys("release", "release reservations by their reservation keys", "rk", "/locks/service/reservations/release", false))
    .addCommand(
      byKeys("renew", "renew service reservations for --duration minutes from now", "rk", "/locks/service/reservations/renew", true),
    )
    .addCommand(byKeys("check", "who holds what, by deputy keys", "dk", "/locks/service/reservations/check", false));
}

// ----------------------------------------------------------------------------- scn

const SCN_TABLE: TableSpec = {
  rows: (d) => (at(d, "SubscriptionList") !== undefined ? objectsIn(at(d, "SubscriptionList")) : [d as JsonObject]),
  columns: [
    { header: "ID", value: (s) => s.ID },
    { header: "SUBSCRIBER", value: (s) => s.Subscriber },
    { header: "URL", value: (s) => s.Url },
    { header: "STATES", value: (s) => (s.States as string[] | undefined)?.join(",") },
    { header: "ROLES", value: (s) => (s.Roles as string[] | undefined)?.join(",") },
    { header: "ENABLED", value: (s) => s.Enabled },
  ],
};

export function scnCommand(): Command {
  const scn = new Command("scn").description("state change notification subscriptions (/Subscriptions/SCN)");
  examples(scn, ["ochami smd scn get -F table", "ochami smd scn add --state Ready,Off hmnfd http://hmnfd:28600/hmi/v1/scn"]);

  const get = act<OutputOptions, [id: string | undefined]>(
    new Command("get").alias("list").description("every subscription, or one by ID").argument("[id]"),
    async (run) => {
      const [id] = run.args;
      output(
        run,
        await run.ctx.api().json("smd", "GET", id ? `/Subscriptions/SCN/${parseInteger(id, "id")}` : "/Subscriptions/SCN"),
        SCN_TABLE,
      );
    },
  );
  withOutput(get);
  examples(get, ["ochami smd scn get", "ochami smd scn get 3 -F yaml"]);

  const add = act<
    OutputOptions & { state?: string[]; role?: string[]; subrole?: string[]; swStatus?: string[]; enabled?: boolean },
    [subscriber: string, url: string]
  >(
    new Command("add")
      .description("subscribe: SMD POSTs component changes matching the triggers to the URL")
      .argument("<subscriber>", "the subscriber's name")
      .argument("<url>", "where SMD POSTs notifications")
      .option("--state <state>", "states to be told of (repeatable, or comma-separated)", collect)
      .option("--role <role>", "roles (repeatable, or comma-separated)", collect)
      .option("--subrole <subrole>", "subroles (repeatable, or comma-separated)", collect)
      .option("--sw-status <status>", "software statuses (repeatable)", collect)
      .option("--enabled", "changes of Enabled"),
    async (run) => {
      const o = run.opts;
      const [Subscriber, Url] = run.args;
      const body: JsonObject = { Subscriber, Url };
      if (o.enabled) body.Enabled = true;
      if (o.state) body.States = listOption(o.state);
      if (o.role) body.Roles = listOption(o.role);
      if (o.subrole) body.SubRoles = listOption(o.subrole);
      if (o.swStatus) body.SoftwareStatus = o.swStatus;
      if (Object.keys(body).length === 2)
        throw new UsageError("give at least one trigger: --state, --role, --subrole, --sw-status or --enabled");
      output(run, await run.ctx.api().json("smd", "POST", "/Subscriptions/SCN", { body }), SCN_TABLE);
    },
  );
  withOutput(add);
  examples(add, ["ochami smd scn add --state Ready,Off --role Compute pcs http://pcs:28007/scn"]);

  const del = act<{ all?: boolean }, [ids: string[]]>(
    new Command("delete").description("delete subscriptions").argument("[id...]").option("-a, --all", "delete EVERY subscription"),
    async (run) => {
      const api = run.ctx.api();
      if (run.opts.all) {
        process.stderr.write(`${at(await api.json<unknown>("smd", "DELETE", "/Subscriptions/SCN"), "message")}\n`);
        return;
      }
      if (!run.args[0].length) throw new UsageError("give subscription IDs, or --all");
      for (const id of run.args[0]) await api.call("smd", "DELETE", `/Subscriptions/SCN/${parseInteger(id, "id")}`);
    },
  );
  examples(del, ["ochami smd scn delete 3", "ochami smd scn delete --all"]);

  return scn.addCommand(get).addCommand(add).addCommand(del);
}
