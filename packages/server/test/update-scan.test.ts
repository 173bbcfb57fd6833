import {
  manyRootsUpdate,
  nestedMapsUpdate,
  type Random,
  seededRandom,
  subdocumentsUpdate,
} from "@tandem/testkit";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { checkUpdate, DEFAULT_UPDATE_LIMITS } from "../src/protocol/frame-screen.ts";
import { analyzeStructure, type ScannedStruct, scanUpdate } from "../src/protocol/update-scan.ts";

/** Random edits on every kind of shared type by three synced clients; every update they make. */
function randomHistory(random: Random, steps: number): { docs: Y.Doc[]; updates: Uint8Array[] } {
  const docs = [1, 2, 3].map((id) => {
    const doc = new Y.Doc({ gc: id !== 3 });
    doc.clientID = id * 1000 + random.int(1000);
    return doc;
  });
  const updates: Uint8Array[] = [];
  for (const doc of docs) doc.on("update", (u: Uint8Array) => updates.push(u));
  const word = () => ["a", "bc", "def", "😀x", "\n"][random.int(5)] as string;
  const nested = (): unknown => {
    switch (random.int(4)) {
      case 0:
        return new Y.Map();
      case 1:
        return Y.Array.from([random.int(10), "s"]);
      case 2:
        return new Y.Text(word());
      default:
        return new Uint8Array([random.int(256), 1, 2]);
    }
  };
  /** A random nested map or array reachable from the root map, up to a few levels deep. */
  const someMap = (doc: Y.Doc): Y.Map<unknown> => {
    let map = doc.getMap("m");
    for (let i = 0; i < 4; i++) {
      const children = [...map.values()].filter((v): v is Y.Map<unknown> => v instanceof Y.Map);
      if (children.length === 0 || random.next() < 0.3) break;
      map = random.pick(children);
    }
    return map;
  };
  for (let step = 0; step < steps; step++) {
    const doc = random.pick(docs);
    doc.transact(() => {
      for (let op = 0; op < 1 + random.int(3); op++) {
        const text = doc.getText("t");
        const array = doc.getArray<unknown>("a");
        const xml = doc.getXmlFragment("x");
        switch (random.int(10)) {
          case 0:
            text.insert(
              random.int(text.length + 1),
              word(),
              random.next() < 0.3 ? { bold: true } : {},
            );
            break;
          case 1:
            if (text.length > 0) {
              const at = random.int(text.length);
              text.delete(at, 1 + random.int(Math.min(3, text.length - at)));
            }
            break;
          case 2:
            if (text.length > 1)
              text.format(random.int(text.length - 1), 2, {
                italic: random.next() < 0.5 ? true : null,
              });
            text.insertEmbed(random.int(text.length + 1), { image: `i${random.int(9)}` });
            break;
          case 3:
            someMap(doc).set(`k${random.int(6)}`, nested());
            break;
          case 4:
            someMap(doc).set(
              `v${random.int(6)}`,
              random.next() < 0.5 ? random.int(100) : { j: [1, "x"] },
            );
            break;
          case 5: {
            const map = someMap(doc);
            const key = random.pick([...map.keys(), "none"]);
            map.delete(key);
            break;
          }
          case 6:
            array.insert(random.int(array.length + 1), [random.int(9), nested()]);
            break;
          case 7:
            if (array.length > 0) array.delete(random.int(array.length), 1);
            break;
          case 8: {
            const element = new Y.XmlElement(random.pick(["p", "li", "h1"]));
            element.setAttribute("class", word());
            element.insert(0, [new Y.XmlText(word())]);
            xml.insert(random.int(xml.length + 1), [element]);
            someMap(doc).set("hook", new Y.XmlHook("hook"));
            break;
          }
          default:
            if (xml.length > 0) xml.delete(random.int(xml.length), 1);
        }
      }
    });
    // Sync now and then, so later edits build on other clients' items.
    if (random.next() < 0.4) {
      const [from, to] = [random.pick(docs), random.pick(docs)];
      Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)));
    }
  }
  return { docs, updates };
}

/** Nesting depth of every type in a document; 1 for a type directly in a root type. */
function maxDepthOf(doc: Y.Doc): number {
  let max = 0;
  const walk = (type: Y.AbstractType<Y.YEvent<Y.AbstractType<unknown>>>, depth: number) => {
    const children: unknown[] = [];
    type._map.forEach((item) => {
      if (!item.deleted) children.push(...item.content.getContent());
    });
    for (let item = type._start; item !== null; item = item.right) {
      if (!item.deleted) children.push(...item.content.getContent());
    }
    for (const child of children) {
      if (child instanceof Y.AbstractType) {
        max = Math.max(max, depth + 1);
        walk(child, depth + 1);
      }
    }
  };
  for (const root of doc.share.values()) walk(root, 0);
  return max;
}

/** The scan agrees with Y.decodeUpdate struct by struct, and on the delete set. */
function expectSameAsYjs(update: Uint8Array) {
  const result = scanUpdate(update, { keepDeletes: true });
  expect(result.ok).toBe(true);
  if (!result.ok) return;
  const decoded = Y.decodeUpdate(update);
  expect(result.scan.structs.length).toBe(decoded.structs.length);
  decoded.structs.forEach((struct, i) => {
    const s = result.scan.structs[i] as ScannedStruct;
    expect([s.client, s.clock, s.length]).toEqual([
      struct.id.client,
      struct.id.clock,
      struct.length,
    ]);
    if (struct instanceof Y.Item) {
      expect(s.ref).toBe(struct.content.getRef());
      expect(s.origin).toEqual(struct.origin);
      expect(s.rightOrigin).toEqual(struct.rightOrigin);
      if (typeof struct.parent === "string") expect(s.parentKey).toBe(struct.parent);
      else expect(s.parentId).toEqual(struct.parent);
    } else {
      expect(s.ref).toBe(struct instanceof Y.GC ? 0 : 10);
    }
  });
  const deletes = new Map(result.scan.deletes.map((d) => [d.client, d.ranges]));
  expect(deletes.size).toBe(decoded.ds.clients.size);
  for (const [client, items] of decoded.ds.clients) {
    expect(deletes.get(client)).toEqual(items.flatMap((d) => [d.clock, d.len]));
  }
}

