import type { beforeSyncPayload, Extension } from "@hocuspocus/server";

/**
 * Spares Hocuspocus applying a client's update a second time.
 *
 * UpdateGuard applies each client update to its document itself, inside a try, so that an
 * update that throws or leaves too much pending is refused before it is stored (see there).
 * Hocuspocus then applies the same bytes again after the beforeSync hooks (y-protocols'
 * readSyncStep2). Yjs finds nothing new, but only after decoding every struct again: for a
 * reconnecting client's SyncStep2 carrying 2,000 offline edits, 2.4 ms of event loop (a
 * reconnect storm pays that per client); for one typed character, 4 of the 7 µs the second
 * apply took (the rest is the transaction Yjs still runs for an empty update).
 *
 * The bytes Hocuspocus applies are the ones the beforeSync hooks were given (`payload` is a view
 * into the message it is reading). Running after every other extension's beforeSync, this one
 * overwrites the first two bytes of an update the guard applied with [0, 0]: in Yjs's update
 * encoding, no structs and no deletions. Yjs stops reading there, so Hocuspocus's apply is an
 * empty transaction, and it acknowledges the update as before. Whoever keeps the update past
 * its beforeSync hook must copy it (Durability does); afterHandleMessage sees the blanked bytes.
 */
export class ApplyOnce implements Extension {
  extensionName = "tandem-apply-once";
  // After every beforeSync, the embedder's extensions' included.
  priority = Number.MIN_SAFE_INTEGER;
  private readonly applied = new WeakSet<Uint8Array>();

  /** The update (a beforeSync payload) has been applied to its document: skip the second apply. */
  appliedBefore(update: Uint8Array): void {
    this.applied.add(update);
  }

  async beforeSync({ payload }: beforeSyncPayload): Promise<void> {
    if (!this.applied.delete(payload) || payload.length < 2) return;
    payload[0] = 0;
    payload[1] = 0;
  }
}
