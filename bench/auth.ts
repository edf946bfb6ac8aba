/**
 * What auth costs per request, measured on the production runner (workerd + local D1):
 *   - a public route (the boot path's case) with auth on vs off: the policy lookup only;
 *   - a protected route with a token (ES256 verify + cached client check) vs auth off;
 *   - the token endpoint (PBKDF2 secret check + signing), sequentially.
 * Run: npx tsx bench/auth.ts [seconds-per-scenario=5] [concurrency=8]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startApiServer } from "../head-node/api-runner";
import { authVars, ensureAuthState } from "../head-node/auth-state";
import { freePort } from "../test/head-node/ports";

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 8);

async function load(url: string, headers: Record<string, string>) {
  const latencies: number[] = [];
  const end = Date.now() + seconds * 1000;
  const statuses = new Set<number>();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        const res = await fetch(url, { headers });
        await res.arrayBuffer();
        latencies.push(performance.now() - t);
        statuses.add(res.status);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(2);
  return { rps: Math.round(latencies.length / seconds), p50: q(0.5), p99: q(0.99), statuses: [...statuses].join(",") };
}

async function main() {
  const stateDir = mkdtempSync(path.join(tmpdir(), "au-bench-"));
  const state = await ensureAuthState(stateDir);
  const rows: Record<string, unknown>[] = [];
  try {
    for (const auth of ["off", "on"]) {
      const api = await startApiServer({
        port: await freePort(),
        stateDir,
        vars: { ...authVars(state), OCHAMI_AUTH: auth },
        onLog: () => {},
      });
      try {
        const tokenRes = await fetch(`${api.url}/token`, {
          method: "POST",
          headers: {
            authorization: `Basic ${Buffer.from(`${state.admin.client_id}:${state.admin.client_secret}`).toString("base64")}`,
            "content-type": "application/x-www-form-urlencoded",
          },
          body: "grant_type=client_credentials&scope=smd:read",
        });
        const token = ((await tokenRes.json()) as any).access_token as string;
        const bearer = { authorization: `Bearer ${token}` };
        rows.push({ auth, route: "public GET /hsm/v2/service/liveness", ...(await load(`${api.url}/hsm/v2/service/liveness`, {})) });
        rows.push({ auth, route: "public GET /hsm/v2/State/Components", ...(await load(`${api.url}/hsm/v2/State/Components`, {})) });
        rows.push({
          auth,
          route: "protected GET /hsm/v2/State/Components/{xname} + token",
          ...(await load(`${api.url}/hsm/v2/State/Components/x1000c0s0b0n0`, bearer)),
        });
        if (auth === "on") {
          const n = 40;
          const t = performance.now();
          for (let i = 0; i < n; i++) {
            const r = await fetch(`${api.url}/token`, {
              method: "POST",
              headers: {
                authorization: `Basic ${Buffer.from(`${state.admin.client_id}:${state.admin.client_secret}`).toString("base64")}`,
                "content-type": "application/x-www-form-urlencoded",
              },
              body: "grant_type=client_credentials",
            });
            await r.arrayBuffer();
          }
          rows.push({
            auth,
            route: `POST /token (sequential, ${n} requests)`,
            rps: Math.round((n * 1000) / (performance.now() - t)),
            p50: `${((performance.now() - t) / n).toFixed(2)} (mean)`,
          });
        }
      } finally {
        await api.stop();
      }
    }
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
  console.log(`auth bench: ${seconds} s per scenario, concurrency ${concurrency}, latencies in ms`);
  console.table(rows);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
