import { LevelDocumentStore } from "@tandem/server";
import { cleanupScope, seededRandom, textOfUpdate } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { DamagedDocumentError } from "../src/store/damaged.ts";
import type { StoredDocument } from "../src/store/document-store.ts";
import { mergeStoredDocument } from "../src/store/merge.ts";
import { MERGE_IN_PLACE_BYTES, mergeOffThread } from "../src/store/merge-worker/merge-worker.ts";
import { mergeWarm, WarmDocs } from "../src/store/merge-worker/warm-docs.ts";

/**
 * Large documents are merged in a worker thread (compaction), small ones in place. Either way
 * the result must be what mergeStoredDocument gives, byte for byte, and entries that do not
 * apply must be counted, so a damaged document is still refused rather than compacted.
 */

/**
 * A document the way editing makes one, larger than MERGE_IN_PLACE_BYTES: a compacted state, then
 * a log of updates inserting at scattered places and deleting a little.
 */
function editedDocument(seed: number): { stored: StoredDocument; text: string } {
  const random = seededRandom(seed);
  const doc = new Y.Doc();
  const text = doc.getText("t");
  const words = (n: number) =>
    Array.from({ length: n }, () => `lorem${random.int(1000)}`).join(" ");
  for (let i = 0; i < 500; i++) text.insert(random.int(text.length + 1), `${words(60)} `);
  const state = Y.encodeStateAsUpdate(doc);
  const updates: Uint8Array[] = [];
  doc.on("update", (update: Uint8Array) => updates.push(update));
  for (let i = 0; i < 400; i++) {
    if (i % 10 === 9) text.delete(random.int(text.length - 20), 15);
    else text.insert(random.int(text.length + 1), `${words(5)} `);
  }
  const stored = { state, updates };
  expect(state.byteLength + updates.reduce((n, u) => n + u.byteLength, 0)).toBeGreaterThan(
    MERGE_IN_PLACE_BYTES,
  );
  return { stored, text: text.toString() };
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("merging stored documents off the event loop", () => {
  const scope = cleanupScope();
  afterEach(() => scope.cleanup());

  it("merges a large document in the thread to the same bytes as in place", async () => {
    const { stored, text } = editedDocument(1);
    // First: mergeOffThread hands the buffers over to the thread.
    const inPlace = mergeStoredDocument(stored);
    const merged = await mergeOffThread(stored);
    expect(merged.failed).toBe(0);
    expect(hex(merged.update)).toBe(hex(inPlace.update));
    expect(textOfUpdate(merged.update)).toBe(text);
  });

  it("copies what it cannot hand over: views into a shared buffer stay intact", async () => {
    const { stored, text } = editedDocument(8);
    // As a Redis reply holds them: every entry a view into one larger buffer.
    const all = Buffer.concat([stored.state as Uint8Array, ...stored.updates]);
    let offset = 0;
    const view = (length: number) => {
      const part = new Uint8Array(all.buffer, all.byteOffset + offset, length);
      offset += length;
      return part;
    };
    const shared = {
      state: view((stored.state as Uint8Array).byteLength),
      updates: stored.updates.map((u) => view(u.byteLength)),
    };
    const before = hex(all);
    expect(textOfUpdate((await mergeOffThread(shared)).update)).toBe(text);
    expect(hex(all)).toBe(before);
  });

  it("counts the entries that do not apply, as in place, and merges the rest", async () => {
    const { stored } = editedDocument(2);
    const damaged = {
      state: stored.state,
      updates: [...stored.updates, Uint8Array.of(0xff, 0xfe, 0xfd, 0xfc, 0x01, 0x02)],
    };
    const inPlace = mergeStoredDocument(damaged);
    const merged = await mergeOffThread(damaged);
    expect(merged.failed).toBe(1);
    expect(inPlace.failed).toBe(1);
    expect(hex(merged.update)).toBe(hex(inPlace.update));
  });

  it("keeps several merges apart when they are asked for at once", async () => {
    const documents = [3, 4, 5].map(editedDocument);
    const merged = await Promise.all(documents.map(({ stored }) => mergeOffThread(stored)));
    expect(merged.map((m) => textOfUpdate(m.update))).toEqual(documents.map((d) => d.text));
  });

  it("compacts a large document in the store through the thread; a damaged one is refused and kept as it was", async () => {
    const store = await LevelDocumentStore.open({
      path: await scope.dir(),
      fsync: false,
      // Compactions only when asked for below.
      compaction: { minUpdates: 1_000_000, ratio: 0, maxUpdates: 1_000_000 },
    });
    scope.defer(() => store.close());
    const { stored, text } = editedDocument(6);
    for (const update of [stored.state as Uint8Array, ...stored.updates]) {
      await store.append("large", update);
    }
    const result = await store.compact("large");
    expect(result?.merged).toBe(stored.updates.length + 1);
    expect(await store.load("large")).toMatchObject({ updates: [] });
    expect(textOfUpdate((await store.read("large")) as Uint8Array)).toBe(text);

    const other = editedDocument(7).stored;
    for (const update of [other.state as Uint8Array, ...other.updates]) {
      await store.append("damaged", update);
    }
    await store.append("damaged", Uint8Array.of(0xff, 0xfe, 0xfd, 0xfc, 0x01, 0x02));
    await expect(store.compact("damaged")).rejects.toBeInstanceOf(DamagedDocumentError);
    const kept = await store.load("damaged");
    expect(kept?.state).toBeNull();
    expect(kept?.updates).toHaveLength(other.updates.length + 2);
  });
});

/** Someone editing a large document at scattered places: the updates of each round of edits. */
function editor(seed: number) {
  const random = seededRandom(seed);
  const doc = new Y.Doc();
  const text = doc.getText("t");
  const words = (n: number) =>
    Array.from({ length: n }, () => `lorem${random.int(1000)}`).join(" ");
  let round: Uint8Array[] = [];
  doc.on("update", (update: Uint8Array) => round.push(update));
  return {
    doc,
    text: () => text.toString(),
    vector: () => hex(Y.encodeStateVector(doc)),
    /** `count` edits, each inserting `size` words or (one in ten) deleting a little. */
    edit(count: number, size: number): Uint8Array[] {
      for (let i = 0; i < count; i++) {
        if (i % 10 === 9) text.delete(random.int(text.length - 20), 15);
        else text.insert(random.int(text.length + 1), `${words(size)} `);
      }
      const updates = round;
      round = [];
      return updates;
    },
  };
}

const vectorOf = (update: Uint8Array) => hex(Y.encodeStateVectorFromUpdate(update));

describe("a document's next compaction starts from the merge the thread kept (warm-docs.ts)", () => {
  const scope = cleanupScope();
  afterEach(() => scope.cleanup());

  const openStore = async (path: string) => {
    const store = await LevelDocumentStore.open({
      path,
      fsync: false,
      // Compactions only when asked for below.
      compaction: { minUpdates: 1_000_000, ratio: 0, maxUpdates: 1_000_000 },
    });
    scope.defer(() => store.close());
    return store;
  };

  it("compacts a document being written from its kept merge, to the same content as from the state", async () => {
    const path = await scope.dir();
    const store = await openStore(path);
    const writer = editor(11);
    const sources: string[] = [];
    for (const [round, size] of [70, 5, 5, 5].entries()) {
      for (const update of writer.edit(500, size)) await store.append("written", update);
      const result = await store.compact("written");
      sources.push(result?.source ?? "none");
      const stored = (await store.read("written")) as Uint8Array;
      expect(stored.byteLength, `round ${round}`).toBeGreaterThan(MERGE_IN_PLACE_BYTES);
      expect(textOfUpdate(stored), `round ${round}`).toBe(writer.text());
      expect(vectorOf(stored), `round ${round}`).toBe(writer.vector());
    }
    expect(sources).toEqual(["log", "kept merge", "kept merge", "kept merge"]);

    // What is on disk is the whole document: a new store reads it back.
    await store.close();
    const reopened = await openStore(path);
    expect(textOfUpdate((await reopened.read("written")) as Uint8Array)).toBe(writer.text());
  });

  it("never starts a re-created document from the merge kept for the deleted one", async () => {
    const store = await openStore(await scope.dir());
    const first = editor(12);
    for (const update of first.edit(500, 70)) await store.append("again", update);
    expect(await store.compact("again")).toMatchObject({ source: "log" });
    expect(await store.delete("again")).toBe(true);

    // Under the same name, a document whose state reaches the same sequence number (500) without
    // the thread: compacted from memory while the server holds it.
    const second = editor(13);
    const detach = store.attachLive("again", second.doc);
    for (const update of second.edit(500, 1)) await store.append("again", update);
    expect(await store.compact("again")).toMatchObject({ source: "memory", merged: 500 });
    detach();
    for (const update of second.edit(500, 70)) await store.append("again", update);
    expect(await store.compact("again")).toMatchObject({ source: "log" });
    expect(textOfUpdate((await store.read("again")) as Uint8Array)).toBe(second.text());
    // Its own kept merge serves its next compaction.
    for (const update of second.edit(100, 5)) await store.append("again", update);
    expect(await store.compact("again")).toMatchObject({ source: "kept merge" });
    expect(textOfUpdate((await store.read("again")) as Uint8Array)).toBe(second.text());
  });

  it("keeps the merges of two stores open at once apart (one thread serves the process)", async () => {
    const [one, two] = [await openStore(await scope.dir()), await openStore(await scope.dir())];
    const writers = [editor(14), editor(15)];
    for (const size of [70, 5, 5]) {
      for (const [i, store] of [one, two].entries()) {
        const writer = writers[i] as ReturnType<typeof editor>;
        for (const update of writer.edit(500, size)) await store.append("same name", update);
        const result = await store.compact("same name");
        expect(result?.source).toBe(size === 70 ? "log" : "kept merge");
        expect(textOfUpdate((await store.read("same name")) as Uint8Array)).toBe(writer.text());
      }
    }
  });

  it("keeps merges within a byte budget, the least recently kept out first; a damaged merge is not kept", () => {
    const warmDocs = new WarmDocs(1_000);
    const docOf = (text: string) => {
      const doc = new Y.Doc();
      doc.getText("t").insert(0, text);
      return doc;
    };
    expect(warmDocs.keep(1, docOf("a"), 400)).toBe(true);
    expect(warmDocs.keep(2, docOf("b"), 400)).toBe(true);
    expect(warmDocs.keep(3, docOf("c"), 1_001)).toBe(false);
    expect(warmDocs.keep(4, docOf("d"), 400)).toBe(true);
    expect(warmDocs.take(1)).toBeUndefined();
    expect(warmDocs.take(2)?.getText("t").toString()).toBe("b");
    expect(warmDocs.take(2)).toBeUndefined();
    expect(warmDocs.size).toBe(1);

    // Started from a kept merge, the state sent along is not applied (here it says otherwise).
    const base = docOf("kept ");
    const writer = new Y.Doc();
    Y.applyUpdate(writer, Y.encodeStateAsUpdate(base));
    warmDocs.keep(7, base, 10);
    const tail: Uint8Array[] = [];
    writer.on("update", (update: Uint8Array) => tail.push(update));
    writer.getText("t").insert(5, "and more");
    const state = Y.encodeStateAsUpdate(docOf("not this"));
    const merged = mergeWarm(warmDocs, { state, updates: tail }, [], { from: 7, keep: 8 });
    expect(merged).toMatchObject({ failed: 0, reused: true, kept: true });
    expect(textOfUpdate(merged.update)).toBe("kept and more");

    const damaged = mergeWarm(
      warmDocs,
      { state: null, updates: [Uint8Array.of(0xff, 0xfe, 0xfd, 0xfc, 0x01, 0x02)] },
      [],
      { from: 8, keep: 9 },
    );
    expect(damaged).toMatchObject({ failed: 1, reused: true, kept: false });
    expect(warmDocs.take(8)).toBeUndefined();
    expect(warmDocs.take(9)).toBeUndefined();
  });
});
