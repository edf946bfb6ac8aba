/**
 * Start-up time of the `ochami` CLI: wall time of whole processes, as an admin or a script pays it.
 *   bundle      node bin/ochami.mjs (the package bin: stamp check, then the esbuild bundle)
 *   npx         npx ochami (npm's own start-up on top)
 *   tsx         the TypeScript sources under tsx (what the bundle avoids)
 *   node        `node -e 0`, the floor
 * Commands: --version (parsing only), config show (reads and prints the YAML config), and
 * smd status against a local HTTP server answering like SMD (one request).
 * Run: npx tsx bench/cli-startup.ts [runs=15]
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const runs = Number(process.argv[2] ?? 15);
const home = mkdtempSync(path.join(tmpdir(), "cl-bench-"));

/** Wall time of `runs` sequential runs (spawned asynchronously: the fake SMD answers from this process). */
async function time(argv: string[], env: NodeJS.ProcessEnv): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const p = spawn(argv[0], argv.slice(1), { env, cwd: root, stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      p.stderr.on("data", (d) => (err += d));
      p.on("error", reject);
      p.on("exit", (c) => resolve({ code: c, stderr: err }));
    });
    out.push(performance.now() - t);
    if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${stderr}`);
  }
  return out.sort((a, b) => a - b);
}

const fmt = (xs: number[]) => `median ${xs[Math.floor(xs.length / 2)].toFixed(0)} ms, best ${xs[0].toFixed(0)} ms`;

async function main() {
  const server = createServer((_req, res) =>
    res.writeHead(200, { "content-type": "application/json" }).end('{"code":0,"message":"HSM is healthy"}'),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  mkdirSync(path.join(home, ".config", "ochami"), { recursive: true });
  writeFileSync(
    path.join(home, ".config", "ochami", "config.yaml"),
    `clusters:\n  - name: demo\n    cluster:\n      uri: http://127.0.0.1:${port}\ndefault-cluster: demo\n`,
  );
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, OCHAMI_SYSTEM_CONFIG: path.join(home, "none.yaml") };
  delete env.XDG_CONFIG_HOME;
  delete env.XDG_CACHE_HOME;

  const bin = path.join(root, "bin", "ochami.mjs");
  // First run builds the bundle if the sources changed; not measured.
  spawnSync(process.execPath, [bin, "--version"], { env, cwd: root });
  const tsx = path.join(root, "node_modules", ".bin", "tsx");
  const main = path.join(root, "cli", "main.ts");
  const rows: Array<[string, number[]]> = [
    ["node -e 0 (floor)", await time([process.execPath, "-e", "0"], env)],
    ["bundle: ochami --version", await time([process.execPath, bin, "--version"], env)],
    ["bundle: ochami config show", await time([process.execPath, bin, "config", "show"], env)],
    ["bundle: ochami smd status (1 HTTP request)", await time([process.execPath, bin, "--no-token", "smd", "status"], env)],
    ["npx ochami --version", await time(["npx", "--no-install", "ochami", "--version"], env)],
    ["tsx cli/main.ts --version", await time([tsx, main, "--version"], env)],
  ];
  server.close();
  console.log(`ochami CLI start-up, ${runs} runs each (load average ${(await import("node:os")).loadavg()[0].toFixed(2)}):`);
  for (const [name, xs] of rows) console.log(`  ${name.padEnd(44)} ${fmt(xs)}`);
}

main()
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(home, { recursive: true, force: true }));
