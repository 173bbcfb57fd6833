#!/usr/bin/env node
// Starts one baseline launcher (src/servers/NAME.ts) through tsx, the same way Tandem's own bin runs
// its sources, so every server under test pays the same loader cost.
import { register } from "tsx/esm/api";

const name = process.argv[2];
if (!name || !/^[a-z-]+$/.test(name)) {
  process.stderr.write("usage: launch-server.mjs NAME (a file in src/servers/)\n");
  process.exit(2);
}
register();
await import(`../src/servers/${name}.ts`);
