import {
  connectClient,
  type GatedStore,
  startGatedServer,
  type TestClient,
  type TestServer,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * The acknowledgement seam (src/extensions/ack-gate.ts) relies on how Hocuspocus handles an
 * update: beforeSync, then apply and fan-out, then SyncStatus through connection.send. These
 * tests fail if an upgrade changes that.
 */
describe("acknowledgements wait for the store", () => {
  let server: TestServer;
  let gated: GatedStore;
  const clients: TestClient[] = [];

  const start = async () => {
    ({ server, gated } = await startGatedServer());
    return server;
  };

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
  });

  it("fans out at once but acknowledges only after the append is durable", async () => {
    await start();
    const a = connectClient(server.url, "doc");
    const b = connectClient(server.url, "doc");
    clients.push(a, b);
    await Promise.all([a.stored(), b.stored()]);

    gated.hold();
    a.doc.getText("t").insert(0, "hello");
    // The peer sees the edit while the store is still holding it back...
    await waitFor("b to see a's edit", () => b.doc.getText("t").toString() === "hello");
    await waitFor("the append to reach the store", () => gated.waiting === 1);
    // ...and the sender still counts it as unsynced.
    expect(a.provider.unsyncedChanges).toBe(1);
    expect(gated.completedAppends).toBe(0);

    gated.release();
    await a.stored();
    expect(gated.completedAppends).toBe(1);
    const stored = await server.store.read("doc");
    expect(stored).not.toBeNull();
  });

  it("keeps acknowledgements in order and every one waits for its own append", async () => {
    await start();
    const a = connectClient(server.url, "ordered");
    clients.push(a);
    await a.stored();

    gated.hold();
    const text = a.doc.getText("t");
    for (let i = 0; i < 20; i++) text.insert(text.length, String(i % 10));
    await waitFor("20 appends at the gate", () => gated.waiting === 20);
    expect(a.provider.unsyncedChanges).toBe(20);
    gated.release();
    await a.stored();
    expect(gated.completedAppends).toBe(20);
  });

  it("a failed append is never acknowledged: the socket closes with 1011 and the client sends it again", async () => {
    await start();
    const a = connectClient(server.url, "fails");
    clients.push(a);
    await a.stored();
    gated.failNext(1);
    a.doc.getText("t").insert(0, "must not be lost");
    await waitFor("the server to close the socket", () => a.closes.length > 0);
    expect(a.closes[0]?.code).toBe(1011);
    // The provider reconnects by itself and its sync sends the unacknowledged edit again.
    await a.stored();
    const stored = new Y.Doc();
    Y.applyUpdate(stored, (await server.store.read("fails")) as Uint8Array);
    expect(stored.getText("t").toString()).toBe("must not be lost");
  });

  it("a client that sends nothing new is acknowledged without a write", async () => {
    await start();
    const a = connectClient(server.url, "idle");
    clients.push(a);
    await a.stored();
    expect(gated.completedAppends).toBe(0);
    expect(await server.store.list()).toEqual([]);
  });
});
