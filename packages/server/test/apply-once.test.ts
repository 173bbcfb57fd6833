import type {
  afterHandleMessagePayload,
  beforeSyncPayload,
  Extension,
  onChangePayload,
} from "@hocuspocus/server";
import {
  connectClient,
  startTestServer,
  type TestClient,
  type TestServer,
  textOfUpdate,
} from "@tandem/testkit";
import * as decoding from "lib0/decoding";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { messageYjsUpdate } from "y-protocols/sync";
import * as Y from "yjs";

/**
 * What an embedder's extension sees of a client's update, and what Hocuspocus applies after the
 * beforeSync hooks (src/extensions/apply-once.ts).
 */
class Observer implements Extension {
  extensionName = "test-observer";
  /** Copies of the updates as beforeSync gave them. */
  readonly synced: Uint8Array[] = [];
  /** The updates in the messages, as they were once Hocuspocus had handled them. */
  readonly handled: Uint8Array[] = [];
  /** Transactions with changes that Hocuspocus's own apply of client messages made. */
  changes = 0;

  async beforeSync({ type, payload }: beforeSyncPayload): Promise<void> {
    if (type === messageYjsUpdate) this.synced.push(payload.slice());
  }

  async afterHandleMessage({ update }: afterHandleMessagePayload): Promise<void> {
    const decoder = decoding.createDecoder(update);
    decoding.readVarString(decoder);
    if (decoding.readVarUint(decoder) !== 0) return; // not a sync message
    if (decoding.readVarUint(decoder) !== messageYjsUpdate) return;
    this.handled.push(decoding.readVarUint8Array(decoder).slice());
  }

  async onChange(_: onChangePayload): Promise<void> {
    this.changes++;
  }
}

describe("each client update is applied once", () => {
  let server: TestServer;
  const observer = new Observer();
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({}, { extensions: [observer] });
  });

  afterAll(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("Hocuspocus's apply after the guard's is empty; extensions, peers and the store see the update", async () => {
    const a = connectClient(server.url, "once");
    const b = connectClient(server.url, "once");
    clients.push(a, b);
    await Promise.all([a.stored(), b.stored()]);
    const changesBefore = observer.changes;

    const text = a.doc.getText("t");
    for (const word of ["one ", "two ", "three"]) {
      text.insert(text.length, word);
      await a.stored();
    }

    // Each update changed the document once: the guard's apply, not Hocuspocus's as well.
    expect(observer.changes - changesBefore).toBe(3);
    // An extension's beforeSync gets each update as sent...
    expect(observer.synced).toHaveLength(3);
    const seen = new Y.Doc();
    for (const update of observer.synced) Y.applyUpdate(seen, update);
    expect(seen.getText("t").toString()).toBe("one two three");
    // ...and Hocuspocus then applied an empty update in its place.
    expect(observer.handled).toHaveLength(3);
    for (const update of observer.handled) expect([...update.subarray(0, 2)]).toEqual([0, 0]);

    await expect.poll(() => b.doc.getText("t").toString()).toBe("one two three");
    // What was stored is what the client sent, not the blanked bytes.
    expect(textOfUpdate(await server.store.read("once"))).toBe("one two three");
  });
});
