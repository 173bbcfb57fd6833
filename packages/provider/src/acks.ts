import * as decoding from "lib0/decoding";

/** Hocuspocus message types (its MessageType enum) and y-protocols' sync message types. */
const MESSAGE_SYNC = 0;
const MESSAGE_SYNC_STATUS = 8;
const SYNC_STEP_2 = 1;
const SYNC_UPDATE = 2;

/**
 * Which local changes the server has acknowledged, message by message.
 *
 * The server answers every SyncStep2 and Update message with one SyncStatus, in the order the
 * messages arrived, and (Tandem) only once what the message carried is on disk. What a message
 * carries: an Update, the one change in whose update event the provider sent it; a SyncStep2,
 * every change made before it (it holds the whole document). A change made while no socket was
 * open is carried by no Update, only by the next SyncStep2. So each message sent is remembered
 * with what it carries, and its acknowledgement marks exactly that as stored.
 *
 * Hocuspocus's provider counts unacknowledged messages instead and resets the count to 1 when a
 * sync starts: an Update sent between the socket opening and the sync (a change made while the
 * token was being fetched) is then acknowledged first and brings the count to 0 while the
 * SyncStep2 carrying the changes made offline is still on its way to the disk.
 */
export class AckTracker {
  /** Local changes made so far; each is numbered by the count after it. */
  private changes = 0;
  /** Changes not known to be stored, in ascending order (a Set keeps insertion order). */
  private readonly pending = new Set<number>();
  /** For each message awaiting its acknowledgement, oldest first: what it carries. */
  private inFlight: Carried[] = [];
  private head = 0;

  /** Every local change has been acknowledged. */
  get stored(): boolean {
    return this.pending.size === 0;
  }

  /** A local change was made (call before the provider sends it). */
  changed(): void {
    this.changes++;
    this.pending.add(this.changes);
  }

  /** Call for every message of this document the socket sends. */
  sent(message: Uint8Array): void {
    const type = syncTypeOf(message);
    if (type === SYNC_UPDATE) this.inFlight.push({ only: this.changes });
    else if (type === SYNC_STEP_2) this.inFlight.push({ upTo: this.changes });
  }

  /** Call for every message received; true when it acknowledged local changes. */
  received(message: Uint8Array): boolean {
    const applied = syncStatusOf(message);
    if (applied === null || this.head === this.inFlight.length) return false;
    const carried = this.inFlight[this.head++] as Carried;
    if (this.head === this.inFlight.length) {
      this.inFlight = [];
      this.head = 0;
    }
    // Not applied (a read-only connection): nothing was stored.
    if (!applied) return false;
    const before = this.pending.size;
    if ("only" in carried) {
      this.pending.delete(carried.only);
    } else {
      for (const change of this.pending) {
        if (change > carried.upTo) break;
        this.pending.delete(change);
      }
    }
    return this.pending.size !== before;
  }

  /** The connection to the server is gone: no acknowledgement will come for what is in flight. */
  lost(): void {
    this.inFlight = [];
    this.head = 0;
  }
}

/** An Update carries the change it was sent for; a SyncStep2 every change up to a number. */
type Carried = { only: number } | { upTo: number };

/** The sync message type of [address][Sync][type][...]; null for other messages. */
function syncTypeOf(message: Uint8Array): number | null {
  try {
    const decoder = decoding.createDecoder(message);
    decoding.readVarString(decoder);
    if (decoding.readVarUint(decoder) !== MESSAGE_SYNC) return null;
    return decoding.readVarUint(decoder);
  } catch {
    return null;
  }
}

/** For a SyncStatus message [address][SyncStatus][applied], whether it was applied; else null. */
function syncStatusOf(message: Uint8Array): boolean | null {
  try {
    const decoder = decoding.createDecoder(message);
    decoding.readVarString(decoder);
    if (decoding.readVarUint(decoder) !== MESSAGE_SYNC_STATUS) return null;
    return decoding.readVarInt(decoder) === 1;
  } catch {
    return null;
  }
}
