#!/usr/bin/env node
// The `ochami` command (package.json "bin"): runs the esbuild bundle of cli/ in plain node. The
// bundle lives in dist/cli/<stamp>/, where <stamp> hashes the checkout's path (built into the
// bundle) and the sources' paths, sizes and modification times: a fresh checkout or an edited
// source is bundled once (about a second), every later run starts straight from the bundle.
// Builds go to a temporary directory renamed into place, so concurrent first runs never see half a
// bundle. When dist/ is not writable (an installed read-only tree), the bundle goes to
// $XDG_CACHE_HOME/ochami/cli.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const SOURCES = ["cli", "shared", "package.json", "package-lock.json", "scripts/build-cli.mjs"];

function stamp() {
  const hash = createHash("sha1").update(`${root}\n`);
  const visit = (rel) => {
    const abs = path.join(root, rel);
    let st;
    try {
      st = statSync(abs);
    } catch {
      return;
    }
    if (st.isDirectory()) {
      for (const name of readdirSync(abs).sort()) visit(path.join(rel, name));
    } else {
      hash.update(`${rel}\0${st.size}\0${st.mtimeMs}\n`);
    }
  };
  SOURCES.forEach(visit);
  return hash.digest("hex").slice(0, 16);
}

async function ensureBundle(base, id) {
  const dir = path.join(base, id);
  const entry = path.join(dir, "ochami.mjs");
  if (existsSync(entry)) return entry;
  mkdirSync(base, { recursive: true });
  const tmp = path.join(base, `.build-${id}-${process.pid}`);
  const { buildCli } = await import(pathToFileURL(path.join(root, "scripts/build-cli.mjs")).href);
  await buildCli(tmp);
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another run finished first: use its bundle
  }
  // Older bundles are stale now.
  for (const name of readdirSync(base))
    if (name !== id && !name.startsWith(".build-")) rmSync(path.join(base, name), { recursive: true, force: true });
  return entry;
}

// A failure here (no esbuild, a disk full, a broken bundle) is one line and exit 1, as every
// error of the CLI itself; never a stack trace (OCHAMI_DEBUG=1 shows it).
try {
  const id = stamp();
  let entry;
  try {
    entry = await ensureBundle(path.join(root, "dist", "cli"), id);
  } catch (err) {
    if (!["EACCES", "EROFS", "EPERM"].includes(err?.code)) throw err;
    const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
    entry = await ensureBundle(path.join(cache, "ochami", "cli"), id);
  }
  await import(pathToFileURL(entry).href);
} catch (err) {
  process.stderr.write(`error: cannot start the ochami CLI from ${root}: ${String(err?.message ?? err).split("\n")[0]}\n`);
  if (process.env.OCHAMI_DEBUG) process.stderr.write(`${err?.stack ?? ""}\n`);
  process.exitCode = 1;
}
