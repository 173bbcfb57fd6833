import * as Y from "yjs";

/** The text of the shared type `key` in a document made from one Yjs update (empty for none). */
export function textOfUpdate(update: Uint8Array | null | undefined, key = "t"): string {
  const doc = new Y.Doc();
  if (update) Y.applyUpdate(doc, update);
  return doc.getText(key).toString();
}
