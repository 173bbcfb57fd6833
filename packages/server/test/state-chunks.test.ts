import { LevelDocumentStore, type LevelStoreOptions } from "@tandem/server";
import { runCli, tempDir, textOfUpdate } from "@tandem/testkit";
import { ClassicLevel } from "classic-level";
import { afterEach, describe, expect, it } from "vitest";
import * as Y from "yjs";

/**
 * A large compacted state is stored in parts (store/state-chunks.ts), each written on its own
 * before the batch that commits the compaction names them. These tests make parts small
 * (stateChunkBytes) so that documents of a few KB have several.
 */

/** Keys as keys.ts lays them out: d\0<name>\0t<seq:16 hex><count:8 hex><index:8 hex>. */
const PART = /^d\0(.*)\0t([0-9a-f]{16})([0-9a-f]{8})([0-9a-f]{8})$/;
const partKey = (name: string, seq: number, count: number, index: number): string =>
  `d\0${name}\0t${seq.toString(16).padStart(16, "0")}${count.toString(16).padStart(8, "0")}${index
    .toString(16)
    .padStart(8, "0")}`;

/** Text that does not repeat, so the state's size follows its length. */
function prose(length: number, seed: number): string {
  let out = "";
  let x = seed;
  while (out.length < length) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out += String.fromCharCode(97 + (x % 26));
  }
  return out;
}

/** Updates that each append `size` characters of new text to `t`, from one client. */
function appendUpdates(doc: Y.Doc, count: number, size: number, seed: number): Uint8Array[] {
  const updates: Uint8Array[] = [];
  const listener = (update: Uint8Array) => updates.push(update);
  doc.on("update", listener);
  const text = doc.getText("t");
  for (let i = 0; i < count; i++) text.insert(text.length, prose(size, seed + i));
  doc.off("update", listener);
  return updates;
}

