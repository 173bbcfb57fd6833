#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, like packages/server/bin/tandem.mjs, so a fresh
// clone needs no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
// Exit explicitly: a provider's reconnect timer left behind must not keep the bench alive.
process.exit(await main(process.argv.slice(2)));
