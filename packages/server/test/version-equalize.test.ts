import { parse, render, replaceContent } from "@tandem/schema/convert";
import { seededRandom } from "@tandem/testkit";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import { equalize } from "../src/history/equalize.ts";

/** A document whose rich text is `markdown`. */
function richText(markdown: string, doc = new Y.Doc()): Y.Doc {
  replaceContent(doc, parse(markdown, "markdown"));
  return doc;
}

const markdown = (doc: Y.Doc) => render(doc, "markdown");
const copy = (doc: Y.Doc) => {
  const other = new Y.Doc();
  Y.applyUpdate(other, Y.encodeStateAsUpdate(doc));
  return other;
};

type Op = { insert: string | object; attributes?: Record<string, unknown> };

/**
 * A text's delta with neighbouring runs of equal formatting joined: Yjs may keep such runs apart
 * (a format marker between them), which is the same content.
 */
function normalized(text: Y.Text): Op[] {
  const out: Op[] = [];
  for (const op of text.toDelta() as Op[]) {
    const last = out.at(-1);
    const attributes = op.attributes ?? {};
    if (
      last &&
      typeof last.insert === "string" &&
      typeof op.insert === "string" &&
      JSON.stringify(Object.entries(last.attributes ?? {}).sort()) ===
        JSON.stringify(Object.entries(attributes).sort())
    ) {
      last.insert += op.insert;
    } else out.push({ insert: op.insert, attributes });
  }
  return out;
}

/** Runs equalize on `target`, returning the updates it emitted. */
function equalizeCounting(target: Y.Doc, source: Y.Doc): Uint8Array[] {
  const updates: Uint8Array[] = [];
  const listener = (update: Uint8Array) => updates.push(update);
  target.on("update", listener);
  equalize(target, source);
  target.off("update", listener);
  return updates;
}

describe("making a document's content equal a version's (restore)", () => {
  it("restores the rich text in one update that changes only what differs", () => {
    const version = richText("# Plan\n\nFirst paragraph.\n\nSecond paragraph.");
    const live = copy(version);
    // Since the version: a paragraph edited, one added, the heading deleted.
    replaceContent(
      live,
      parse("First paragraph, edited.\n\nSecond paragraph.\n\nThird.", "markdown"),
    );
    const before = Y.encodeStateVector(live);
    const updates = equalizeCounting(live, version);
    expect(updates).toHaveLength(1);
    expect(markdown(live)).toBe(markdown(version));
    // A minimal change: far smaller than the whole document written anew.
    const diff = Y.encodeStateAsUpdate(live, before);
    expect(diff.byteLength).toBeLessThan(
      Y.encodeStateAsUpdate(richText(markdown(version))).byteLength,
    );
  });

  it("keeps an edit made at the same time in a paragraph the restore does not change", () => {
    const version = richText("Kept paragraph.\n\nOld ending.");
    const server = copy(version);
    replaceContent(server, parse("Kept paragraph.\n\nNew ending.", "markdown"));
    const typist = copy(server);
    // The typist edits the first paragraph while the server restores.
    const paragraph = typist.getXmlFragment("default").get(0) as Y.XmlElement;
    (paragraph.get(0) as Y.XmlText).insert(0, "Still ");
    const restore: Uint8Array[] = [];
    server.on("update", (u: Uint8Array) => restore.push(u));
    equalize(server, version);
    // Both exchange their changes: they converge, with the typist's edit and the old ending.
    Y.applyUpdate(typist, Y.mergeUpdates(restore));
    Y.applyUpdate(server, Y.encodeStateAsUpdate(typist));
    expect(markdown(server)).toBe(markdown(typist));
    expect(markdown(server)).toBe("Still Kept paragraph.\n\nOld ending.");
  });

  it("makes maps, arrays and texts equal too, and empties roots the version lacks", () => {
    const version = new Y.Doc();
    version.getMap("meta").set("title", "Plan");
    version.getMap("meta").set("tags", ["a", "b"]);
    const nested = new Y.Map<unknown>();
    nested.set("x", 1);
    version.getMap("meta").set("nested", nested);
    version.getArray("list").insert(0, [1, 2, 3, 4]);
    const text = version.getText("notes");
    text.insert(0, "hello 🙂 world");
    text.format(0, 5, { bold: true });
    text.insertEmbed(6, { image: "a.png" });
    const live = copy(version);
    live.getMap("meta").set("title", "Plan B");
    live.getMap("meta").delete("tags");
    live.getMap("meta").set("extra", true);
    (live.getMap("meta").get("nested") as Y.Map<unknown>).set("x", 2);
    live.getArray("list").delete(1, 2);
    live.getArray("list").push([9]);
    live.getText("notes").insert(3, "XX");
    live.getText("notes").format(8, 3, { italic: true });
    live.getArray("added-later").push(["gone"]);
    // Decoded from updates, as restore sees them: roots are known by name only.
    const target = copy(live);
    const source = copy(version);
    expect(equalizeCounting(target, source)).toHaveLength(1);
    expect(target.getMap("meta").toJSON()).toEqual(version.getMap("meta").toJSON());
    expect(target.getArray("list").toJSON()).toEqual([1, 2, 3, 4]);
    expect(target.getText("notes").toDelta()).toEqual(version.getText("notes").toDelta());
    expect(target.getArray("added-later").toJSON()).toEqual([]);
  });

  it("makes random formatted texts equal, whatever the edits since (seeded)", () => {
    const random = seededRandom();
    const marks = [{ bold: true }, { italic: true }, { link: "x" }, { bold: null }];
    const edit = (text: Y.Text, steps: number) => {
      for (let i = 0; i < steps; i++) {
        const at = random.int(text.length + 1);
        const choice = random.int(4);
        if (choice === 0 && text.length > 0) text.delete(at > 0 ? at - 1 : 0, 1);
        else if (choice === 1 && text.length > at) {
          text.format(at, 1 + random.int(text.length - at), random.pick(marks));
        } else if (choice === 2) text.insertEmbed(at, { n: random.int(3) });
        else
          text.insert(
            at,
            random.pick(["a", "bc", "🙂", "d e"]),
            random.next() < 0.5 ? random.pick(marks) : {},
          );
      }
    };
    for (let round = 0; round < 200; round++) {
      const version = new Y.Doc();
      edit(version.getText("t"), 10);
      const live = copy(version);
      edit(live.getText("t"), 1 + random.int(8));
      const target = copy(live);
      equalize(target, copy(version));
      expect(normalized(target.getText("t")), `seed ${random.seed}, round ${round}`).toEqual(
        normalized(version.getText("t")),
      );
    }
  });

  it("changes nothing when the content is already equal", () => {
    const version = richText("Same **bold**.\n\n- one\n- two");
    version.getMap("meta").set("k", "v");
    version.getText("t").insert(0, "formatted", { bold: true });
    const live = copy(version);
    expect(equalizeCounting(copy(live), copy(version))).toHaveLength(0);
  });
});
