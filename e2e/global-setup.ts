import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const EDITOR = join(ROOT, "apps/editor");

/** The newest modification time among files under `path` (node_modules and dist excluded). */
function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === "node_modules" || entry === "dist") continue;
    latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

/**
 * Builds the editor once before the tests, unless dist/ is newer than every source of the
 * editor and of the SDK it bundles. The tests serve dist/ from the real server.
 */
export default function globalSetup(): void {
  const built = join(EDITOR, "dist", "index.html");
  const sources = Math.max(newest(EDITOR), newest(join(ROOT, "packages/provider/src")));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  console.log("building the editor (pnpm --filter @tandem/editor build)");
  execFileSync("pnpm", ["--filter", "@tandem/editor", "build"], { cwd: ROOT, stdio: "inherit" });
}
