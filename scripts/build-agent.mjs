// Bundles the on-prem agent into dist/agent.mjs (esbuild, well under a second) so `npm run agent`
// runs plain node: no TypeScript loader thread in the process, which costs ~40 MB RSS under tsx.
// koffi stays external: it loads its prebuilt native module from node_modules at run time.

import path from "node:path";
import { build } from "esbuild";

const root = path.resolve(import.meta.dirname, "..");
await build({
  entryPoints: [path.join(root, "onprem-agent/main.ts")],
  outfile: path.join(root, "dist/agent.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  external: ["koffi"],
  logLevel: "warning",
  // CommonJS dependencies call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
