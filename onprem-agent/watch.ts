/**
 * `npm run watch`: nodes' boots as they happen, one line per step, from the API's boot history.
 *
 *   npm run watch [-- --node x1000c0s0b0n0,...] [--group compute] [--step kernel,initrd]
 *                    [--since 10m] [--once] [--json]
 *
 * Finds the API as the other head-node commands do (OCHAMI_URL, else what `npm start` recorded).
 * The history is public; `--group` reads SMD group members with the admin credential in
 * <state>/auth when there is one (scope smd:read).
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { DURATION_HINT, parseDuration } from "../shared/duration";
import { ApiClient, ApiError } from "./api-client";
import { BootLineFormatter, follow, type WatchFilter } from "./boot-watch";
import { adminCredentialFile, findHeadNode, readAdminCredential, stateDirOf } from "../shared/head-node-state";

const USAGE = "usage: npm run watch [-- --node <xname,...>] [--group <label,...>] [--step <step,...>] [--since 10m] [--once] [--json]";
const list = (values: string[] | undefined) =>
  (values ?? [])
    .flatMap((v) => v.split(","))
    .map((v) => v.trim())
    .filter(Boolean);

function duration(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`--since: '${text}' is not ${DURATION_HINT}`);
  return ms;
}

async function main() {
  const { values } = parseArgs({
    options: {
      node: { type: "string", multiple: true },
      group: { type: "string", multiple: true },
      step: { type: "string", multiple: true },
      since: { type: "string", default: "10m" },
      once: { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return console.log(USAGE);
  const stateDir = stateDirOf();
  const url = findHeadNode()?.url ?? `http://127.0.0.1:${process.env.PORT ?? 8081}`;
  const admin = existsSync(adminCredentialFile(stateDir)) ? readAdminCredential(stateDir) : undefined;
  const api = ApiClient.of({
    url,
    timeout: 15,
    auth: admin ? { clientId: admin.client_id, clientSecret: admin.client_secret, scope: "smd:read" } : undefined,
  });
  const history = ApiClient.of({ url, timeout: 15 });

  const filter: WatchFilter = { nodes: list(values.node), endpoints: list(values.step) };
  const groups = list(values.group);
  const resolveGroups = async () => {
    const members = new Set<string>();
    for (const g of groups) {
      const got = (await api.json("GET", `/hsm/v2/groups/${encodeURIComponent(g)}/members`)) as { ids?: string[] };
      for (const id of got.ids ?? []) members.add(id.toLowerCase());
    }
    filter.members = members;
  };
  if (groups.length) {
    await resolveGroups();
    // Nodes added to a group later are followed too.
    setInterval(() => void resolveGroups().catch(() => {}), 30_000).unref();
  }

  const abort = new AbortController();
  process.on("SIGINT", () => abort.abort());
  process.on("SIGTERM", () => abort.abort());
  const format = new BootLineFormatter();
  if (!values.once && !values.json) process.stderr.write(`following ${url}/boot/v1/endpoint-history (Ctrl-C to stop)\n`);
  await follow(
    {
      api: history,
      filter,
      sinceMs: Date.now() - duration(values.since!),
      pollMs: 1000,
      reorderMs: 1500,
      once: values.once!,
      signal: abort.signal,
      emit: (e) => process.stdout.write((values.json ? JSON.stringify(e) : format.line(e)) + "\n"),
    },
    (err) => process.stderr.write(`${err.message}; retrying\n`),
  );
}

main().catch((err) => {
  const known = err instanceof ApiError || (err as any)?.code?.startsWith?.("ERR_PARSE_ARGS") || /^--since/.test(err?.message);
  process.stderr.write(`${known ? err.message : (err?.stack ?? err)}\n${known ? USAGE + "\n" : ""}`);
  process.exit(1);
});
