import { defineConfig } from "vitest/config";

/**
 * Inside the workspace, @tandem/* packages resolve to their TypeScript sources through the
 * "@tandem/source" condition of their exports maps (published, they are dist/). Vitest adds its
 * own conditions ("node", "development") after this one, for every environment, jsdom included.
 */
const SOURCE = "@tandem/source";

export default defineConfig({
  resolve: { conditions: [SOURCE] },
  ssr: { resolve: { conditions: [SOURCE] } },
  test: {
    include: ["packages/*/test/**/*.test.{ts,tsx}", "apps/*/test/**/*.test.ts"],
    // Tests start real servers and real LevelDB databases; on a 2-core machine
    // running too many files at once only adds contention, not speed.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 30_000,
  },
});
