import { tempDir } from "@tandem/testkit";
import { afterAll, describe, expect, it } from "vitest";
import type { RunRecord } from "../src/report.ts";
import { runBench } from "../src/runner.ts";
import { sizesOf } from "../src/scenarios/index.ts";
import { soak } from "../src/scenarios/soak.ts";

/**
 * The soak for one minute at its small size (what `pnpm bench --scenario soak --tiny` runs):
 * 40 churning client seats on 4 documents, a server SIGKILL in the middle. Asserts outcomes and
 * a generous bound on growth, never timings; `pnpm bench --scenario soak --minutes 30` is the
 * real measurement.
 */
describe("soak, one minute", () => {
  let dir: { path: string; remove(): Promise<void> } | undefined;
  afterAll(async () => {
    await dir?.remove();
  });

  it("converges, loses nothing acknowledged, matches storage, and the server stays up without growing", async () => {
    dir = await tempDir("tandem-soak-test-");
    const outcome = await runBench({
      scenarios: [soak],
      servers: ["tandem"],
      runs: 1,
      params: { soak: sizesOf(soak, "tiny") },
      tracePath: null,
      outDir: dir.path,
      launch: {},
      progress: () => {},
    });
    const run = outcome.runs[0] as RunRecord;
    expect(run.error).toBeUndefined();
    expect(run.checks).toEqual({
      converged: true,
      all_acknowledged: true,
      no_acknowledged_lost: true,
      presence_matches: true,
      storage_matches: true,
      server_alive: true,
      bounded_growth: true,
    });
    expect(run.metrics.acked_lost).toBe(0);
    // Sessions came and went (40 seats, about one departure a second), edits were made.
    expect(run.metrics.sessions).toBeGreaterThan(60);
    expect(run.metrics.edits).toBeGreaterThan(100);
    // Samples from both server processes (before and after the restart), with every figure.
    const series = run.series ?? [];
    expect(new Set(series.map((s) => s.segment))).toEqual(new Set([0, 1]));
    for (const key of ["rssMiB", "heapMiB", "fds"]) {
      expect(
        series.every((s) => typeof s[key] === "number"),
        key,
      ).toBe(true);
    }
  }, 360_000);
});
