import * as Y from "yjs";
import { nextDocGuid } from "../../documents/doc-guid.ts";
import type { StoredDocument } from "../document-store.ts";
import { applyStoredDocument } from "../merge.ts";
import { withStateParts } from "../state-chunks.ts";

/**
 * What the merge thread keeps between two compactions of one document: the Y.Doc it merged, so
 * the next compaction applies only the log written since instead of the whole state again.
 *
 * A compaction in the thread applied the state and the log to a new Y.Doc and encoded it. For a
 * document edited at scattered places the state is the costly part: 331 KB in 20,000 structs
 * took 53-72 ms to apply, the 10,000 log entries after it 31-45 ms, the encoding 7-10 ms
 * (scratch benchmark). While a document is being written, every compaction paid that for the
 * whole document again.
 *
 * The store names the merge it wants kept (`keep`) and, the next time, the kept merge to start
 * from (`from`): a key given out once in the process (merge-worker.ts's newMergeKey: the thread
 * serves every store the process opens), recorded with the state it was kept for, so a key can
 * never stand for another document or an older state of this one. If the thread no longer has
 * it (evicted, or the thread was restarted), the merge starts from the state the request carries
 * anyway: a kept merge is only ever a shortcut.
 */
export interface WarmMerge {
  /** The kept merge to start from, if the store has one for the document's current state. */
  from: number | null;
  /** The key to keep this merge under. */
  keep: number;
}

/** What a merge gives: `reused` and `kept` as in mergeWarm (both false for any other merge). */
export interface Merged {
  update: Uint8Array;
  failed: number;
  reused: boolean;
  kept: boolean;
}

/**
 * Merges kept, least recently kept first out, up to a budget of encoded bytes. A Y.Doc takes 7 to
 * 13 times its encoded size in heap (measured: sentences inserted at scattered places ×6.9, the
 * automerge-paper trace's result ×9.5, eight writers typing single characters ×12.7), so the
 * budget is small: enough for the few documents being written at any time, and the thread (with
 * all it keeps) stops when idle.
 */
export class WarmDocs {
  private readonly docs = new Map<number, { doc: Y.Doc; bytes: number }>();
  private bytes = 0;

  constructor(private readonly budgetBytes: number) {}

  get size(): number {
    return this.docs.size;
  }

  /** The merge kept as `key`, no longer kept (it is about to change). */
  take(key: number): Y.Doc | undefined {
    const kept = this.docs.get(key);
    if (!kept) return undefined;
    this.docs.delete(key);
    this.bytes -= kept.bytes;
    return kept.doc;
  }

  /** Keeps `doc` as `key` unless it alone is over the budget (false: the caller still owns it). */
  keep(key: number, doc: Y.Doc, bytes: number): boolean {
    if (bytes > this.budgetBytes) return false;
    // Keys are never reused (newMergeKey); should one be, the merge it named goes.
    this.take(key)?.destroy();
    this.docs.set(key, { doc, bytes });
    this.bytes += bytes;
    // Oldest first; the one just kept is the newest and fits on its own.
    for (const [oldest, kept] of this.docs) {
      if (this.bytes <= this.budgetBytes) break;
      this.docs.delete(oldest);
      this.bytes -= kept.bytes;
      kept.doc.destroy();
    }
    return true;
  }
}

/**
 * mergeStoredDocument, starting from the merge kept as `warm.from` if there is one (`reused`:
 * then the document's state is neither joined from its parts nor applied, it is what that merge
 * holds), and keeping the result as `warm.keep` when every entry applied (`kept`).
 */
export function mergeWarm(
  warmDocs: WarmDocs,
  stored: StoredDocument,
  stateParts: readonly Uint8Array[],
  warm: WarmMerge,
): Merged {
  const started = warm.from === null ? undefined : warmDocs.take(warm.from);
  const doc = started ?? new Y.Doc({ gc: true, guid: nextDocGuid() });
  let kept = false;
  try {
    const { failed } = applyStoredDocument(
      doc,
      started ? { state: null, updates: stored.updates } : withStateParts(stored, stateParts),
      null,
    );
    const update = Y.encodeStateAsUpdate(doc);
    if (failed === 0) kept = warmDocs.keep(warm.keep, doc, update.byteLength);
    return { update, failed, reused: started !== undefined, kept };
  } finally {
    if (!kept) doc.destroy();
  }
}
