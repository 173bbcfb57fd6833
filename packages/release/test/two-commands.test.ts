import { copyFile, mkdir, readdir, readFile, rm, symlink } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import { tempDir } from "@tandem/testkit";
import { afterAll, describe, expect, it } from "vitest";
import { REPO, type Running, run, start, userEnv } from "./run.ts";

/**
 * The README's two commands on a fresh clone, on a PATH with Node.js and npm but no pnpm (or
 * corepack): the start command serves the editor, and the test command (limited to lint and
 * typecheck with TANDEM_TEST_STEPS: the whole suite would run this test again) passes. The full
 * test command is what .ci/run runs, which this checks too.
 *
 * The clone is of the committed HEAD with the working tree's changes laid over it (tracked and
 * untracked files git does not ignore), so uncommitted work is tested as it would be committed.
 * The machine's npm cache and pnpm store are used: fresh means no pnpm, no node_modules, no
 * build output, not a download of every dependency.
 */

const readme = await readFile(join(REPO, "README.md"), "utf8");

/** The command in the README's quick-start row that starts with `what`. */
function quickStart(what: string): string {
  const row = readme.split("\n").find((line) => line.startsWith(`| ${what}`));
  const command = row
    ?.split("|")[2]
    ?.trim()
    .match(/^`([^`]+)`$/)?.[1];
  if (!command) throw new Error(`README: no quick-start row "${what}" with a command`);
  return command;
}

/** A directory of links to every program on the PATH except pnpm and its installers. */
async function pathWithoutPnpm(dir: string): Promise<string> {
  await mkdir(dir);
  const left = new Set(["pnpm", "pnpx", "corepack"]);
  const seen = new Set<string>();
  for (const from of (process.env.PATH ?? "").split(delimiter)) {
    if (!from || from.includes("node_modules")) continue;
    let entries: string[];
    try {
      entries = await readdir(from);
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (left.has(entry) || seen.has(entry)) continue;
      seen.add(entry);
      await symlink(join(from, entry), join(dir, entry));
    }
  }
  return dir;
}

/** Clones the repository and lays the working tree's changes over the clone. */
async function freshClone(into: string): Promise<void> {
  await run("git", ["clone", "--quiet", REPO, into], { cwd: dirname(into) });
  const { stdout } = await run(
    "git",
    ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    { cwd: REPO },
  );
  for (const file of stdout.split("\0").filter(Boolean)) {
    const source = join(REPO, file);
    const target = join(into, file);
    try {
      await mkdir(dirname(target), { recursive: true });
      await copyFile(source, target);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      await rm(target, { force: true }); // deleted in the working tree
    }
  }
}

describe("the README's two commands on a fresh clone", () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("are npm start and npm test, and .ci/run runs exactly the test command", async () => {
    expect(quickStart("start the server")).toBe("npm start");
    expect(quickStart("run every test")).toBe("npm test");
    const ci = (await readFile(join(REPO, ".ci/run"), "utf8"))
      .split("\n")
      .filter((line) => line.trim() && !line.startsWith("#"));
    expect(ci.at(-1)).toBe(`exec ${quickStart("run every test")}`);
    expect(ci.slice(0, -1)).toEqual(["set -euo pipefail", 'cd "$(dirname "$0")/.."']);
  });

  it("start serves the editor; test passes (lint and typecheck); with only Node.js and npm", async () => {
    const temp = await tempDir("tandem-fresh-");
    cleanups.push(temp.remove);
    const clone = join(temp.path, "tandem");
    await freshClone(clone);
    const env = userEnv({ PATH: await pathWithoutPnpm(join(temp.path, "bin")) });
    await expect(run("sh", ["-c", "command -v pnpm"], { cwd: clone, env })).rejects.toThrow();

    const [npm, ...startArgs] = quickStart("start the server").split(" ");
    const server: Running = start(
      npm as string,
      [...startArgs, "--", "--port", "0", "--data", join(temp.path, "data")],
      { cwd: clone, env },
    );
    cleanups.push(() => server.stop("SIGKILL"));
    // Not a terminal: the server logs JSON lines, the listening one with its http:// address.
    const http = await server.waitForLine(
      "the server's listening line",
      (line) => line.match(/"http":"(http:\/\/[^"]+)".*"msg":"listening/)?.[1],
      240_000,
    );
    const page = await fetch(`${http}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("<title>");
    await server.stop("SIGTERM");

    const tests = quickStart("run every test").split(" ");
    const { stdout } = await run(tests[0] as string, tests.slice(1), {
      cwd: clone,
      env: { ...env, TANDEM_TEST_STEPS: "lint,typecheck" },
      timeoutMs: 300_000,
    });
    expect(stdout).toContain("[setup] passed: lint, typecheck");
  }, 600_000);
});
