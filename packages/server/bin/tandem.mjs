#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx, so a fresh clone needs no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli.ts");
// Exit explicitly: a library timer left behind must not keep a stopped server alive.
process.exit(await main(process.argv.slice(2)));
