import { LevelDocumentStore } from "@tandem/server";
import { connectClient, startTestServer, type TestServer, tempDir, waitFor } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * A document that got a burst of edits must load in one read afterwards: its log is folded into
 * the compacted state once it goes quiet, when the server unloads it, and when the store closes,
 * even though the burst stayed under the size thresholds that apply while it is edited.
 */

const thresholdsNeverReached = { minUpdates: 1_000_000, ratio: 0, maxUpdates: 1_000_000 };

function typing(count: number): Uint8Array[] {
  const doc = new Y.Doc();
  doc.clientID = 3;
  const updates: Uint8Array[] = [];
  doc.on("update", (u: Uint8Array) => updates.push(u));
  const text = doc.getText("t");
  for (let i = 0; i < count; i++) text.insert(text.length, String(i % 10));
  return updates;
}

const expectedText = (count: number) =>
  Array.from({ length: count }, (_, i) => String(i % 10)).join("");

async function pendingOf(store: { list(): Promise<{ name: string; pendingUpdates: number }[]> }) {
  return (await store.list()).find((d) => d.name === "doc")?.pendingUpdates;
}

describe("compaction when a document goes quiet, unloads or the store closes", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  const open = async (path: string, quietMs: number) => {
    const store = await LevelDocumentStore.open({
      path,
      fsync: false,
      compaction: { ...thresholdsNeverReached, quietMs },
    });
    cleanups.push(() => store.close());
    return store;
  };

  it("folds the log in once no update came for the quiet time", async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const store = await open(dir.path, 100);
    await Promise.all(typing(300).map((u) => store.append("doc", u)));
    expect(await pendingOf(store)).toBe(300);
    await waitFor("the quiet document to be compacted", async () => (await pendingOf(store)) === 0);
    const loaded = await store.load("doc");
    expect(loaded?.updates).toEqual([]);
  });

  it("folds the log in when the store closes, so the next open reads one state", async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const first = await open(dir.path, 60_000);
    await Promise.all(typing(300).map((u) => first.append("doc", u)));
    await first.close();
    const second = await open(dir.path, 0);
    const loaded = await second.load("doc");
    expect(loaded?.updates).toEqual([]);
    const doc = new Y.Doc();
    Y.applyUpdate(doc, loaded?.state as Uint8Array);
    expect(doc.getText("t").toString()).toBe(expectedText(300));
  });

  it("leaves a tiny log against a large state alone (no rewrite of the state per quiet moment)", async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const store = await open(dir.path, 60_000);
    await Promise.all(typing(2_000).map((u) => store.append("doc", u)));
    await store.compact("doc");
    const doc = new Y.Doc();
    Y.applyUpdate(doc, (await store.read("doc")) as Uint8Array);
    doc.on("update", (u: Uint8Array) => void store.append("doc", u));
    doc.getText("t").insert(0, "ab");
    doc.getText("t").insert(0, "c");
    await store.durable("doc");
    await store.close();
    const reopened = await open(dir.path, 0);
    expect((await reopened.load("doc"))?.updates).toHaveLength(2);
  });

  describe("through the server", () => {
    let server: TestServer;
    afterEach(async () => {
      await server?.dispose();
    });

    it("compacts a document when its last client leaves, and a burst of edits loads from one state after a restart", async () => {
      // Quiet compaction far away, thresholds out of reach: only the unload can compact.
      server = await startTestServer({
        compactWhenQuiet: 600_000,
        compactAfterUpdates: 1_000_000,
        maxLogUpdates: 1_000_000,
      });
      const writer = connectClient(server.url, "doc");
      await writer.synced();
      const text = writer.doc.getText("t");
      for (let i = 0; i < 5_000; i++) text.insert(text.length, String(i % 10));
      await writer.stored();
      expect(await pendingOf(server.store)).toBeGreaterThan(100);
      writer.destroy();
      const active = server;
      await waitFor("the document to unload", () => active.hocuspocus.getDocumentsCount() === 0);
      await waitFor("the unloaded document to be compacted", async () => {
        return (await pendingOf(active.store)) === 0;
      });

      server = await server.restart();
      const loaded = await server.store.load("doc");
      expect(loaded?.updates).toEqual([]);
      const reader = connectClient(server.url, "doc");
      await reader.synced();
      expect(reader.doc.getText("t").toString()).toBe(expectedText(5_000));
      reader.destroy();
    });
  });
});
