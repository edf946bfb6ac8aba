// Bundles the `ochami` CLI (cli/main.ts) with esbuild into <outdir>/ochami.mjs, so the
// command runs in plain node without a TypeScript loader (start-up: see README "CLI"). Code split:
// the Jinja engine and the progress bar load only in the commands that use them.
// Used by bin/ochami.mjs (on first run and after source changes) and `npm run build:cli`.

import path from "node:path";
import { build } from "esbuild";

export const root = path.resolve(import.meta.dirname, "..");

export async function buildCli(outdir = path.join(root, "dist/cli")) {
  await build({
    entryPoints: { ochami: path.join(root, "cli/main.ts") },
    outdir,
    bundle: true,
    splitting: true,
    platform: "node",
    format: "esm",
    target: "node20",
    minify: true,
    outExtension: { ".js": ".mjs" },
    logLevel: "warning",
    // The bundle runs from dist/ or a cache directory; this finds the checkout's head-node state.
    define: { OCHAMI_CHECKOUT: JSON.stringify(root) },
    // nunjucks' file watcher (chokidar/fsevents) is optional and never used here.
    external: ["chokidar", "fsevents"],
    // CommonJS dependencies call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  });
  return path.join(outdir, "ochami.mjs");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const out = await buildCli(process.argv[2] ? path.resolve(process.argv[2]) : undefined);
  console.error(`built ${path.relative(process.cwd(), out)}`);
}
