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
  /**
   * A document with no append for this many ms is quiet: it is compacted if worth it
   * (shouldCompactWhenQuiet), as it is when the server unloads it and when the store closes,
   * so the next load reads one state. 0 (the default): only by the thresholds above.
   */
  quietMs?: number;
}

export function shouldCompact(
  meta: Pick<DocumentMeta, "tailCount" | "tailBytes" | "stateBytes">,
  policy: CompactionPolicy,
): boolean {
  if (meta.tailCount >= policy.maxUpdates) return true;
  return meta.tailCount >= policy.minUpdates && meta.tailBytes >= meta.stateBytes * policy.ratio;
}

/**
 * While a document is edited the thresholds above keep compaction cheap; once it goes quiet (or
 * unloads, or the server stops) a shorter log is worth folding in, since nothing else is
 * competing and the next cold load then applies one state instead of hundreds of entries. Tiny
 * tails against a large state are left alone, or every quiet moment would rewrite the state.
 */
export function shouldCompactWhenQuiet(meta: DocumentMeta): boolean {
  if (meta.tailCount < 2) return false;
  return meta.tailCount >= 100 || meta.tailBytes * 20 >= meta.stateBytes;
}