describe("a large compacted state in parts", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  async function open(path: string, options: Partial<LevelStoreOptions> = {}) {
    const store = await LevelDocumentStore.open({
      path,
      fsync: false,
      compaction: { minUpdates: 1_000_000, ratio: 0, maxUpdates: 1_000_000 },
      stateChunkBytes: 1024,
      ...options,
    });
    cleanups.push(() => store.close());
    return store;
  }

  async function dir(): Promise<string> {
    const made = await tempDir();
    cleanups.push(() => made.remove());
    return made.path;
  }

  /** The document's state keys: its whole state ('s'), and its parts by seq. */
  async function stateKeys(path: string, name: string) {
    const raw = new ClassicLevel<string, Uint8Array>(path, { valueEncoding: "view" });
    try {
      const keys = await raw.keys({ gte: `d\0${name}\0s`, lt: `d\0${name}\0u` }).all();
      const parts = keys.flatMap((key) => {
        const match = PART.exec(key);
        return match ? [{ seq: Number.parseInt(match[2] as string, 16), key }] : [];
      });
      return {
        whole: keys.includes(`d\0${name}\0s`),
        parts,
        seqs: new Set(parts.map((p) => p.seq)),
      };
    } finally {
      await raw.close();
    }
  }

  /** Appends `updates` to `name` one by one, then compacts it. */
  async function appendAndCompact(
    store: LevelDocumentStore,
    name: string,
    updates: readonly Uint8Array[],
  ) {
    for (const update of updates) await store.append(name, update);
    return store.compact(name);
  }

  async function withRaw(
    path: string,
    use: (raw: ClassicLevel<string, Uint8Array>) => Promise<void>,
  ) {
    const raw = new ClassicLevel<string, Uint8Array>(path, { valueEncoding: "view" });
    try {
      await use(raw);
    } finally {
      await raw.close();
    }
  }

  it.each([{ fsync: false }, { fsync: true }])(
    "is read back whole after a restart, replaced by the next compaction, and one value again once small (%o)",
    async ({ fsync }) => {
      const path = await dir();
      const source = new Y.Doc();
      const first = appendUpdates(source, 5, 1000, 1);
      let store = await open(path, { fsync });
      const compacted = await appendAndCompact(store, "doc", first);
      expect(compacted?.stateBytes).toBeGreaterThan(5000);
      await store.close();

      let keys = await stateKeys(path, "doc");
      expect(keys.whole).toBe(false);
      expect(keys.parts.length).toBe(Math.ceil((compacted?.stateBytes ?? 0) / 1024));
      expect([...keys.seqs]).toEqual([5]);

      store = await open(path, { fsync });
      expect(textOfUpdate(await store.read("doc"))).toBe(source.getText("t").toString());
      // More text, compacted again: the new parts replace the old ones.
      await appendAndCompact(store, "doc", appendUpdates(source, 3, 1000, 100));
      expect(textOfUpdate(await store.read("doc"))).toBe(source.getText("t").toString());
      await store.close();
      keys = await stateKeys(path, "doc");
      expect([...keys.seqs]).toEqual([8]);
      expect(keys.whole).toBe(false);

      // Everything deleted: the state is small again, one value, and no part is left.
      store = await open(path, { fsync });
      const deletion: Uint8Array[] = [];
      source.on("update", (update: Uint8Array) => deletion.push(update));
      source.getText("t").delete(0, source.getText("t").length);
      for (const update of deletion) await store.append("doc", update);
      await store.compact("doc");
      expect(textOfUpdate(await store.read("doc"))).toBe("");
      await store.close();
      keys = await stateKeys(path, "doc");
      expect(keys.whole).toBe(true);
      expect(keys.parts).toEqual([]);
      expect(runCli("check", "--data", path).status).toBe(0);
    },
  );

  it("is merged from its parts in the merge thread, and written in parts from the server's copy", async () => {
    const path = await dir();
    // Over 256 KiB: the compactions from the log merge in the merge thread.
    const source = new Y.Doc();
    let store = await open(path, { stateChunkBytes: 64 * 1024 });
    await appendAndCompact(store, "big", appendUpdates(source, 30, 10_000, 7));
    // Reopened, so the thread has not kept the first merge (warm-docs.ts): the state is read.
    await store.close();
    store = await open(path, { stateChunkBytes: 64 * 1024 });
    const fromLog = await appendAndCompact(store, "big", appendUpdates(source, 5, 10_000, 70));
    expect(fromLog?.source).toBe("log");
    expect(textOfUpdate(await store.read("big"))).toBe(source.getText("t").toString());

    // A map value rewritten many times, compacted from the document the server holds.
    const live = new Y.Doc();
    const updates: Uint8Array[] = [];
    live.on("update", (update: Uint8Array) => updates.push(update));
    for (let i = 0; i < 10; i++) live.getMap("m").set("k", prose(70_000, i));
    store.attachLive("map", live);
    for (const update of updates) await store.append("map", update);
    const fromMemory = await store.compact("map");
    expect(fromMemory?.source).toBe("memory");
    await store.close();
    expect((await stateKeys(path, "big")).parts.length).toBeGreaterThan(1);
    expect((await stateKeys(path, "map")).parts.length).toBeGreaterThan(1);

    store = await open(path, { stateChunkBytes: 64 * 1024 });
    expect(textOfUpdate(await store.read("big"))).toBe(source.getText("t").toString());
    const read = new Y.Doc();
    Y.applyUpdate(read, (await store.read("map")) as Uint8Array);
    expect(read.getMap("m").get("k")).toBe(prose(70_000, 9));
  });

  it("left over from a compaction that did not finish, changes nothing and is deleted by the next", async () => {
    const path = await dir();
    const source = new Y.Doc();
    let store = await open(path);
    await appendAndCompact(store, "doc", appendUpdates(source, 4, 1000, 3));
    for (const update of appendUpdates(source, 2, 1000, 30)) await store.append("doc", update);
    await store.close();
    const expected = source.getText("t").toString();

    // A crash after the parts of a state up to seq 6 were written (complete, in 2 parts), and
    // another in the middle of writing one up to seq 7 (1 of its 3 parts).
    const whole = Y.encodeStateAsUpdate(source);
    const half = Math.ceil(whole.byteLength / 2);
    await withRaw(path, async (raw) => {
      await raw.put(partKey("doc", 6, 2, 0), whole.subarray(0, half));
      await raw.put(partKey("doc", 6, 2, 1), whole.subarray(half));
      await raw.put(partKey("doc", 7, 3, 0), new Uint8Array([1, 2, 3]));
    });
    expect((await stateKeys(path, "doc")).seqs).toEqual(new Set([4, 6, 7]));

    store = await open(path);
    expect(textOfUpdate(await store.read("doc"))).toBe(expected);
    // A backup reads without the records: it merges every complete state with the log.
    const snapshot = new Map<string, string>();
    for await (const { name, update } of store.snapshot()) snapshot.set(name, textOfUpdate(update));
    expect(snapshot.get("doc")).toBe(expected);
    await store.close();
    expect(runCli("check", "--data", path).status).toBe(0);

    store = await open(path);
    await appendAndCompact(store, "doc", appendUpdates(source, 1, 1000, 300));
    await store.close();
    expect((await stateKeys(path, "doc")).seqs).toEqual(new Set([7]));
    store = await open(path);
    expect(textOfUpdate(await store.read("doc"))).toBe(source.getText("t").toString());
  });

  it("makes version snapshots in parts too: read back whole, checked, and deleted with their version", async () => {
    const path = await dir();
    const source = new Y.Doc();
    let store = await open(path);
    // Its state in parts, and a log after it: the version joins them.
    await appendAndCompact(store, "doc", appendUpdates(source, 5, 1000, 11));
    for (const update of appendUpdates(source, 2, 1000, 12)) await store.append("doc", update);
    const version = await store.versions.record("doc", { kind: "named", label: "draft" });
    if (!version) throw new Error("no version recorded");
    const read = await store.versions.read("doc", version.id);
    expect(textOfUpdate(read?.update ?? null)).toBe(source.getText("t").toString());
    await store.close();

    const snapshotKeys = async () => {
      let keys: string[] = [];
      await withRaw(path, async (raw) => {
        keys = await raw.keys({ gte: `d\0doc\0x`, lt: `d\0doc\0y` }).all();
      });
      return keys;
    };
    const keys = await snapshotKeys();
    expect(keys.length).toBeGreaterThan(1);
    expect(keys.every((key) => key.startsWith(`d\0doc\0x${version.id}p`))).toBe(true);
    const check = runCli("check", "--data", path);
    expect(check.status).toBe(0);
    expect(check.stdout).toContain("1 version");

    store = await open(path);
    expect(textOfUpdate((await store.versions.read("doc", version.id))?.update ?? null)).toBe(
      source.getText("t").toString(),
    );
    expect(await store.versions.delete("doc", [version.id])).toBe(1);
    await store.close();
    expect(await snapshotKeys()).toEqual([]);
  });

  it("named by the record but missing makes a damaged document: refused, and reported by check", async () => {
    const path = await dir();
    const source = new Y.Doc();
    let store = await open(path);
    await appendAndCompact(store, "doc", appendUpdates(source, 4, 1000, 5));
    await store.close();
    const { parts } = await stateKeys(path, "doc");
    await withRaw(path, (raw) => raw.del((parts[1] as { key: string }).key));

    store = await open(path);
    await expect(store.read("doc")).rejects.toThrow(/compacted state has \d+ of its \d+ parts/);
    await store.close();
    const check = runCli("check", "--data", path);
    expect(check.status).not.toBe(0);
    expect(check.stdout).toMatch(/compacted state has \d+ of its \d+ parts/);
  });
});