describe("update scanner", () => {
  it("reads every update Yjs produces exactly as Yjs does", () => {
    const random = seededRandom();
    const seed = `seed ${random.seed} (rerun with TANDEM_SEED=${random.seed})`;
    const { docs, updates } = randomHistory(random, 300);
    const states = docs.map((d) => Y.encodeStateAsUpdate(d));
    const merged = [
      Y.mergeUpdates(updates),
      // Every third update: merging non-adjacent ones leaves Skip structs in between.
      Y.mergeUpdates(updates.filter((_, i) => i % 3 === 0)),
      Y.mergeUpdates(states),
    ];
    const diffs = docs.map((d) => Y.encodeStateAsUpdate(d, Y.encodeStateVector(docs[0] as Y.Doc)));
    const v2 = docs.map((d) => Y.convertUpdateFormatV2ToV1(Y.encodeStateAsUpdateV2(d)));
    const all = [...updates, ...states, ...merged, ...diffs, ...v2];
    expect(
      all.some((u) => Y.decodeUpdate(u).structs.some((s) => s instanceof Y.GC)),
      seed,
    ).toBe(true);
    expect(
      all.some((u) => Y.decodeUpdate(u).structs.some((s) => s.constructor.name === "Skip")),
      seed,
    ).toBe(true);
    for (const update of all) {
      expectSameAsYjs(update);
      expect(checkUpdate(update, DEFAULT_UPDATE_LIMITS), seed).toBeNull();
    }
  });

  it("counts nesting depth and named parents", () => {
    const random = seededRandom();
    for (let round = 0; round < 5; round++) {
      const { docs } = randomHistory(random, 150);
      for (const doc of docs) {
        const full = scanUpdate(Y.encodeStateAsUpdate(doc));
        if (!full.ok) throw new Error(full.reason);
        // A whole document (collected into fresh items, nothing from outside the update).
        const fresh = new Y.Doc();
        Y.applyUpdate(fresh, Y.encodeStateAsUpdate(doc));
        expect(analyzeStructure(full.scan).maxDepth, `seed ${random.seed}`).toBeGreaterThanOrEqual(
          maxDepthOf(fresh),
        );
      }
    }
    const chain = scanUpdate(nestedMapsUpdate(7, 300));
    if (!chain.ok) throw new Error(chain.reason);
    const structure = analyzeStructure(chain.scan);
    expect(structure.maxDepth).toBe(300);
    expect(structure.namedParents).toBe(1);
    const continued = scanUpdate(nestedMapsUpdate(7, 10, { parent: [7, 299], firstClock: 300 }));
    if (!continued.ok) throw new Error(continued.reason);
    const more = analyzeStructure(continued.scan);
    expect(more.maxDepth).toBe(10);
    expect(more.types[0]?.base).toEqual({ kind: "doc-type", id: { client: 7, clock: 299 } });
    const roots = scanUpdate(manyRootsUpdate(8, 50));
    if (!roots.ok) throw new Error(roots.reason);
    expect(analyzeStructure(roots.scan).namedParents).toBe(50);
  });

  it("counts sub-documents, or stops at the first one", () => {
    const doc = new Y.Doc();
    doc.getMap("m").set("a", new Y.Doc());
    doc.getArray("l").insert(0, [new Y.Doc(), new Y.Doc({ meta: { x: 1 } })]);
    const update = Y.encodeStateAsUpdate(doc);
    expectSameAsYjs(update);
    const counted = scanUpdate(update);
    expect(counted.ok && counted.scan.subdocuments).toBe(3);
    expect(scanUpdate(update, { refuseSubdocuments: true })).toMatchObject({
      ok: false,
      subdocument: true,
    });
    expect(checkUpdate(update, DEFAULT_UPDATE_LIMITS)).toMatch(/sub-document/);
    expect(checkUpdate(update, { ...DEFAULT_UPDATE_LIMITS, allowSubdocuments: true })).toBeNull();
    expect(scanUpdate(subdocumentsUpdate(5, 1000)).ok).toBe(true);
  });

  it("refuses exactly what Y.decodeUpdate refuses, on truncated and corrupted updates", () => {
    const random = seededRandom();
    const seed = `seed ${random.seed} (rerun with TANDEM_SEED=${random.seed})`;
    const { docs, updates } = randomHistory(random, 60);
    const samples = [...updates.slice(-20), ...docs.map((d) => Y.encodeStateAsUpdate(d))];
    let refused = 0;
    for (let i = 0; i < 3000; i++) {
      const original = random.pick(samples);
      let bytes: Uint8Array;
      if (random.next() < 0.3) bytes = original.slice(0, random.int(original.length));
      else {
        bytes = original.slice();
        for (let k = 0; k < 1 + random.int(3); k++)
          bytes[random.int(bytes.length)] = random.int(256);
      }
      let yjs = true;
      try {
        Y.decodeUpdate(bytes);
      } catch {
        yjs = false;
      }
      const scanned = scanUpdate(bytes).ok;
      if (!scanned) refused++;
      expect(scanned, `${seed}: ${Buffer.from(bytes).toString("hex")}`).toBe(yjs);
    }
    expect(refused, seed).toBeGreaterThan(100);
  });
});
