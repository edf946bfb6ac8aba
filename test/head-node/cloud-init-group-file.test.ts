import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "../../head-node/api-runner";
import { nodeAt, seedNodes } from "../agent/smd-seed";
import { freePort } from "./ports";

/**
 * A large base64 group file served to every member of its group, by the API as `npm start` runs
 * it (workerd, the boot snapshot): each node gets the file's bytes, and the API's memory does not
 * grow with members × file size. (Each member's answer was kept with a copy of the decoded file:
 * 800 nodes fetching a 1 MiB file took the process from 146 to 1,091 MB, and 52 s, decoding it
 * for each.)
 */
const MEMBERS = 600;
const PROXY_SECRET = "group-file-test-proxy-secret-0123456789abcdef";

describe("a large base64 group file served to every member", () => {
  let stateDir = "";
  let api: ApiServer;
  const file = randomBytes(1024 * 1024);
  const nodes = Array.from({ length: MEMBERS }, (_, i) => nodeAt(i, `10.77.${i >> 8}.${i & 0xff}`));

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "ochami-group-file-"));
    api = await startApiServer({
      port: await freePort(),
      stateDir,
      vars: {
        OCHAMI_AUTH: "off",
        OCHAMI_TRUSTED_PROXIES: "127.0.0.1",
        OCHAMI_PROXY_SECRET: PROXY_SECRET,
        OCHAMI_BOOT_SNAPSHOT: "exclusive",
      },
      onLog: () => {},
    });
    await seedNodes(api.url, nodes);
    const post = async (p: string, body: unknown) => {
      const res = await fetch(`${api.url}${p}`, { method: "POST", body: JSON.stringify(body) });
      expect(res.status, await res.text()).toBeLessThan(300);
    };
    await post("/hsm/v2/groups", { label: "compute", members: { ids: nodes.map((n) => n.xname) } });
    await post("/cloud-init/admin/groups", { name: "compute", file: { content: file.toString("base64"), encoding: "base64" } });
  }, 120_000);
  afterAll(async () => {
    await api?.stop();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  const rssMb = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${api.process.pid}/status`, "utf8"))![1]) / 1024;

  it("gives each node the file's bytes, in memory that does not grow with the members", async () => {
    const want = createHash("sha256").update(file).digest("hex");
    const fetchAs = async (ip: string) => {
      const res = await fetch(`${api.url}/cloud-init/compute.yaml`, {
        headers: { "X-Ochami-Proxy-Secret": PROXY_SECRET, "X-Forwarded-For": ip },
      });
      expect(res.status).toBe(200);
      return createHash("sha256")
        .update(new Uint8Array(await res.arrayBuffer()))
        .digest("hex");
    };
    expect(await fetchAs(nodes[0].ip)).toBe(want); // the snapshot is built, the file decoded
    const before = rssMb();
    let next = 0;
    const digests = new Set<string>();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < nodes.length) digests.add(await fetchAs(nodes[next++].ip));
      }),
    );
    expect([...digests]).toEqual([want]);
    // A copy per member would be 600 MB more; what remains is garbage not yet collected.
    expect(rssMb() - before).toBeLessThan(300);
  }, 120_000);
});
