import { LevelDocumentStore } from "@tandem/server";
import { GatedStore, startTestServer, type TestServer, tempDir, waitFor } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { clientPool, record } from "./helpers.ts";

describe("documents sync through the server", () => {
  const pool = clientPool();
  let server: TestServer | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    await pool.closeAll();
    await server?.dispose();
    server = undefined;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it("two clients converge on concurrent edits", async () => {
    server = await startTestServer();
    const alice = pool.create(server.url).open("notes");
    const bob = pool.create(server.url).open("notes");
    await Promise.all([alice.whenSynced(), bob.whenSynced()]);
    expect(alice.status).toBe("connected");

    alice.doc.getText("body").insert(0, "Hello from Alice. ");
    bob.doc.getText("body").insert(0, "Hello from Bob. ");
    alice.doc.getMap("meta").set("title", "Meeting");

    await waitFor("both clients to hold the same text", () => {
      const a = alice.doc.getText("body").toString();
      return a === bob.doc.getText("body").toString() && a.length === 34;
    });
    expect(alice.doc.getText("body").toString()).toContain("Hello from Alice. ");
    expect(alice.doc.getText("body").toString()).toContain("Hello from Bob. ");
    await waitFor("bob to see the title", () => bob.doc.getMap("meta").get("title") === "Meeting");
    await Promise.all([alice.whenStored(), bob.whenStored()]);

    // A third client, arriving later, loads what the server stored.
    const carol = pool.create(server.url).open("notes");
    await carol.whenSynced();
    expect(carol.doc.getText("body").toString()).toBe(alice.doc.getText("body").toString());
  });

  it("whenStored() waits until the server has the change on disk", async () => {
    const dir = await tempDir();
    cleanups.push(() => dir.remove());
    const gated = new GatedStore(
      await LevelDocumentStore.open({
        path: dir.path,
        fsync: false,
        compaction: { minUpdates: 500, ratio: 0.5, maxUpdates: 20_000 },
      }),
    );
    server = await startTestServer({ data: dir.path }, { store: gated });
    const writer = pool.create(server.url).open("gated");
    const reader = pool.create(server.url).open("gated");
    await Promise.all([writer.whenSynced(), reader.whenSynced()]);
    await writer.whenStored();
    expect(writer.stored).toBe(true);
    const storedEvents = record<boolean>((l) => writer.on("stored", l));

    gated.hold();
    writer.doc.getText("t").insert(0, "durable?");
    expect(writer.stored).toBe(false);
    let acknowledged = false;
    const stored = writer.whenStored().then(() => {
      acknowledged = true;
    });

    // The server relays the edit at once, but its append is held at the gate...
    await waitFor(
      "the reader to see the edit",
      () => reader.doc.getText("t").toString() === "durable?",
    );
    await waitFor("the append to reach the store", () => gated.waiting === 1);
    await new Promise<void>((resolve) => setImmediate(resolve));
    // ...so the writer has no acknowledgement yet.
    expect(acknowledged).toBe(false);
    expect(writer.stored).toBe(false);
    expect(gated.completedAppends).toBe(0);

    gated.release();
    await stored;
    expect(writer.stored).toBe(true);
    expect(gated.completedAppends).toBeGreaterThanOrEqual(1);
    expect(storedEvents).toEqual([false, true]);
    const onDisk = new Y.Doc();
    Y.applyUpdate(onDisk, (await server.store.read("gated")) as Uint8Array);
    expect(onDisk.getText("t").toString()).toBe("durable?");
  });

  it("several documents on one client share one socket", async () => {
    server = await startTestServer();
    const client = pool.create(server.url);
    const docs = ["a", "b", "c"].map((name) => client.open(name));
    await Promise.all(docs.map((doc) => doc.whenSynced()));
    for (const [i, doc] of docs.entries()) doc.doc.getText("t").insert(0, `doc ${i}`);
    await Promise.all(docs.map((doc) => doc.whenStored()));

    expect(server.hocuspocus.getDocumentsCount()).toBe(3);
    expect(server.hocuspocus.getConnectionsCount()).toBe(1);

    // A second client is a second socket, whatever it opens.
    const other = pool.create(server.url);
    await Promise.all([other.open("a").whenSynced(), other.open("c").whenSynced()]);
    expect(server.hocuspocus.getConnectionsCount()).toBe(2);

    // Closing one document leaves the socket to the others.
    await docs[0]?.close();
    docs[1]?.doc.getText("t").insert(0, "still live ");
    await docs[1]?.whenStored();
    expect(server.hocuspocus.getConnectionsCount()).toBe(2);
  });

  it("refuses a second handle for an open document, and reopens it after close", async () => {
    server = await startTestServer();
    const client = pool.create(server.url);
    const first = client.open("once");
    await first.whenSynced();
    first.doc.getText("t").insert(0, "kept");
    await first.whenStored();
    expect(() => client.open("once")).toThrow(/already open/);

    await first.close();
    await expect(first.whenSynced()).rejects.toThrow(/closed/);
    const again = client.open("once");
    await again.whenSynced();
    expect(again.doc.getText("t").toString()).toBe("kept");
  });
});
