import * as Y from "yjs";
import { nextDocGuid } from "../documents/doc-guid.ts";
import type { StoredDocument } from "./document-store.ts";

/**
 * Applies a stored document to a Y.Doc in one transaction, so observers and the update event
 * fire once for the whole load instead of once per log entry. Applying into a Y.Doc is what
 * keeps this fast: Y.mergeUpdates over a long log is quadratic in practice.
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
  doc.transact(() => {
    for (const update of stored.state ? [stored.state, ...stored.updates] : stored.updates) {
      try {
        Y.applyUpdate(doc, update, origin);
        applied++;
      } catch {
        failed++;
      }
    }
  }, origin);
  return { applied, failed };
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
