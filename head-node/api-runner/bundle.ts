import { readFile } from "node:fs/promises";
import path from "node:path";
import { build, type Plugin } from "esbuild";

/**
 * `import text from "./file?raw"`: the file's text as a string, as Vite (the worker tests) and
 * wrangler (`[[rules]]` in wrangler.toml) import it. The dashboard's browser files (workers/ui/static)
 * are served so, with no build step of their own.
 */
const rawText: Plugin = {
  name: "raw-text",
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (args) => ({
      path: path.resolve(args.resolveDir, args.path.slice(0, -"?raw".length)),
      namespace: "raw",
    }));
    b.onLoad({ filter: /.*/, namespace: "raw" }, async (args) => ({ contents: await readFile(args.path, "utf8"), loader: "text" }));
  },
};

/** Bundles the worker entry into one ES module, as wrangler would, in about 100 ms. */
export async function bundleWorker(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    write: false,
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["node:*", "cloudflare:*"],
    plugins: [rawText],
    minify: false,
    sourcemap: false,
    logLevel: "silent",
  });
  return out.outputFiles[0].text;
}
