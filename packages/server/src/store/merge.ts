import * as Y from "yjs";
import { nextDocGuid } from "../documents/doc-guid.ts";
import type { StoredDocument } from "./document-store.ts";

/**
 * Applies a stored document to a Y.Doc in one transaction, so observers fire once for the whole
 * load instead of once per log entry. Applying into a Y.Doc is what keeps this fast:
 * Y.mergeUpdates over a long log is quadratic in practice.
 *
 * The doc's `update` and `updateV2` listeners are not called for it (see withoutUpdateEvents):
 * what is applied is what the store already holds, and while any listener is registered Yjs
 * encodes the whole transaction into one more update. A Hocuspocus document always has one
 * (it queues the update to broadcast to connections, which a loading document does not have yet),
 * so every load encoded the whole document a second time: 29 of 136 ms of a cold load of the
 * automerge-paper trace's result (CPU profile).
 *
 * Every entry was validated before it was stored; an entry that still fails to apply (a bug, or
 * a file damaged outside Tandem) is skipped and counted, so the caller can tell a damaged
 * document (the server refuses it; `tandem repair` salvages the rest) from a whole one.
 */
export function applyStoredDocument(
  doc: Y.Doc,
  stored: StoredDocument,
  origin: unknown,
): { applied: number; failed: number } {
  let applied = 0;
  let failed = 0;
  withoutUpdateEvents(doc, () =>
    doc.transact(() => {
      for (const update of stored.state ? [stored.state, ...stored.updates] : stored.updates) {
        try {
          Y.applyUpdate(doc, update, origin);
          applied++;
        } catch {
          failed++;
        }
      }
    }, origin),
  );
  return { applied, failed };
}

const UPDATE_EVENTS = ["update", "updateV2"] as const;

/**
 * Runs `change` with the doc's update listeners taken off, and puts them back after, in their
 * order, even if it throws. Yjs encodes a transaction's update only when some listener wants it.
 */
export function withoutUpdateEvents<T>(doc: Y.Doc, change: () => T): T {
  // `_observers` is lib0's typed (if underscored) listener registry; it is only read here, and
  // listeners move through the public off/on.
  const taken = UPDATE_EVENTS.map((name) => [name, [...(doc._observers.get(name) ?? [])]] as const);
  for (const [name, listeners] of taken) for (const listener of listeners) doc.off(name, listener);
  try {
    return change();
  } finally {
    for (const [name, listeners] of taken) for (const listener of listeners) doc.on(name, listener);
  }
}

/**
 * The whole stored document as one Yjs update. `failed` counts entries that did not apply; the
 * update then holds the rest (what `tandem repair` salvages).
 */
export function mergeStoredDocument(stored: StoredDocument): {
  update: Uint8Array;
  failed: number;
} {
  const doc = new Y.Doc({ gc: true, guid: nextDocGuid() });
  try {
    const { failed } = applyStoredDocument(doc, stored, null);
    return { update: Y.encodeStateAsUpdate(doc), failed };
  } finally {
    doc.destroy();
  }
}
