#!/usr/bin/env node
// Builds a published workspace package (protocol, provider, react, server) to dist/: ESM
// JavaScript, .d.ts types and source maps, with `tsc -p tsconfig.build.json` in its directory.
//
//   node scripts/build-package.mjs [--if-stale] [dir...]    (default: the current directory)
//
// A package compiles against the .d.ts of the workspace packages it depends on (its exports
// map's "types" condition), so those are built first, each only when its dist/ is missing or
// older than its sources. The packages named are always built afresh (dist/ removed first, so
// nothing stale is ever packed), unless --if-stale: then only when their dist/ is missing or
// older than their sources (the bench builds the server it runs this way). `pnpm pack` runs this
// in each package's prepack.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const TSC = createRequire(join(ROOT, "package.json")).resolve("typescript/bin/tsc");

const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));

/** Workspace package name -> its directory (packages/*). */
const workspace = new Map();
for (const entry of readdirSync(join(ROOT, "packages"))) {
  const manifest = join(ROOT, "packages", entry, "package.json");
  if (existsSync(manifest)) workspace.set(readJson(manifest).name, join(ROOT, "packages", entry));
}

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newest(join(path, entry))));
}

function fresh(dir) {
  const built = join(dir, "dist", "index.js");
  if (!existsSync(built)) return false;
  const inputs = ["src", "package.json", "tsconfig.build.json"].map((p) => newest(join(dir, p)));
  return statSync(built).mtimeMs >= Math.max(...inputs, newest(join(ROOT, "tsconfig.build.json")));
}

const done = new Set();
function build(dir, always) {
  if (done.has(dir)) return;
  done.add(dir);
  const manifest = readJson(join(dir, "package.json"));
  for (const [name, spec] of Object.entries(manifest.dependencies ?? {})) {
    const depDir = workspace.get(name);
    if (depDir && String(spec).startsWith("workspace:")) build(depDir, false);
  }
  if (!always && fresh(dir)) return;
  console.log(`building ${manifest.name} (tsc -p tsconfig.build.json)`);
  rmSync(join(dir, "dist"), { recursive: true, force: true });
  execFileSync(process.execPath, [TSC, "-p", join(dir, "tsconfig.build.json")], {
    cwd: dir,
    stdio: "inherit",
  });
}

const args = process.argv.slice(2);
const ifStale = args.includes("--if-stale");
const dirs = args.filter((arg) => arg !== "--if-stale");
for (const dir of dirs.length > 0 ? dirs : ["."]) build(resolve(dir), !ifStale);
