// Builds the page with Vite twice (Yjs bundled, then Yjs left out as the app's own copy) and
// prints one JSON line per build: the JavaScript's bytes minified, and gzipped (level 9).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "vite";

for (const [name, external] of [
  ["with-yjs", []],
  ["without-yjs", ["yjs"]],
]) {
  const outDir = join("dist", name);
  const warnings = [];
  await build({
    configFile: false,
    logLevel: "silent",
    customLogger: {
      info() {},
      warn: (message) => warnings.push(message),
      warnOnce: (message) => warnings.push(message),
      error: (message) => warnings.push(message),
      clearScreen() {},
      hasErrorLogged: () => false,
      hasWarned: false,
    },
    build: { outDir, emptyOutDir: true, rollupOptions: { external } },
  });
  const assets = join(outDir, "assets");
  const code = readdirSync(assets)
    .filter((file) => file.endsWith(".js"))
    .map((file) => readFileSync(join(assets, file)));
  const min = code.reduce((sum, chunk) => sum + chunk.length, 0);
  const gzip = gzipSync(Buffer.concat(code), { level: 9 }).length;
  console.log(JSON.stringify({ build: name, min, gzip, warnings }));
}
