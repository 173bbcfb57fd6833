import { shouldCompact } from "@tandem/server";
import { describe, expect, it } from "vitest";

const meta = (tailCount: number, tailBytes: number, stateBytes: number) => ({
  seq: tailCount,
  stateSeq: 0,
  tailCount,
  tailBytes,
  stateBytes,
  createdAt: 0,
  updatedAt: 0,
});
const policy = { minUpdates: 500, ratio: 0.5, maxUpdates: 20_000 };

describe("compaction policy", () => {
  it("never compacts a short log", () => {
    expect(shouldCompact(meta(499, 10_000_000, 0), policy)).toBe(false);
  });

  it("compacts once the log is worth rewriting the state for", () => {
    expect(shouldCompact(meta(500, 4_999, 10_000), policy)).toBe(false);
    expect(shouldCompact(meta(500, 5_000, 10_000), policy)).toBe(true);
    // A large document waits for a proportionally larger log.
    expect(shouldCompact(meta(5_000, 100_000, 1_000_000), policy)).toBe(false);
    expect(shouldCompact(meta(5_000, 500_000, 1_000_000), policy)).toBe(true);
  });

  it("compacts a very long log whatever its size, so loads stay fast", () => {
    expect(shouldCompact(meta(20_000, 600_000, 50_000_000), policy)).toBe(true);
  });
});
