#!/usr/bin/env node
// Runs before `npm start` and `npm test`: on a fresh clone, installs the npm dependencies first.
// Plain Node with no dependency of its own, since it runs before there are any.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const pkg = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8"));
const wanted = { ...pkg.dependencies, ...pkg.devDependencies };

function installedVersion(name) {
  const file = path.join(root, "node_modules", name, "package.json");
  if (!existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")).version;
}

const missing = Object.entries(wanted).filter(([name, version]) => installedVersion(name) !== version);
const lock = path.join(root, "package-lock.json");
const marker = path.join(root, "node_modules", ".package-lock.json");
const lockNewer = existsSync(lock) && existsSync(marker) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000;

if (missing.length === 0 && !lockNewer) process.exit(0);
console.error(
  missing.length
    ? `Installing npm dependencies (${missing.length} missing or at another version, e.g. ${missing[0][0]})...`
    : "package-lock.json changed; updating npm dependencies...",
);
const args = existsSync(lock) ? ["ci", "--no-audit", "--no-fund"] : ["install", "--no-audit", "--no-fund"];
const r = spawnSync("npm", args, { cwd: root, stdio: "inherit" });
process.exit(r.status ?? 1);
