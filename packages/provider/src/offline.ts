import { clearDocument, IndexeddbPersistence } from "y-indexeddb";
import type * as Y from "yjs";

/**
 * The offline cache: each document's Yjs state in the browser's IndexedDB (y-indexeddb), so a
 * document opened without a network shows its last state and keeps new edits. Nothing here
 * decides what wins: when the socket is back, the Yjs sync exchange merges both sides.
 */

export interface OfflineCache {
  /** Resolves once the cached state is in the document (also when the cache failed). */
  readonly loaded: Promise<void>;
  /** Stops caching; resolves once the database is closed. The cached data stays. */
  destroy(): Promise<void>;
}

/** IndexedDB exists in browsers and workers; in Node.js only if something (a test) provides it. */
export function indexedDbAvailable(): boolean {
  return typeof (globalThis as { indexedDB?: unknown }).indexedDB === "object";
}

/**
 * The database of one document. The server URL is part of it (without a query string, which
 * may carry credentials) so that two Tandem servers used from one origin never share a cache.
 */
export function cacheName(url: string, document: string): string {
  const parsed = new URL(url);
  const server = `${parsed.host}${parsed.pathname.replace(/\/+$/, "")}`;
  return `tandem:${server}:${document}`;
}

export function openCache(
  name: string,
  doc: Y.Doc,
  onError: (error: unknown) => void,
): OfflineCache {
  const persistence = new IndexeddbPersistence(name, doc);
  const loaded = new Promise<void>((resolve) => {
    void persistence.whenSynced.then(() => resolve());
    // If the database cannot be opened (private browsing in some browsers, a full disk), the
    // document works on without a cache rather than waiting for it forever.
    persistence._db.catch((error: unknown) => {
      onError(error);
      resolve();
    });
  });
  return {
    loaded,
    destroy: () => persistence.destroy().catch(() => {}),
  };
}

/** Deletes one document's cache. */
export async function clearCache(name: string): Promise<void> {
  if (!indexedDbAvailable()) return;
  await clearDocument(name);
}
