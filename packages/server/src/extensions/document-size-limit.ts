import type { beforeSyncPayload, Extension } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import { messageYjsSyncStep2, messageYjsUpdate } from "y-protocols/sync";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/registry.ts";
import type { DocumentStore } from "../store/document-store.ts";

/**
 * Refuses an update that would grow a document past maxBytes, measured as what the document
 * takes in storage (compacted state plus log) plus the update. The refused update is neither
 * applied nor stored; the sender's document connection closes with the reason, so the client
 * knows why its edit was not saved. Runs before Durability stages the update.
 */
export class DocumentSizeLimit implements Extension {
  extensionName = "tandem-document-size-limit";
  priority = 1100;

  constructor(
    private readonly store: DocumentStore,
    private readonly maxBytes: number,
    private readonly logger: Logger,
    private readonly metrics: Metrics | null = null,
  ) {}

  async beforeSync({ connection, type, payload, documentName }: beforeSyncPayload): Promise<void> {
    if (type !== messageYjsSyncStep2 && type !== messageYjsUpdate) return;
    if (connection.readOnly) return;
    const size = await this.store.sizeOf(documentName);
    if (size + payload.byteLength <= this.maxBytes) return;
    this.metrics?.updateRefused("document_too_large");
    this.metrics?.limitHit("document_size");
    this.logger.warn(
      { document: documentName, size, update: payload.byteLength, max: this.maxBytes },
      "refused an update that would make the document too large",
    );
    throw Object.assign(new Error("document-too-large"), {
      code: CloseCode.DocumentTooLarge,
      reason: "document-too-large",
    });
  }
}
