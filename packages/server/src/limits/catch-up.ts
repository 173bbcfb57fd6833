import { MessageType, OutgoingMessage } from "@hocuspocus/server";
import * as decoding from "lib0/decoding";
import type { Awareness } from "y-protocols/awareness";
import { messageYjsUpdate } from "y-protocols/sync";
import * as Y from "yjs";

/** A document the server holds, with its presence. */
export interface LiveDocument extends Y.Doc {
  awareness: Awareness;
}

/** The document a frame's address names (`name`, or `name\0session`), if the server holds it. */
export type DocumentOf = (address: string) => LiveDocument | undefined;

/** What was dropped for one document address while its client was behind. */
interface Missed {
  /**
   * Document updates were dropped: the first one (sent again first), and the document's state
   * vector once it was applied (the catch-up is the rest).
   */
  updates: { first: Uint8Array; stateVector: Uint8Array } | null;
  /** Presence changes were dropped: the whole presence is sent again. */
  awareness: boolean;
}

/**
 * For a client that has fallen far behind (send-buffer.ts): drops the messages that a later
 * message can replace (document updates relayed from others, presence), and remembers per
 * document what the client missed, so that once it has read what it was sent, one update brings
 * it up to date instead of every update in between. For a small document rewritten many times,
 * that catch-up is a few KB where the updates were megabytes.
 *
 * Why the catch-up holds everything dropped: Hocuspocus relays a document's updates in flushes,
 * each holding every update applied since the previous flush, so when the first update is
 * dropped the document holds exactly what was relayed so far plus that update. Every update
 * after it is then in `Y.encodeStateAsUpdate(doc, stateVector)`; deletions always are (a
 * Yjs update carries the whole delete set). An update the document holds but has not relayed
 * yet may arrive twice, which Yjs ignores.
 *
 * Answers to the client's own requests (SyncStep2), acknowledgements and everything else are
 * never dropped: a client that asks for more than it reads is still closed by the limit.
 */
export class CatchUp {
  /** Per address, what was dropped. Made on the first drop: most sockets never fall behind. */
  private missed: Map<string, Missed> | undefined;

  constructor(private readonly documentOf: DocumentOf) {}

  /** Whether anything was dropped since the last catch-up. */
  get behind(): boolean {
    return this.missed !== undefined && this.missed.size > 0;
  }

  /**
   * Takes `message` instead of sending it if the catch-up will make up for it; false for a
   * message that must be sent.
   */
  drop(message: Uint8Array): boolean {
    const decoder = decoding.createDecoder(message);
    let address: string;
    let type: number;
    try {
      address = decoding.readVarString(decoder);
      type = decoding.readVarUint(decoder);
      if (type === MessageType.Sync && decoding.readVarUint(decoder) !== messageYjsUpdate) {
        return false;
      }
    } catch {
      return false;
    }
    if (type !== MessageType.Sync && type !== MessageType.Awareness) return false;
    const document = this.documentOf(address);
    // Without the document there is nothing to catch up from.
    if (!document) return false;
    if (!this.missed) this.missed = new Map();
    const dropped = this.missed;
    let missed = dropped.get(address);
    if (!missed) {
      missed = { updates: null, awareness: false };
      dropped.set(address, missed);
    }
    if (type === MessageType.Awareness) {
      missed.awareness = true;
    } else if (missed.updates === null) {
      missed.updates = { first: message, stateVector: Y.encodeStateVector(document) };
    }
    return true;
  }

  /** The messages that bring the client up to date, in order; forgets what was dropped. */
  frames(): Uint8Array[] {
    const frames: Uint8Array[] = [];
    if (!this.missed) return frames;
    for (const [address, missed] of this.missed) {
      const document = this.documentOf(address);
      if (!document) continue;
      if (missed.updates) {
        const { first, stateVector } = missed.updates;
        const rest = Y.encodeStateAsUpdate(document, stateVector);
        frames.push(
          first,
          new OutgoingMessage(address).createSyncMessage().writeUpdate(rest).toUint8Array(),
        );
      }
      if (missed.awareness && document.awareness.getStates().size > 0) {
        frames.push(
          new OutgoingMessage(address)
            .createAwarenessUpdateMessage(document.awareness)
            .toUint8Array(),
        );
      }
    }
    this.missed = undefined;
    return frames;
  }
}
