import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { defaultClientConditions, defineConfig, type Plugin } from "vite";

/**
 * The service worker (public/sw.js) precaches the app shell. Which files make up the shell is
 * only known after the build (asset names carry content hashes), so this plugin writes the list
 * and a build version into dist/sw.js. A new build therefore changes sw.js, which is how the
 * browser notices an update: it installs the new worker, which caches the new files and drops
 * the old cache.
 */
function precacheManifest(): Plugin {
  const marker = /^const BUILD = .*;$/m;
  let outDir = "dist";
  return {
    name: "tandem-precache-manifest",
    apply: "build",
    configResolved(config) {
      outDir = join(config.root, config.build.outDir);
    },
    async writeBundle(_options, bundle) {
      const files = Object.keys(bundle)
        .filter((file) => !file.endsWith(".map") && file !== "sw.js")
        .sort();
      // The public files the page asks for, which Rollup's bundle does not list.
      const shell = [
        "/",
        ...files.map((file) => `/${file}`),
        "/favicon.svg",
        "/manifest.webmanifest",
      ];
      // The version hashes contents, not names: index.html keeps its name across builds.
      const hash = createHash("sha256");
      for (const file of files) {
        const output = bundle[file];
        if (!output) continue;
        hash.update(file).update(output.type === "chunk" ? output.code : output.source);
      }
      const version = hash.digest("hex").slice(0, 12);
      const path = join(outDir, "sw.js");
      const source = await readFile(path, "utf8");
      if (!marker.test(source))
        throw new Error("sw.js has no `const BUILD = ...;` line to fill in");
      const build = JSON.stringify({ version, files: [...new Set(shell)] });
      await writeFile(path, source.replace(marker, `const BUILD = ${build};`));
    },
  };
}

export default defineConfig({
  plugins: [precacheManifest()],
  // @tandem/provider from its TypeScript sources (the "@tandem/source" condition of its exports
  // map), so the editor builds and runs without building the SDK first.
  resolve: { conditions: ["@tandem/source", ...defaultClientConditions] },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    // One entry chunk and its static imports: no lazy chunks the service worker could miss.
    chunkSizeWarningLimit: 1024,
  },
  server: { port: 5173 },
});
