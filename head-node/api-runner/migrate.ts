import { spawn } from "node:child_process";
import path from "node:path";
import { repoRoot } from "../../shared/head-node-state";
import { quietWranglerEnv } from "./quiet-env";

/**
 * Applies pending D1 migrations to the local database with wrangler's own tool, so the state
 * directory stays readable by `wrangler d1 execute DB --local --persist-to <state>` and the
 * applied list lives in wrangler's `d1_migrations` table. Must run while workerd is stopped:
 * local D1 is one SQLite file that only one process may hold.
 */
export async function applyMigrations(stateDir: string, binding = "DB"): Promise<string> {
  const wrangler = path.join(repoRoot, "node_modules", "wrangler", "bin", "wrangler.js");
  const args = [wrangler, "d1", "migrations", "apply", binding, "--local", "--persist-to", stateDir];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: repoRoot,
      env: { ...quietWranglerEnv(stateDir), CI: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve(output) : reject(new Error(`wrangler d1 migrations apply failed (${code}):\n${output}`)),
    );
  });
}
