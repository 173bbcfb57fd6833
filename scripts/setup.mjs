#!/usr/bin/env node
// The README's two commands, on a machine with only Node.js and npm:
//
//   npm start    installs what is missing, builds the editor, starts the server with it
//   npm test     installs what is missing, runs every test (lint, types, unit, end-to-end)
//
// (`pnpm start` and `pnpm test` do the same.) What is "missing": pnpm (the version in
// package.json's packageManager, installed into .tools/ when the PATH has no pnpm 10), the
// dependencies (`pnpm install --frozen-lockfile`), and for the tests Debian packages: chromium
// (unless CHROMIUM_PATH names a browser), redis-server, postgresql, nginx and openssl. Those
// are installed with apt-get when we run as root on a machine that has it; otherwise this stops
// at once and prints the command to run.
//
//   npm start -- --port 0 --data /tmp/tandem   options after `--` go to `tandem serve`
//   TANDEM_TEST_STEPS=lint,typecheck npm test  only some steps (lint, typecheck, unit, release, e2e)
//
// Plain Node.js with no dependencies: it runs before anything is installed.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const MANIFEST = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const PNPM_VERSION = MANIFEST.packageManager.replace(/^pnpm@/, "");
const TOOLS = join(ROOT, ".tools");
const STEPS = {
  lint: ["lint"],
  typecheck: ["typecheck"],
  unit: ["test:unit"],
  // On their own after the unit tests: packing, npm install and builds would only slow the
  // timing-sensitive unit tests down.
  release: ["test:release"],
  e2e: ["test:e2e"],
};

function fail(message) {
  console.error(`\n${message}`);
  process.exit(1);
}

function say(message) {
  console.log(`[setup] ${message}`);
}

/** Runs a command to its end with inherited output; exits with its code if it fails. */
function must(command, args, env = process.env) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: "inherit", env });
  if (result.error) fail(`${command} ${args.join(" ")}: ${result.error.message}`);
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function checkNode() {
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    fail(`Tandem needs Node.js 20.19 or newer; this is ${process.version}.`);
  }
}

/** The Debian packages the chosen test steps need and do not find. */
function missingPackages(steps) {
  const need = [];
  const has = (path) => existsSync(path);
  const onPath = (name) =>
    (process.env.PATH ?? "").split(delimiter).some((dir) => dir && has(join(dir, name)));
  if (steps.includes("unit")) {
    // The cluster tests start their own Redis and PostgreSQL on free ports in temp directories
    // (packages/testkit/src/engines.ts); the TLS tests make a certificate with openssl; the
    // reverse-proxy tests run nginx. None of them use the system services.
    if (!onPath("openssl")) need.push("openssl");
    if (!has(process.env.TANDEM_REDIS_SERVER ?? "/usr/bin/redis-server")) need.push("redis-server");
    const postgres = process.env.TANDEM_POSTGRES_BIN ?? "/usr/lib/postgresql/15/bin";
    if (!has(join(postgres, "initdb"))) need.push("postgresql");
    if (!has("/usr/sbin/nginx") && !onPath("nginx")) need.push("nginx");
  }
  if (steps.includes("e2e")) {
    // Playwright cannot download a browser here: it uses $CHROMIUM_PATH, else Debian's chromium.
    const chromium = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
    if (!has(chromium)) {
      if (process.env.CHROMIUM_PATH) fail(`CHROMIUM_PATH=${chromium}: no such file.`);
      need.push("chromium");
    }
  }
  return need;
}

