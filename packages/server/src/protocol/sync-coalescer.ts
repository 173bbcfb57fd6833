import { MessageType } from "@hocuspocus/server";
import { messageYjsSyncStep1, messageYjsSyncStep2 } from "y-protocols/sync";
import { endsDocumentConnection, type FrameHead } from "./frame-head.ts";

/**
 * Answers repeated SyncStep1 requests for one document connection once. Hocuspocus answers
 * every SyncStep1 by encoding the requested part of the document (the whole document for an
 * empty state vector) and queueing it, so a client sending the 8-byte request a thousand times
 * made the server encode and queue a large document a thousand times.
 *
 * Per address (document name, with the session id if the client sends one), while the answer
 * to a forwarded SyncStep1 has not been flushed to the socket, further SyncStep1s for that
 * address are dropped. Nothing is lost: within one document connection a client's state vector
 * only grows, so what a later request would get is the pending answer plus the updates
 * Hocuspocus sends the connection after it, which the client receives anyway.
 *
 * A new document connection on the same address (after a close or a refusal) starts afresh, so
 * a new Y.Doc with a smaller state vector is never answered with an older connection's diff.
 * Hocuspocus drops the address's queued messages in those cases, so its pending request needs
 * no answer.
 *
 * (Caching the encoded answer per document state was the other option; Hocuspocus encodes
 * inside MessageReceiver with no hook to substitute an answer, so only the request can be
 * stopped, and here it can be before it is queued.)
 */
export class SyncCoalescer {
  /**
   * Addresses with a forwarded SyncStep1 whose answer has not been flushed; none while nothing
   * waits (a request is rare, and an empty Set costs about 160 bytes on every open socket).
   */
  private waiting: Set<string> | undefined;

  private answered(address: string): void {
    this.waiting?.delete(address);
    if (this.waiting?.size === 0) this.waiting = undefined;
  }

  /** For a frame from the client that passed screening (its head): false means drop it. */
  admit(head: FrameHead | null): boolean {
    if (!head) return true;
    const { address, type, step } = head;
    if (type === MessageType.CLOSE) {
      this.answered(address);
      return true;
    }
    const isSync = type === MessageType.Sync || type === MessageType.SyncReply;
    if (!isSync || step !== messageYjsSyncStep1) return true;
    if (this.waiting?.has(address)) return false;
    if (!this.waiting) this.waiting = new Set();
    this.waiting.add(address);
    return true;
  }

  /**
   * For a message the server sends (its head): returns what to call once it has been flushed,
   * if any.
   */
  sent(head: FrameHead | null): (() => void) | undefined {
    if (!head) return undefined;
    const { address, type, step } = head;
    if (type === MessageType.Sync && step === messageYjsSyncStep2) {
      return () => this.answered(address);
    }
    // The document connection ends or never starts: its pending request will not be answered.
    if (endsDocumentConnection(head)) this.answered(address);
    return undefined;
  }
}
