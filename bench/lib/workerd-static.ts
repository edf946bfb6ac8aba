/**
 * The platform's own floor, an anchor of bench/storm.ts: workerd, run as `npm start` runs the API
 * (the same binary and V8 flags, one process, plain `http = ()` socket), with a worker that does
 * nothing but answer each file under a directory from memory. What the API costs above it is what
 * our code costs; what it costs above nginx is what workerd costs, and no change of ours can win
 * that back.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { type Config, serializeConfig } from "miniflare";
import { API_V8_FLAGS } from "../../head-node/api-runner/workerd-config";
import { readWorkerSettings } from "../../head-node/api-runner/wrangler-config";

const require = createRequire(import.meta.url);

const WORKER = `import files from "files.json";
const bodies = new Map(Object.entries(files));
export default {
  fetch(request) {
    const body = bodies.get(new URL(request.url).pathname);
    return body === undefined
      ? new Response(null, { status: 404 })
      : new Response(body, { headers: { "content-type": "text/plain" } });
  },
};
`;

/** Serves every file under `dir` at its relative path on 127.0.0.1:`port` (the caller waits for it to answer). */
export function startWorkerdStatic(dir: string, port: number): ChildProcess {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const full = path.join(entry.parentPath, entry.name);
    files[`/${path.relative(dir, full)}`] = readFileSync(full, "utf8");
  }
  const config: Config = {
    services: [
      {
        name: "files",
        worker: {
          modules: [
            { name: "worker.js", esModule: WORKER },
            { name: "files.json", json: JSON.stringify(files) },
          ],
          compatibilityDate: readWorkerSettings().compatibilityDate,
        },
      },
    ],
    sockets: [{ name: "http", address: `127.0.0.1:${port}`, http: {}, service: { name: "files" } }],
    v8Flags: API_V8_FLAGS,
  };
  const workerd: string = require("workerd").default ?? require("workerd");
  const child = spawn(workerd, ["serve", "--binary", "-"], { stdio: ["pipe", "ignore", "inherit"] });
  child.stdin!.end(Buffer.from(serializeConfig(config)));
  return child;
}
