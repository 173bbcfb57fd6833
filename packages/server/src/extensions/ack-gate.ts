import { type Connection, MessageType } from "@hocuspocus/server";
import * as encoding from "lib0/encoding";

/**
 * The one place that depends on how Hocuspocus acknowledges document updates. Hocuspocus 4
 * handles a client's update like this (MessageReceiver.readSyncMessage):
 *
 *   await beforeSync hook  ->  apply to the Y.Doc (fans out to peers)  ->  connection.send(SyncStatus)
 *
 * all for one connection's messages strictly in order. The gate takes the update in beforeSync,
 * lets Hocuspocus apply and fan it out at memory speed, and intercepts the SyncStatus frame on
 * its way out: the append starts right then (so appends from every connection in this turn of
 * the event loop share one batch), and the frame is sent only once the append is durable.
 * Acknowledgements stay in order per connection because each waits for the one before it.
 *
 * Sending the update to peers before it is on disk is safe: until the sender sees the
 * acknowledgement it keeps the update as unsynced and sends it again after a reconnect, and
 * Yjs merges duplicates.
 *
 * An update that stores nothing (an empty SyncStep2: "I have nothing you lack") is acknowledged
 * only once everything already appended to its document is durable. The document in memory
 * may hold updates whose appends are still waiting (a full disk): a client that reconnects
 * and finds its edits already there must not be told they are safe before they are.
 *
 * If an update was not applied (Hocuspocus threw), no SyncStatus is sent, so nothing is stored.
 * ack-gate.test.ts fails if a Hocuspocus upgrade changes any of this.
 */

export type Persist = (connection: Connection, update: Uint8Array) => Promise<void>;
/** Resolves once everything appended so far to the connection's document is durable. */
export type Durable = (connection: Connection) => Promise<void>;
export type OnPersistFailure = (connection: Connection, error: unknown) => void;

/** Told of every acknowledgement sent (metrics). */
export interface AckObserver {
  /** Sent `ms` after its update arrived; `bytes` of it were stored (0: nothing new). */
  acknowledged(ms: number, bytes: number): void;
}

interface Gate {
  /** The update of the message being handled, taken in beforeSync. */
  staged: Uint8Array | null;
  /** performance.now() when the message being handled arrived; 0 when not known. */
  arrivedAt: number;
  /** Settles once the previous acknowledgement has been sent (or dropped). */
  acks: Promise<void>;
  failed: boolean;
  /** Length of the frame prefix `varString(address)`; a SyncStatus frame is prefix + 2 bytes. */
  prefixLength: number;
}

/** An update with no structs and no deletions: the Yjs v1 encoding [0, 0]. */
const isEmptyUpdate = (update: Uint8Array): boolean =>
  update.length === 2 && update[0] === 0 && update[1] === 0;

export class AckGate {
  private readonly gates = new WeakMap<Connection, Gate>();

  constructor(
    private readonly persist: Persist,
    private readonly durable: Durable,
    private readonly onFailure: OnPersistFailure,
    private readonly observer: AckObserver | null = null,
  ) {}

  /**
   * Call from the first beforeSync hook of a SyncStep2 or Update message: its acknowledgement's
   * latency is measured from here. Only needed with an observer.
   */
  arrived(connection: Connection): void {
    this.gateOf(connection).arrivedAt = performance.now();
  }

  /** Call from beforeSync for a SyncStep2 or Update message that may be applied. */
  stage(connection: Connection, update: Uint8Array): void {
    this.gateOf(connection).staged = update;
  }

  private gateOf(connection: Connection): Gate {
    const existing = this.gates.get(connection);
    if (existing) return existing;
    const encoder = encoding.createEncoder();
    encoding.writeVarString(encoder, connection.messageAddress);
    const gate: Gate = {
      staged: null,
      arrivedAt: 0,
      acks: Promise.resolve(),
      failed: false,
      prefixLength: encoding.length(encoder),
    };
    this.gates.set(connection, gate);
    const send = connection.send.bind(connection);
    connection.send = (message: Uint8Array) => {
      if (!isSyncStatus(message, gate.prefixLength)) {
        send(message);
        return;
      }
      this.acknowledge(connection, gate, message, send);
    };
    return gate;
  }

  private acknowledge(
    connection: Connection,
    gate: Gate,
    message: Uint8Array,
    send: (message: Uint8Array) => void,
  ): void {
    const update = gate.staged;
    gate.staged = null;
    const arrivedAt = gate.arrivedAt;
    gate.arrivedAt = 0;
    const applied = message[gate.prefixLength + 1] === 1;
    let durable: Promise<void> | undefined;
    let storedBytes = 0;
    if (applied) {
      if (update && !isEmptyUpdate(update)) {
        durable = this.persist(connection, update);
        storedBytes = update.byteLength;
      } else {
        durable = this.durable(connection);
      }
    }
    const observer = this.observer;
    gate.acks = gate.acks
      .then(() => durable)
      .then(
        () => {
          if (gate.failed) return;
          send(message);
          if (observer && arrivedAt > 0) {
            observer.acknowledged(performance.now() - arrivedAt, storedBytes);
          }
        },
        (error: unknown) => {
          // Later acknowledgements must not overtake this one: drop them all. The client keeps
          // its unacknowledged updates and sends them again when it reconnects.
          if (gate.failed) return;
          gate.failed = true;
          this.onFailure(connection, error);
        },
      );
  }
}

function isSyncStatus(message: Uint8Array, prefixLength: number): boolean {
  return message.length === prefixLength + 2 && message[prefixLength] === MessageType.SyncStatus;
}
