import { CONTENT_FRAGMENT, contentSchema } from "@tandem/schema";
import type { Node } from "@tiptap/pm/model";
import { prosemirrorJSONToYXmlFragment } from "@tiptap/y-tiptap";
import { describe, expect, it } from "vitest";
import * as Y from "yjs";
import type { AuthorDirectory } from "../src/history/authors.ts";
import { compareWithCurrent } from "../src/history/compare.ts";
import {
  type AuthorView,
  CHANGE_MARK,
  diffDocuments,
  type JSONNode,
  type Run,
} from "../src/history/diff.ts";
import { currentDocument, versionDocument } from "../src/history/documents.ts";

/**
 * The comparison of a version with the current document: by content (what a reader sees
 * changed), with inserted text attributed to the Yjs client that typed it. Real Yjs documents,
 * real ProseMirror schema (the editor's).
 */

type Inline = string | { text: string; marks: string[] };
const paragraph = (...parts: Inline[]) => ({
  type: "paragraph",
  content: parts.map((part) =>
    typeof part === "string"
      ? { type: "text", text: part }
      : { type: "text", text: part.text, marks: part.marks.map((type) => ({ type })) },
  ),
});
const doc = (...content: unknown[]): Node => contentSchema.nodeFromJSON({ type: "doc", content });

const nobody = () => undefined;

/** The changes in a diff, in document order: ["+", "text", author?] / ["-", "text"]. */
function changes(node: JSONNode): Array<[string, string, string?]> {
  const out: Array<[string, string, string?]> = [];
  const walk = (n: JSONNode) => {
    const change = n.marks?.find((mark) => mark.type === CHANGE_MARK);
    if (n.text !== undefined && change) {
      const attrs = change.attrs ?? {};
      const sign = attrs.kind === "added" ? "+" : "-";
      out.push(typeof attrs.name === "string" ? [sign, n.text, attrs.name] : [sign, n.text]);
    }
    for (const child of n.content ?? []) walk(child);
  };
  walk(node);
  return out;
}

/** The text of the merged document per block, changes included. */
function text(node: JSONNode): string {
  if (node.text !== undefined) return node.text;
  const inner = (node.content ?? []).map(text);
  return node.type === "doc" ? inner.join("\n") : inner.join("");
}

const ada: AuthorView = { id: "ada", name: "Ada", color: "#e11d48" };
const bob: AuthorView = { id: "bob", name: "Bob", color: "#2563eb" };

describe("diffDocuments", () => {
  it("finds nothing between equal documents and returns the document unchanged", () => {
    const a = doc(paragraph("Hello world"), paragraph("Second"));
    const result = diffDocuments(a, doc(paragraph("Hello world"), paragraph("Second")), nobody);
    expect(result.added).toBe(0);
    expect(result.removed).toBe(0);
    expect(result.doc).toEqual(a.toJSON());
  });

  it("marks an inserted word, with its author from the runs", () => {
    const after = doc(paragraph("Hello brave world"));
    const runs: Run[] = [
      { length: 6, author: ada },
      { length: 6, author: bob },
      { length: 5, author: ada },
    ];
    const result = diffDocuments(doc(paragraph("Hello world")), after, (block) =>
      block === after.child(0) ? runs : undefined,
    );
    expect(changes(result.doc)).toEqual([["+", "brave ", "Bob"]]);
    expect(text(result.doc)).toBe("Hello brave world");
    expect(result).toMatchObject({ added: 1, removed: 0, authors: [bob] });
    const mark = result.doc.content?.[0]?.content?.[1]?.marks?.[0];
    expect(mark?.attrs).toEqual({ kind: "added", author: "bob", name: "Bob", color: bob.color });
  });

  it("splits an insertion two people typed between them", () => {
    const after = doc(paragraph("ab cd"));
    const runs: Run[] = [
      { length: 1, author: ada },
      { length: 4, author: bob },
    ];
    const result = diffDocuments(doc(paragraph()), after, () => runs);
    expect(changes(result.doc)).toEqual([
      ["+", "a", "Ada"],
      ["+", "b cd", "Bob"],
    ]);
  });

  it("leaves insertions unattributed when the runs do not cover the block", () => {
    const after = doc(paragraph("Hello brave world"));
    const result = diffDocuments(doc(paragraph("Hello world")), after, () => [
      { length: 3, author: bob },
    ]);
    expect(changes(result.doc)).toEqual([["+", "brave "]]);
    expect(result.authors).toEqual([]);
  });

  it("shows a replaced phrase as one removal and one insertion, not word confetti", () => {
    const result = diffDocuments(
      doc(paragraph("Keep this: one two three. End")),
      doc(paragraph("Keep this: four five six. End")),
      nobody,
    );
    expect(changes(result.doc)).toEqual([
      ["-", "one two three"],
      ["+", "four five six"],
    ]);
    expect(text(result.doc)).toBe("Keep this: one two threefour five six. End");
    expect(result).toMatchObject({ added: 3, removed: 3 });
  });

  it("marks whole blocks added and removed, and pairs edited blocks by their words", () => {
    const result = diffDocuments(
      doc(paragraph("First paragraph stays"), paragraph("Old idea, dropped"), paragraph("Last")),
      doc(
        paragraph("First paragraph stays, longer"),
        { type: "heading", attrs: { level: 2 }, content: [{ type: "text", text: "New" }] },
        paragraph("Last"),
      ),
      nobody,
    );
    const blocks = result.doc.content ?? [];
    expect(blocks.map((block) => [block.type, block.attrs?.diff ?? null])).toEqual([
      ["paragraph", null],
      ["paragraph", "removed"],
      ["heading", "added"],
      ["paragraph", null],
    ]);
    expect(changes(result.doc)).toEqual([
      ["+", ", longer"],
      ["-", "Old idea, dropped"],
      ["+", "New"],
    ]);
  });

  it("compares inside lists and notices a task ticked", () => {
    const list = (checked: boolean, text: string) => ({
      type: "taskList",
      content: [
        { type: "taskItem", attrs: { checked }, content: [paragraph(text)] },
        { type: "taskItem", attrs: { checked: false }, content: [paragraph("Other task")] },
      ],
    });
    const result = diffDocuments(
      doc(list(false, "Write the report")),
      doc(list(true, "Write the final report")),
      nobody,
    );
    const item = result.doc.content?.[0]?.content?.[0];
    expect(item?.attrs).toMatchObject({ checked: true, diff: "modified" });
    expect(changes(result.doc)).toEqual([["+", "final "]]);
  });

  it("sees a formatting change as the word replaced, keeping both formats", () => {
    const result = diffDocuments(
      doc(paragraph("Make it ", "loud")),
      doc(paragraph("Make it ", { text: "loud", marks: ["bold"] })),
      nobody,
    );
    expect(changes(result.doc)).toEqual([
      ["-", "loud"],
      ["+", "loud"],
    ]);
    const added = result.doc.content?.[0]?.content?.at(-1);
    expect(added?.marks?.map((mark) => mark.type)).toEqual(["bold", CHANGE_MARK]);
  });
});

