import { LevelDocumentStore } from "@tandem/server";
import { GatedStore, waitFor } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { clientPool, serverPool } from "./helpers.ts";

/**
 * `stored` promises that every local change is on the server's disk. A reconnect sends two
 * kinds of messages that carry changes: an update for a change made once the socket is open
 * (while the token is still being fetched, say), and the sync that carries the changes made
 * while offline. Acknowledging the first must not count for the second.
 */
describe("stored after a reconnect", () => {
  const pool = clientPool();
  const servers = serverPool();

  afterEach(async () => {
    await pool.closeAll();
    await servers.disposeAll();
  });

  it("waits for the sync that carries the offline changes, not only for a later update", async () => {
    const server = await servers.restartable();
    let tokenCalls = 0;
    let tokenGate: Promise<string> | null = null;
    let openGate = (): void => {};
    const client = pool.create(server.url, {
      token: () => {
        tokenCalls++;
        return tokenGate ?? "token";
      },
      // No automatic reconnect during the test: it calls reconnect() when it is ready.
      reconnect: { minDelayMs: 600_000, maxDelayMs: 600_000, connectTimeoutMs: 5_000 },
    });
    const writer = client.open("offline-then-online");
    await writer.whenSynced();
    const text = writer.doc.getText("t");
    text.insert(0, "online;");
    await writer.whenStored();

    await server.stop();
    await waitFor("the writer to notice", () => writer.status !== "connected");
    // Made with no socket: no update carries it, only the next sync.
    text.insert(text.length, "offline;");
    expect(writer.stored).toBe(false);

    const gated = new GatedStore(
      await LevelDocumentStore.open({
        path: server.current.dataDir,
        fsync: false,
        compaction: { minUpdates: 500, ratio: 0.5, maxUpdates: 20_000 },
      }),
    );
    gated.hold();
    await server.start({ store: gated });
    // The next connect waits for its token, as when the token comes from the network.
    tokenGate = new Promise((resolve) => {
      openGate = () => resolve("token");
    });
    const callsBefore = tokenCalls;
    client.reconnect();
    await waitFor("the new socket to ask for a token", () => tokenCalls > callsBefore);
    // Made with the socket open: sent at once as an update, before the sync.
    text.insert(text.length, "waiting;");
    openGate();

    await waitFor("the update and the sync to reach the store", () => gated.waiting === 2);
    gated.releaseOne();
    await waitFor("the update to be stored", () => gated.completedAppends === 1);
    // A peer's edit reaches the writer on its socket after the acknowledgement of the update
    // (the server sent that as soon as the append completed).
    const peer = pool.create(server.url).open("offline-then-online");
    await peer.whenSynced();
    peer.doc.getText("t").insert(0, "peer;");
    await waitFor("the writer to see the peer's edit", () => text.toString().startsWith("peer;"));
    // The sync carrying "offline;" is still held at the gate: not stored.
    expect(writer.stored).toBe(false);

    gated.release();
    await writer.whenStored();
    const onDisk = new Y.Doc();
    Y.applyUpdate(onDisk, (await server.current.store.read("offline-then-online")) as Uint8Array);
    expect(onDisk.getText("t").toString()).toContain("offline;");
    expect(onDisk.getText("t").toString()).toContain("waiting;");
  });
});
