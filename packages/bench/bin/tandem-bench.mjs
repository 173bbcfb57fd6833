#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, like packages/server/bin/tandem.mjs, so a fresh
// clone needs no build step. Workspace packages (@tandem/server for the versions scenario's store)
// resolve to their sources through the "@tandem/source" condition of their exports maps.
import { register as registerHooks } from "node:module";
import { register } from "tsx/esm/api";

const hook = `export function resolve(specifier, context, next) {
  return next(specifier, { ...context, conditions: [...context.conditions, "@tandem/source"] });
}`;
registerHooks(`data:text/javascript,${encodeURIComponent(hook)}`);
register();
const { main } = await import("../src/cli.ts");
// Exit explicitly: a provider's reconnect timer left behind must not keep the bench alive.
process.exit(await main(process.argv.slice(2)));
