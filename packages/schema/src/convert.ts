/**
 * Converting a rich-text document between its Yjs form (the `default` XML fragment of a Y.Doc,
 * as the editor's Collaboration extension writes it) and ProseMirror JSON, HTML, Markdown and
 * plain text, with the one content schema (index.ts). Server side: HTML goes through happy-dom
 * with scripts, file loading and frames off (@tiptap/html's Node entry).
 */
import type { JSONContent } from "@tiptap/core";
import { generateHTML, generateJSON } from "@tiptap/html";
import { MarkdownManager } from "@tiptap/markdown";
import type { Node as ProseMirrorNode } from "@tiptap/pm/model";
import {
  prosemirrorToYDoc,
  updateYFragment,
  yXmlFragmentToProseMirrorRootNode,
} from "@tiptap/y-tiptap";
import type * as Y from "yjs";
import { CONTENT_FRAGMENT, contentExtensions, contentSchema } from "./index.ts";

import type { ContentFormat } from "./names.ts";

export { CONTENT_FORMATS, type ContentFormat } from "./names.ts";

/** Input that does not fit the schema (or the format); the message says what is wrong. */
export class ContentError extends Error {
  override name = "ContentError";
}

const extensions = contentExtensions();
const markdown = new MarkdownManager({ extensions });

/** The document's content as a ProseMirror node (an empty document when it has none). */
export function toNode(doc: Y.Doc): ProseMirrorNode {
  return yXmlFragmentToProseMirrorRootNode(doc.getXmlFragment(CONTENT_FRAGMENT), contentSchema);
}

export const toJSON = (doc: Y.Doc): JSONContent => toNode(doc).toJSON() as JSONContent;
export const toHTML = (doc: Y.Doc): string => generateHTML(toJSON(doc), extensions);
export const toMarkdown = (doc: Y.Doc): string => markdown.serialize(toJSON(doc));
/** Plain text: top-level blocks separated by an empty line, nested blocks by a line break. */
export function toText(doc: Y.Doc): string {
  const blocks: string[] = [];
  toNode(doc).forEach((block) => {
    blocks.push(block.textBetween(0, block.content.size, "\n", leafText));
  });
  return blocks.join("\n\n");
}

const leafText = (leaf: ProseMirrorNode): string => (leaf.type.name === "hardBreak" ? "\n" : "");

/** ProseMirror JSON checked against the schema: a node of type doc whose content fits it. */
export function fromJSON(json: unknown): ProseMirrorNode {
  if (typeof json !== "object" || json === null || (json as { type?: unknown }).type !== "doc") {
    throw new ContentError('ProseMirror JSON must be an object of type "doc"');
  }
  try {
    const node = contentSchema.nodeFromJSON(json);
    node.check();
    return node;
  } catch (error) {
    throw new ContentError(`the JSON does not fit the content schema: ${(error as Error).message}`);
  }
}

export const fromHTML = (html: string): ProseMirrorNode => fromJSON(generateJSON(html, extensions));

export const fromMarkdown = (text: string): ProseMirrorNode => fromJSON(markdown.parse(text));

/** Plain text: one paragraph per line (empty lines are empty paragraphs). */
export function fromText(text: string): ProseMirrorNode {
  const lines = text.replace(/\r\n?/g, "\n").replace(/\n$/, "").split("\n");
  return fromJSON({
    type: "doc",
    content: lines.map((line) =>
      line === ""
        ? { type: "paragraph" }
        : { type: "paragraph", content: [{ type: "text", text: line }] },
    ),
  });
}

/** The document's content in a text format. */
export function render(doc: Y.Doc, format: ContentFormat): string {
  switch (format) {
    case "json":
      return JSON.stringify(toJSON(doc));
    case "html":
      return toHTML(doc);
    case "markdown":
      return toMarkdown(doc);
    case "text":
      return toText(doc);
  }
}

/** Parses content in a text format; throws ContentError when it does not fit. */
export function parse(body: string, format: ContentFormat): ProseMirrorNode {
  switch (format) {
    case "json": {
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch (error) {
        throw new ContentError(`the body is not JSON: ${(error as Error).message}`);
      }
      return fromJSON(json);
    }
    case "html":
      return fromHTML(body);
    case "markdown":
      return fromMarkdown(body);
    case "text":
      return fromText(body);
  }
}

/** A new Y.Doc holding `content` in its content fragment. */
export function toYDoc(content: ProseMirrorNode): Y.Doc {
  return prosemirrorToYDoc(content, CONTENT_FRAGMENT);
}

/**
 * Makes the document's content `content`, in one transaction on `doc`, as the editor's sync
 * plugin does: the fragment is diffed against the new content, so unchanged paragraphs keep
 * their Yjs items and the change is a small update that merges with concurrent edits.
 */
export function replaceContent(doc: Y.Doc, content: ProseMirrorNode, origin?: unknown): void {
  const fragment = doc.getXmlFragment(CONTENT_FRAGMENT);
  doc.transact(() => {
    updateYFragment(doc, fragment, content, { mapping: new Map(), isOMark: new Map() });
  }, origin);
}
