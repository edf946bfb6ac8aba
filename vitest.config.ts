import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { generateSigningKey } from "./shared/auth/keys";

/**
 * Four projects:
 *  - api:   handlers inside workerd with a real local D1 (@cloudflare/vitest-pool-workers);
 *           storage is fresh per test file, migrations applied by test/api/setup.ts.
 *  - unit:  pure code in Node (no process, socket or file it did not create): the fast loop.
 *  - node:  the runner and the CLI as processes, on ports the system picks and files of their
 *           own: two files at a time, once api and unit are done.
 *  - node-fixed: what binds fixed ports or makes named network namespaces (the on-prem agent's
 *           DHCP and TFTP, the end-to-end boots, a node in a namespace, conmand): one file at a
 *           time, last, so nothing runs beside a boot.
 * `npm run test:fast` runs api and unit; `npm test` runs all four.
 */
/** Node-side files that need the machine to themselves (see node-fixed above). */
const FIXED = ["test/agent/**/*.test.ts", "test/e2e/**/*.test.ts", "test/head-node/cloud-init-client.test.ts", "test/cli/generate.test.ts"];
const UNIT = [
  "test/shared/**/*.test.ts",
  "test/docs/**/*.test.ts",
  "test/agent/{dhcp-codec,dhcp-decide,json-array-stream}.test.ts",
  "test/cli/units.test.ts",
  "test/head-node/plan.test.ts",
];
export default defineConfig(async () => {
  const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));
  // A throwaway signing key, so the issuer routes (/token, JWKS) are configured as in production.
  const signingKey = JSON.stringify(await generateSigningKey());
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              main: "./workers/index.ts",
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: { TEST_MIGRATIONS: migrations, OCHAMI_AUTH: "off", OCHAMI_AUTH_SIGNING_KEY: signingKey },
              },
            }),
          ],
          test: {
            name: "api",
            include: ["test/api/**/*.test.ts"],
            setupFiles: ["./test/api/setup.ts"],
          },
        },
        {
          test: { name: "unit", include: UNIT, environment: "node" },
        },
        {
          test: {
            name: "node",
            include: ["test/{head-node,cli}/**/*.test.ts"],
            exclude: [...UNIT, ...FIXED],
            environment: "node",
            testTimeout: 60_000,
            hookTimeout: 120_000,
            // Two workerd processes and a client per file: two files fill two cores.
            maxWorkers: 2,
            sequence: { groupOrder: 1 },
          },
        },
        {
          test: {
            name: "node-fixed",
            include: FIXED,
            // The real-OS boot has its own step, `npm run test:os` (vitest.os.config.ts).
            exclude: [...UNIT, "test/e2e/os-*.test.ts"],
            environment: "node",
            testTimeout: 60_000,
            hookTimeout: 120_000,
            fileParallelism: false,
            sequence: { groupOrder: 2 },
          },
        },
      ],
    },
  };
});
