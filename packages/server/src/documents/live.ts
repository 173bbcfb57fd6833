import type { Hocuspocus } from "@hocuspocus/server";
import * as Y from "yjs";
import { tooLarge } from "../http/admin/problem.ts";
import type { DocumentStore } from "../store/document-store.ts";

/**
 * Changes the server itself makes to a live document (the admin API's PUT and POST, a version
 * restore), and whether a document exists: over the live Hocuspocus and the store.
 */
export interface LiveDocuments {
  hocuspocus: Hocuspocus;
  store: DocumentStore;
  /** --max-document-size: the largest a document may become. */
  maxDocumentSize: number;
}

/**
 * Changes the live document: `edit` runs on a copy of it, and what it changed is applied to the
 * live document through a Hocuspocus direct connection, as one update (one transaction).
 * Durability stores it as a server-side update and Hocuspocus sends it to every connected
 * client; this resolves once it is durable. Edits clients make meanwhile merge with it as any
 * concurrent edits do. An update that would make the document larger than --max-document-size
 * is refused (413) before anything is applied. `created`: the document was empty before.
 */
export async function changeLiveDocument(
  live: LiveDocuments,
  name: string,
  edit: (doc: Y.Doc) => void,
): Promise<{ created: boolean; changed: boolean }> {
  const { hocuspocus, store, maxDocumentSize } = live;
  const connection = await hocuspocus.openDirectConnection(name, { admin: true });
  try {
    const document = connection.document as NonNullable<typeof connection.document>;
    const created = document.store.clients.size === 0;
    const copy = new Y.Doc({ gc: false });
    Y.applyUpdate(copy, Y.encodeStateAsUpdate(document));
    const updates: Uint8Array[] = [];
    copy.on("update", (update: Uint8Array) => updates.push(update));
    edit(copy);
    copy.destroy();
    if (updates.length === 0) return { created: false, changed: false };
    const update = updates.length === 1 ? (updates[0] as Uint8Array) : Y.mergeUpdates(updates);
    const size = (await store.sizeOf(name)) + update.byteLength;
    if (size > maxDocumentSize) {
      throw tooLarge(
        `the document would take ${size} bytes, more than --max-document-size (${maxDocumentSize})`,
      );
    }
    await connection.transact((doc) => Y.applyUpdate(doc, update));
    await store.durable(name);
    return { created, changed: true };
  } finally {
    await connection.disconnect();
  }
}

/** Whether the document is open or stored. */
export async function documentExists(live: LiveDocuments, name: string): Promise<boolean> {
  if (live.hocuspocus.documents.has(name)) return true;
  const size = await live.store.sizeOf(name);
  // sizeOf may keep a small record of the name: let it go, nothing has it open.
  if (!live.hocuspocus.documents.has(name)) live.store.unload(name);
  return size > 0;
}
