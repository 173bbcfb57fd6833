import type {
  afterLoadDocumentPayload,
  Extension,
  RedisTransactionOrigin,
} from "@hocuspocus/server";
import * as Y from "yjs";
import type { Logger } from "../logger.ts";
import type { DocumentStore } from "../store/document-store.ts";

/**
 * The transaction origin of updates another instance stored. Hocuspocus's own origin for
 * updates relayed between instances: its store hooks skip it, and Durability does not store it
 * again (they are in the store already). It still fans out to this instance's clients.
 */
export const REMOTE_ORIGIN: RedisTransactionOrigin = { source: "redis" };

/**
 * Applies to each open document the updates other server instances store for it, so their
 * clients' edits reach this instance's clients. A store only one instance uses reports none.
 * The subscription lives exactly as long as the in-memory document: it starts once the document
 * is loaded and ends when Hocuspocus destroys it on unload.
 */
export class RemoteUpdates implements Extension {
  extensionName = "tandem-remote-updates";
  // After Durability (1000) has loaded the document, before extensions that watch changes.
  priority = 900;

  constructor(
    private readonly store: DocumentStore,
    private readonly logger: Logger,
  ) {}

  async afterLoadDocument({ documentName, document }: afterLoadDocumentPayload): Promise<void> {
    const stop = this.store.watch(documentName, (updates) => {
      if (document.isDestroyed) return;
      let failed = 0;
      document.transact(() => {
        for (const update of updates) {
          try {
            Y.applyUpdate(document, update, REMOTE_ORIGIN);
          } catch {
            failed++;
          }
        }
      }, REMOTE_ORIGIN);
      if (failed > 0) {
        this.logger.error(
          { document: documentName, failed },
          "skipped updates from another instance that fail to apply",
        );
      }
    });
    document.once("destroy", stop);
  }
}
