import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tempDir } from "@tandem/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { REPO, type Running, run, start } from "./run.ts";

/**
 * What a user of the registry gets: the published packages packed with `pnpm pack` (whose
 * prepack builds dist/), installed with npm into an app outside the workspace, then used the
 * ways the README says: the `tandem` bin with plain Node.js, the SDK from a plain Node.js script,
 * every package's types under `tsc --strict` without skipLibCheck, the SDK in a Vite browser
 * build. It prints the SDK's browser bundle size (`pnpm size` runs this file alone).
 *
 * It needs the npm registry for the app's other dependencies, pinned to the versions the
 * workspace uses (typescript, vite, yjs, ws, react and their types).
 */

const PACKAGES = ["protocol", "schema", "provider", "react", "server"] as const;
const APP_DEPENDENCIES = [
  "yjs@13.6.33",
  "ws@8.23.0",
  "react@19.3.1",
  "typescript@5.9.3",
  "vite@8.3.8",
  "@types/node@20.19.43",
  "@types/react@19.3.3",
];

interface SizeLine {
  build: string;
  min: number;
  gzip: number;
  warnings: string[];
}

describe("the packed packages, installed with npm in a plain app", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("install, serve, sync from Node.js, type-check and bundle for the browser", async () => {
    const temp = await tempDir("tandem-packages-");
    cleanups.push(temp.remove);
    const packs = join(temp.path, "packs");
    const app = join(temp.path, "app");

    // Packed one by one in dependency order; each prepack builds its package (and, when stale,
    // the workspace packages it depends on).
    for (const name of PACKAGES) {
      await run("pnpm", ["pack", "--pack-destination", packs], {
        cwd: join(REPO, "packages", name),
        env: { ...process.env, NODE_OPTIONS: "" },
        timeoutMs: 180_000,
      });
    }
    const tarballs = (await readdir(packs)).filter((file) => file.endsWith(".tgz")).sort();
    expect(tarballs).toEqual(PACKAGES.map((name) => `tandem-${name}-0.1.0.tgz`).sort());
    for (const tarball of tarballs) {
      const { stdout } = await run("tar", ["tzf", join(packs, tarball)], { cwd: packs });
      const files = stdout.trim().split("\n");
      expect(files, tarball).toContain("package/dist/index.js");
      expect(files, tarball).toContain("package/dist/index.d.ts");
      expect(files, tarball).toContain("package/dist/index.js.map");
      expect(files, tarball).toContain("package/LICENSE");
      expect(
        files.filter((file) => file.startsWith("package/src/")),
        tarball,
      ).toEqual([]);
    }

    await cp(new URL("../app", import.meta.url), app, { recursive: true });
    await writeFile(
      join(app, "package.json"),
      JSON.stringify({ name: "tandem-app", private: true, type: "module" }),
    );
    await run(
      "npm",
      [
        "install",
        "--no-audit",
        "--no-fund",
        "--prefer-offline",
        ...tarballs.map((tarball) => join(packs, tarball)),
        ...APP_DEPENDENCIES,
      ],
      { cwd: app, timeoutMs: 240_000 },
    );

    // One Yjs in the app: the SDK and its bindings take the app's copy (a peer dependency).
    const yjs = JSON.parse((await run("npm", ["query", "#yjs"], { cwd: app })).stdout) as unknown[];
    expect(yjs).toHaveLength(1);
    // No TypeScript runner came along: the bin runs dist/ with plain Node.js.
    const tsx = JSON.parse((await run("npm", ["query", "#tsx"], { cwd: app })).stdout) as unknown[];
    expect(tsx).toEqual([]);

    const server: Running = start(
      join(app, "node_modules/.bin/tandem"),
      ["serve", "--port", "0", "--data", join(temp.path, "data"), "--log-format", "json"],
      { cwd: app },
    );
    cleanups.push(() => server.stop("SIGKILL"));
    const url = await server.waitForLine(
      "the server's listening line",
      (line) => {
        const parsed = parseJson(line);
        return typeof parsed?.msg === "string" && parsed.msg.startsWith("listening")
          ? String(parsed.url)
          : undefined;
      },
      60_000,
    );

    const first = await run("node", ["sync.mjs", url], { cwd: app, timeoutMs: 30_000 });
    expect(first.stdout.trim().split("\n")).toEqual(["text: ", "stored"]);
    const second = await run("node", ["sync.mjs", url], { cwd: app, timeoutMs: 30_000 });
    expect(second.stdout.trim().split("\n")).toEqual(["text: synced from the package. ", "stored"]);
    expect(first.stderr + second.stderr).toBe("");

    await run(join(app, "node_modules/.bin/tsc"), ["-p", "."], { cwd: app, timeoutMs: 120_000 });

    const built = await run("node", ["build.mjs"], { cwd: app, timeoutMs: 120_000 });
    const sizes = built.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as SizeLine);
    expect(sizes.map((size) => [size.build, size.warnings])).toEqual([
      ["with-yjs", []],
      ["without-yjs", []],
    ]);
    const page = await readFile(join(app, "dist/with-yjs/index.html"), "utf8");
    expect(page).toMatch(/<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js">/);
    const kB = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;
    console.log(
      [
        "@tandem/provider in a Vite browser build (all of its exports; minified, gzip -9):",
        ...sizes.map(
          (size) =>
            `  ${size.build === "with-yjs" ? "with Yjs   " : "without Yjs"}  ${kB(size.min)} minified, ${kB(size.gzip)} gzip`,
        ),
      ].join("\n"),
    );

    expect(await server.stop("SIGTERM")).toBe(0);
  }, 600_000);
});

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
