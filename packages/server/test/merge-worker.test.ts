import { LevelDocumentStore } from "@tandem/server";
import { cleanupScope, seededRandom, textOfUpdate } from "@tandem/testkit";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";
import { DamagedDocumentError } from "../src/store/damaged.ts";
import type { StoredDocument } from "../src/store/document-store.ts";
import { mergeStoredDocument } from "../src/store/merge.ts";
import { MERGE_IN_PLACE_BYTES, mergeOffThread } from "../src/store/merge-worker/merge-worker.ts";

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
