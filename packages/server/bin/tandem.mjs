#!/usr/bin/env node
// The `tandem` command.
//
// Installed from the registry (no src/ beside dist/), it runs the built JavaScript in dist/ with
// plain Node.js. In the repository (src/ is here), it runs the TypeScript sources through tsx, so
// a fresh clone needs no build step; the other @tandem/* packages then resolve to their sources
// as well, through the "@tandem/source" condition of their exports maps. TANDEM_RUN_DIST=1 runs
// dist/ even beside the sources (the bench measures what users install; build it first).
import { existsSync } from "node:fs";

const sources = new URL("../src/cli.ts", import.meta.url);

async function loadMain() {
  if (!existsSync(sources) || process.env.TANDEM_RUN_DIST === "1") {
    return (await import("../dist/cli.js")).main;
  }
  const { register } = await import("node:module");
  const hook = `export function resolve(specifier, context, next) {
    return next(specifier, { ...context, conditions: [...context.conditions, "@tandem/source"] });
  }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
  (await import("tsx/esm/api")).register();
  return (await import(sources.href)).main;
}

const main = await loadMain();
// Exit explicitly: a library timer left behind must not keep a stopped server alive.
process.exit(await main(process.argv.slice(2)));
