import type { DocumentMeta } from "./meta.ts";

/**
 * When to fold a document's log into its compacted state.
 *
 * A compaction rewrites the whole state, so compacting every N updates costs O(document) per N
 * updates: total work and bytes written grow with the square of the document's history. Instead
 * a document is compacted once its log is worth rewriting the state for, at least `ratio` of the
 * state's size, which keeps the bytes written per update flat however large the document grows.
 * Two bounds keep loading fast: nothing is compacted before `minUpdates` entries (tiny logs load
 * in no time), and a log of `maxUpdates` entries is compacted whatever its size (a cold load
 * applies it entry by entry).
 */
export interface CompactionPolicy {
  minUpdates: number;
  ratio: number;
  maxUpdates: number;
}

export function shouldCompact(
  meta: Pick<DocumentMeta, "tailCount" | "tailBytes" | "stateBytes">,
  policy: CompactionPolicy,
): boolean {
  if (meta.tailCount >= policy.maxUpdates) return true;
  return meta.tailCount >= policy.minUpdates && meta.tailBytes >= meta.stateBytes * policy.ratio;
}