function installPackages(need) {
  if (need.length === 0) return;
  const command = `apt-get update && apt-get install -y ${need.join(" ")}`;
  const root = process.getuid?.() === 0;
  const apt = existsSync("/usr/bin/apt-get");
  if (!root || !apt) {
    const how = apt
      ? `sudo sh -c '${command}'`
      : `your system's packages for: ${need.join(", ")} (Debian: ${command})`;
    const browser = need.includes("chromium")
      ? "\n(or point CHROMIUM_PATH at a Chromium or Chrome you already have)"
      : "";
    fail(
      `The tests need ${need.join(", ")}, which this machine does not have. Install:\n\n  ${how}\n${browser}\nthen run the same command again.`,
    );
  }
  say(`installing ${need.join(" ")} with apt-get`);
  // Keep apt from starting the packages' own services (Redis on 6379, a PostgreSQL cluster on
  // 5432, nginx on 80): the tests do not use them; they would only take memory and ports.
  const policy = "/usr/sbin/policy-rc.d";
  const addPolicy = !existsSync(policy);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const script = [
    addPolicy ? `printf '#!/bin/sh\\nexit 101\\n' > ${policy} && chmod +x ${policy}` : "true",
    `apt-get update -qq && apt-get install -y -qq ${need.join(" ")}`,
  ].join(" && ");
  const result = spawnSync("sh", ["-c", script], { stdio: "inherit", env });
  if (addPolicy) spawnSync("rm", ["-f", policy]);
  if (result.status !== 0) fail(`apt-get install ${need.join(" ")} failed.`);
}

function pnpmVersion(env) {
  const result = spawnSync("pnpm", ["--version"], { env, encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : undefined;
}

/** An environment whose PATH has pnpm 10: the machine's own, else one installed in .tools/. */
function withPnpm() {
  const local = join(TOOLS, "node_modules", ".bin");
  const withLocal = { ...process.env, PATH: `${local}${delimiter}${process.env.PATH ?? ""}` };
  if (existsSync(join(local, "pnpm"))) return withLocal;
  const found = pnpmVersion(process.env);
  if (found?.startsWith("10.")) return process.env;
  say(
    `installing pnpm ${PNPM_VERSION} into .tools/ (found ${found ? `pnpm ${found}` : "no pnpm"})`,
  );
  must("npm", [
    "install",
    "--prefix",
    TOOLS,
    "--no-save",
    "--no-audit",
    "--no-fund",
    "--no-package-lock",
    `pnpm@${PNPM_VERSION}`,
  ]);
  if (pnpmVersion(withLocal) !== PNPM_VERSION) fail("pnpm did not install into .tools/.");
  return withLocal;
}

/** Runs `command` until it ends; SIGINT and SIGTERM go to it, and its exit code is ours. */
function handOver(command, args, env) {
  const child = spawn(command, args, { cwd: ROOT, stdio: "inherit", env });
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
}

const [mode, ...rest] = process.argv.slice(2);
checkNode();
if (mode === "start") {
  const env = withPnpm();
  must("pnpm", ["install", "--frozen-lockfile"], env);
  must("pnpm", ["--filter", "@tandem/editor", "build"], env);
  const bin = join(ROOT, "packages/server/bin/tandem.mjs");
  handOver(process.execPath, [bin, "serve", "--static-dir", "apps/editor/dist", ...rest], env);
} else if (mode === "test") {
  const chosen = (process.env.TANDEM_TEST_STEPS ?? Object.keys(STEPS).join(","))
    .split(",")
    .map((step) => step.trim())
    .filter(Boolean);
  const unknown = chosen.filter((step) => !(step in STEPS));
  if (unknown.length > 0 || rest.length > 0) {
    fail(`TANDEM_TEST_STEPS takes ${Object.keys(STEPS).join(", ")}; got ${[...unknown, ...rest]}`);
  }
  installPackages(missingPackages(chosen));
  const env = withPnpm();
  must("pnpm", ["install", "--frozen-lockfile"], env);
  for (const step of chosen) {
    say(`${step}: pnpm ${STEPS[step].join(" ")}`);
    must("pnpm", STEPS[step], env);
  }
  say(`passed: ${chosen.join(", ")}`);
} else {
  fail("usage: node scripts/setup.mjs start [tandem serve options] | test");
}
