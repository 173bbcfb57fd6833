// IndexedDB for Node.js: lets these tests run the offline cache code (real browsers are covered
// by the end-to-end tests).
import "fake-indexeddb/auto";
import { waitFor } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { clientPool, serverPool } from "./helpers.ts";

async function cachedDocuments(): Promise<string[]> {
  const databases = await indexedDB.databases();
  return databases
    .map((db) => db.name ?? "")
    .filter((name) => name.startsWith("tandem:"))
    .map((name) => name.slice(name.lastIndexOf(":") + 1))
    .sort();
}

describe("offline cache", () => {
  const pool = clientPool();
  const servers = serverPool();

  afterEach(async () => {
    await pool.closeAll();
    await servers.disposeAll();
    for (const { name } of await indexedDB.databases()) {
      if (!name) continue;
      await new Promise((resolve, reject) => {
        const request = indexedDB.deleteDatabase(name);
        request.onsuccess = resolve;
        request.onerror = () => reject(request.error);
      });
    }
  });

  const restartableServer = () => servers.restartable();

  it("opens offline with the cached state, keeps new edits, and merges when the server is back", async () => {
    const server = await restartableServer();

    // Yesterday, online: the document is written and cached.
    const yesterday = pool.create(server.url, { offline: true });
    expect(yesterday.offline).toBe(true);
    const before = yesterday.open("journal");
    await before.whenLoaded();
    await before.whenSynced();
    before.doc.getText("t").insert(0, "hello");
    await before.whenStored();
    await yesterday.close();

    // Someone else keeps editing on the server.
    const colleague = pool.create(server.url).open("journal");
    await colleague.whenSynced();
    colleague.doc.getText("t").insert(5, " world");
    await colleague.whenStored();

    // Today the server is out of reach: the document opens with what the cache holds...
    await server.stop();
    const today = pool.create(server.url, { offline: true }).open("journal");
    await today.whenLoaded();
    expect(today.doc.getText("t").toString()).toBe("hello");
    expect(today.status).not.toBe("connected");
    // ...and takes new edits, which are not on the server yet.
    today.doc.getText("t").insert(0, "¡");
    expect(today.stored).toBe(false);

    // The server is back: both sides merge.
    await server.start();
    await today.whenSynced();
    await today.whenStored();
    expect(today.doc.getText("t").toString()).toBe("¡hello world");
    await waitFor(
      "the colleague to get the offline edit",
      () => colleague.doc.getText("t").toString() === "¡hello world",
    );
  });

  it("offline: false keeps no cache; clearOffline() deletes one document's cache", async () => {
    const server = await restartableServer();
    const uncached = pool.create(server.url, { offline: false });
    expect(uncached.offline).toBe(false);
    const plain = uncached.open("plain");
    await plain.whenSynced();
    plain.doc.getText("t").insert(0, "not cached");
    await plain.whenStored();
    expect(await cachedDocuments()).toEqual([]);

    const cached = pool.create(server.url, { offline: true });
    for (const name of ["kept", "cleared"]) {
      const doc = cached.open(name);
      await doc.whenLoaded();
      doc.doc.getText("t").insert(0, `${name} text`);
      await doc.whenStored();
    }
    expect(await cachedDocuments()).toEqual(["cleared", "kept"]);
    await expect(cached.clearOffline("kept")).rejects.toThrow(/close it before clearing/);
    await cached.close();

    const later = pool.create(server.url, { offline: true });
    await later.clearOffline("cleared");
    expect(await cachedDocuments()).toEqual(["kept"]);

    // Offline, only the document still cached has content.
    await server.stop();
    const kept = later.open("kept");
    const cleared = later.open("cleared");
    await Promise.all([kept.whenLoaded(), cleared.whenLoaded()]);
    expect(kept.doc.getText("t").toString()).toBe("kept text");
    expect(cleared.doc.getText("t").toString()).toBe("");
  });
});
