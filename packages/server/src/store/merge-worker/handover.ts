import type { StoredDocument } from "../document-store.ts";
import type { Merged, WarmMerge } from "./warm-docs.ts";

export interface MergeRequest {
  id: number;
  document: StoredDocument;
  /** The document's state in parts (state-chunks.ts), when its `state` is null: joined there. */
  stateParts: Uint8Array[];
  /** Keep the merge for the document's next compaction; start from a kept one (warm-docs.ts). */
  warm?: WarmMerge;
}

export type MergeReply = ({ id: number } & Merged) | { id: number; error: string };

/**
 * The stored document as the merge thread receives it, and the buffers to transfer (hand over)
 * rather than copy: copying a 10 MB document costs the event loop tens of ms, transferring its
 * buffers a few. A LevelDB value owns its buffer, so it is handed over as it is; a view into a
 * shared or larger buffer (a Redis reply, Node's Buffer pool) is copied into one of its own.
 * The caller's views of transferred buffers are empty afterwards.
 */
export function handOver(
  stored: StoredDocument,
  stateParts: readonly Uint8Array[] = [],
): {
  document: StoredDocument;
  stateParts: Uint8Array[];
  transfer: ArrayBuffer[];
} {
  const transfer = new Set<ArrayBuffer>();
  const own = (part: Uint8Array): Uint8Array => {
    const { buffer } = part;
    const whole = part.byteOffset === 0 && part.byteLength === buffer.byteLength;
    if (whole && buffer instanceof ArrayBuffer && !transfer.has(buffer)) {
      transfer.add(buffer);
      return part;
    }
    const copy = part.slice();
    transfer.add(copy.buffer);
    return copy;
  };
  const document = {
    state: stored.state ? own(stored.state) : null,
    updates: stored.updates.map(own),
  };
  return { document, stateParts: stateParts.map(own), transfer: [...transfer] };
}

/** Bytes a stored document holds: what decides whether merging it is worth a thread. */
export function storedBytes(
  stored: StoredDocument,
  stateParts: readonly Uint8Array[] = [],
): number {
  let total = stored.state?.byteLength ?? 0;
  for (const update of stored.updates) total += update.byteLength;
  for (const part of stateParts) total += part.byteLength;
  return total;
}