/** A Yjs document whose content is written by `client`. */
function yDoc(client: number): Y.Doc {
  const ydoc = new Y.Doc();
  ydoc.clientID = client;
  return ydoc;
}

function sync(from: Y.Doc, to: Y.Doc): void {
  Y.applyUpdate(to, Y.encodeStateAsUpdate(from, Y.encodeStateVector(to)));
}

const directory = (people: Record<number, AuthorView>): AuthorDirectory => ({
  byClient: (client) => people[client] ?? null,
  colorOf: () => "#000000",
});

describe("compareWithCurrent (real Yjs documents)", () => {
  it("attributes inserted text to the client that typed it", () => {
    const ada1 = yDoc(1);
    prosemirrorJSONToYXmlFragment(
      contentSchema,
      doc(paragraph("Hello world")).toJSON(),
      ada1.getXmlFragment(CONTENT_FRAGMENT),
    );
    const version = versionDocument(Y.encodeStateAsUpdate(ada1));

    const bob2 = yDoc(2);
    sync(ada1, bob2);
    const paragraphText = (ydoc: Y.Doc) =>
      (ydoc.getXmlFragment(CONTENT_FRAGMENT).get(0) as Y.XmlElement).get(0) as Y.XmlText;
    paragraphText(bob2).insert(6, "brave ");
    sync(bob2, ada1);
    paragraphText(ada1).insert(17, "!");

    const current = currentDocument(ada1);
    expect(current.doc.textContent).toBe("Hello brave world!");
    expect([...current.clients.values()]).toEqual([
      [
        { length: 6, client: 1 },
        { length: 6, client: 2 },
        { length: 6, client: 1 },
      ],
    ]);

    const result = compareWithCurrent(version, ada1, directory({ 1: ada, 2: bob }));
    expect(changes(result.doc)).toEqual([
      ["+", "brave ", "Bob"],
      ["+", "!", "Ada"],
    ]);
    expect(result.authors).toEqual([bob, ada]);
  });

  it("finds no change after a restore that wrote the same content as new Yjs items", () => {
    const live = yDoc(1);
    const fragment = live.getXmlFragment(CONTENT_FRAGMENT);
    const content = doc(paragraph("Restored text"), paragraph("Second paragraph"));
    prosemirrorJSONToYXmlFragment(contentSchema, content.toJSON(), fragment);
    const version = versionDocument(Y.encodeStateAsUpdate(live));

    // As a restore may do it: everything deleted, the version's content inserted anew.
    const restorer = yDoc(99);
    sync(live, restorer);
    const target = restorer.getXmlFragment(CONTENT_FRAGMENT);
    restorer.transact(() => {
      target.delete(0, target.length);
      const scratch = new Y.Doc();
      const copy = prosemirrorJSONToYXmlFragment(
        contentSchema,
        content.toJSON(),
        scratch.getXmlFragment("x"),
      );
      target.insert(
        0,
        copy.toArray().map((element) => (element as Y.XmlElement).clone()),
      );
    });
    sync(restorer, live);

    const result = compareWithCurrent(version, live, directory({}));
    expect(result).toMatchObject({ added: 0, removed: 0 });
    expect(result.doc).toEqual(content.toJSON());
  });

  it("never changes the live document it reads", () => {
    const live = yDoc(5);
    prosemirrorJSONToYXmlFragment(
      contentSchema,
      doc(paragraph("Text")).toJSON(),
      live.getXmlFragment(CONTENT_FRAGMENT),
    );
    const before = Y.encodeStateAsUpdate(live);
    const updates: Uint8Array[] = [];
    live.on("update", (update: Uint8Array) => updates.push(update));
    compareWithCurrent(doc(paragraph("Other")), live, directory({}));
    expect(updates).toEqual([]);
    expect(Y.encodeStateAsUpdate(live)).toEqual(before);
  });
});
