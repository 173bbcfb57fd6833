import { LevelDocumentStore } from "@tandem/server";
import {
  connectClient,
  GatedStore,
  startTestServer,
  type TestClient,
  type TestServer,
  tempDir,
  waitFor,
} from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * Writes that fail for other reasons than a full disk (disk-full.test.ts): EIO injected into the
 * real LevelDB store, which must hold acknowledgements, reopen its database and store everything;
 * a shutdown while writes fail; and an append that fails for good, with a peer keeping the
 * document open (its state vector must not claim the lost update).
 */

const compaction = { minUpdates: 500, ratio: 0.5, maxUpdates: 20_000 };

function eio(): Error {
  return Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
}

const textOf = (client: TestClient) => client.doc.getText("t").toString();

async function storedText(server: TestServer, name: string): Promise<string> {
  const doc = new Y.Doc();
  const update = await server.store.read(name);
  if (update) Y.applyUpdate(doc, update);
  return doc.getText("t").toString();
}

describe("a failing store", () => {
  let server: TestServer | null = null;
  const clients: TestClient[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server?.dispose();
    server = null;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** A real LevelDB store whose writes fail with EIO while `failing.on` is set. */
  const openFailingStore = async (path: string) => {
    const failing = { on: false, failures: 0 };
    const store = await LevelDocumentStore.open({
      path,
      fsync: false,
      compaction,
      beforeWrite: () => {
        if (!failing.on) return;
        failing.failures++;
        throw eio();
      },
    });
    return { store, failing };
  };

  const start = async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const { store, failing } = await openFailingStore(dir.path);
    server = await startTestServer({ data: dir.path }, { store });
    return { server, failing, path: dir.path };
  };

  it("holds acknowledgements while writes fail with EIO, then stores everything without a restart", async () => {
    const { server: s, failing } = await start();
    const writer = connectClient(s.url, "doc");
    const watcher = connectClient(s.url, "doc");
    clients.push(writer, watcher);
    // Synced first: an edit made while connecting goes out twice (in the sync and queued), and
    // the provider's counter of unacknowledged changes would then reach 0 one ack early.
    await writer.synced();
    writer.doc.getText("t").insert(0, "before ");
    await Promise.all([writer.stored(), watcher.synced()]);

    failing.on = true;
    const text = writer.doc.getText("t");
    for (const word of ["while ", "the ", "disk ", "fails "]) text.insert(text.length, word);
    await waitFor("the watcher to see the edits live", () => textOf(watcher).endsWith("fails "));
    await waitFor("the store to retry the failed write", () => failing.failures >= 3);
    const ready = await fetch(`${s.httpUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/EIO/);
    expect(writer.provider.hasUnsyncedChanges).toBe(true);

    // The writer reconnects while the store still fails: its sync finds nothing to send, and
    // that must not be acknowledged either while the document holds unstored updates.
    writer.goOffline();
    writer.goOnline();
    await writer.synced();
    await waitFor("one more failed retry after the reconnect", () => failing.failures >= 5);
    expect(writer.provider.hasUnsyncedChanges).toBe(true);

    failing.on = false;
    await writer.stored();
    expect((await fetch(`${s.httpUrl}/readyz`)).status).toBe(200);
    expect(await storedText(s, "doc")).toBe("before while the disk fails ");
    server = await s.restart();
    expect(await storedText(server, "doc")).toBe("before while the disk fails ");
  });

  it("a shutdown while writes fail acknowledges nothing more, and the clients resend to the next server", async () => {
    const { server: s, failing, path } = await start();
    const writer = connectClient(s.url, "doc");
    clients.push(writer);
    await writer.synced(); // see above: no edit while connecting
    writer.doc.getText("t").insert(0, "kept ");
    await writer.stored();

    failing.on = true;
    writer.doc.getText("t").insert(5, "and resent");
    await waitFor("the store to retry the failed write", () => failing.failures >= 2);
    await s.stop();
    expect(writer.provider.hasUnsyncedChanges).toBe(true);

    // The next server runs on the same data with a working disk; the client reconnects by itself.
    const { store } = await openFailingStore(path);
    server = await s.restart({ store });
    await writer.stored();
    expect(await storedText(server, "doc")).toBe("kept and resent");
  });

  it("an append that fails for good drops the document from memory, so a peer holding it open cannot hide the loss", async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const gated = new GatedStore(
      await LevelDocumentStore.open({ path: dir.path, fsync: false, compaction }),
    );
    server = await startTestServer({ data: dir.path }, { store: gated });
    const writer = connectClient(server.url, "doc");
    const watcher = connectClient(server.url, "doc");
    clients.push(writer, watcher);
    await Promise.all([writer.stored(), watcher.synced()]);

    gated.failNext(1);
    writer.doc.getText("t").insert(0, "must not be lost");
    await waitFor("the server to close the writer's socket", () => writer.closes.length > 0);
    expect(writer.closes[0]?.code).toBe(1011);
    // Every socket on the document closed, so it was reloaded from the store and the writer's
    // sync sent the edit again.
    await waitFor("the watcher's socket to close too", () => watcher.closes.length > 0);
    expect(watcher.closes[0]?.code).toBe(1011);
    await writer.stored();
    const active = server;
    await waitFor("the edit to be stored", async () => (await storedText(active, "doc")) !== "");
    expect(await storedText(active, "doc")).toBe("must not be lost");
    await waitFor("the watcher to converge", () => textOf(watcher) === "must not be lost");
  });
});
