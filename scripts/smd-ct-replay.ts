/**
 * Replays a table of upstream SMD's CT stages (the tavern files under test/ct/api in
 * OpenCHAMI/smd, one line per stage: file, method, URL, expected status, expected body fragment,
 * request body; tab-separated) against our SMD in workerd on a fresh database, in order, and
 * counts the stages answered with upstream's status.
 *
 * A stage is replayable when its URL names no tavern variable (`{xname}`), its expected status is
 * one integer and its body is complete JSON (or none); the others are counted and skipped. A body
 * may still hold a variable inside a string (`"{key_data_0.ID}"`): it is sent as written, as a
 * client naming an unknown key would.
 *
 * With `--openchami`, the stages where OpenCHAMI's copy of the tests expects otherwise than the
 * table (which follows Cray-HPE/hms-smd's) take OpenCHAMI's expectation: a wrong method on
 * /service/{ready,liveness,values} is 405, not 404; a lock status query matching no component is
 * a 400; `DELETE …/HardwareByFRU/History/#` is a 404, not a redirect; and the two stages
 * OpenCHAMI dropped (a PUT of a deleted Redfish endpoint expecting 404) are skipped. The SCN files
 * OpenCHAMI dropped stay, but a PUT on the subscription collection is a 405 under OpenCHAMI's
 * router, as every other wrong method.
 *
 *   npx tsx scripts/smd-ct-replay.ts <stages.tsv> [--list] [--openchami]   (--list prints every mismatch)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startApiServer } from "../head-node/api-runner";
import { freePort } from "../test/head-node/ports";

interface Stage {
  file: string;
  method: string;
  url: string;
  status: number;
  detail: string;
  body: string;
}

const VARIABLE = /\{[A-Za-z_][A-Za-z0-9_.[\]]*\}/;

/** OpenCHAMI's expectation where it differs: [file, method, url, table's status, OpenCHAMI's status or "drop"]. */
const OPENCHAMI: ReadonlyArray<readonly [string, string, string, string, number | "drop"]> = [
  ...["ready", "liveness", "values"].flatMap((p) =>
    ["POST", "PATCH", "PUT", "DELETE"].map(
      (m) => ["3-disruptive/test_service_negative.tavern.yaml", m, `/hsm/v2/service/${p}`, "404", 405] as const,
    ),
  ),
  ["3-disruptive/test_locks.tavern.yaml", "GET", "/hsm/v2/locks/status?type=Partition", "200", 400],
  ["4-destructive-initial/test_hardware_history.tavern.yaml", "DELETE", "/hsm/v2/Inventory/HardwareByFRU/History/#", "301", 404],
  ["3-disruptive/test_state_change_notifications_negative.tavern.yaml", "PUT", "/hsm/v2/Subscriptions/SCN", "404", 405],
  ["3-disruptive/test_redfish_endpoints.tavern.yaml", "PUT", "/hsm/v2/Inventory/RedfishEndpoints/x9999c7s99b93", "404", "drop"],
  ["3-disruptive/test_redfish_endpoints_negative.tavern.yaml", "PUT", "/hsm/v2/Inventory/RedfishEndpoints/x9999c7s99b91", "404", "drop"],
];

function parseStages(text: string, openchami: boolean): { replayable: Stage[]; skipped: number } {
  const replayable: Stage[] = [];
  let skipped = 0;
  const corrected = new Set<(typeof OPENCHAMI)[number]>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const [file, method, url, tableStatus, detail = "", body = ""] = line.split("\t");
    let status = tableStatus;
    // The first matching stage only: the lock status query is repeated later, with components.
    const fix = openchami
      ? OPENCHAMI.find((o) => !corrected.has(o) && o[0] === file && o[1] === method && o[2] === url && o[3] === tableStatus)
      : undefined;
    if (fix) {
      corrected.add(fix);
      if (fix[4] === "drop") continue;
      status = String(fix[4]);
    }
    if (VARIABLE.test(url) || !/^[0-9]+$/.test(status) || !completeJson(body)) {
      skipped++;
      continue;
    }
    replayable.push({ file, method, url, status: Number(status), detail, body });
  }
  return { replayable, skipped };
}

function completeJson(body: string): boolean {
  if (body === "") return true;
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

async function main() {
  const [tsv, ...flags] = process.argv.slice(2);
  if (!tsv) throw new Error("usage: smd-ct-replay.ts <stages.tsv> [--list] [--openchami]");
  const { replayable, skipped } = parseStages(readFileSync(tsv, "utf8"), flags.includes("--openchami"));
  const stateDir = mkdtempSync(path.join(tmpdir(), "smd-ct-"));
  const api = await startApiServer({ port: await freePort(), stateDir, vars: { OCHAMI_AUTH: "off" }, onLog: () => {} });
  const byFile = new Map<string, { pass: number; total: number }>();
  const misses: string[] = [];
  try {
    for (const s of replayable) {
      const res = await fetch(api.url + s.url, {
        method: s.method,
        body: s.body === "" ? undefined : s.body,
        headers: s.body === "" ? {} : { "content-type": "application/json" },
      });
      const text = await res.text();
      const tally = byFile.get(s.file) ?? { pass: 0, total: 0 };
      tally.total++;
      if (res.status === s.status) tally.pass++;
      else misses.push(`${s.file}\t${s.method} ${s.url}\twant ${s.status} got ${res.status}\t${text.slice(0, 160)}`);
      byFile.set(s.file, tally);
    }
  } finally {
    await api.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
  const pass = [...byFile.values()].reduce((n, t) => n + t.pass, 0);
  for (const [file, t] of byFile) console.log(`${String(t.pass).padStart(4)} / ${String(t.total).padEnd(4)} ${file}`);
  if (flags.includes("--list")) for (const m of misses) console.log(m);
  console.log(`\n${pass} of ${replayable.length} replayable stages answered as upstream (${skipped} not replayable)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
