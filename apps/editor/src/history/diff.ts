import type { Node } from "@tiptap/pm/model";
import { alignBy, segments } from "./align.ts";

/**
 * What changed between two versions of a document, by content: blocks are matched by equality,
 * then by similarity (same type, shared words), and matched text blocks are compared word by
 * word. The result is one ProseMirror document (JSON) holding both: removed text carries the
 * change mark with kind "removed", inserted text kind "added" and its author; whole blocks that
 * were added, removed or changed in their attributes carry the `diff` attribute.
 *
 * Why by content rather than by Yjs history (y-prosemirror's snapshot rendering): a restore
 * writes the old content back as new Yjs items, so an item-level comparison would show restored
 * text as deleted and inserted again although it reads the same. Comparing content shows what a
 * reader sees changed, whatever route the edits took; Yjs is only asked who wrote inserted text
 * (see authorship.ts).
 */

export interface AuthorView {
  id: string;
  name: string;
  color: string;
}

/** Who wrote a stretch of a text block's content (ProseMirror offsets), when known. */
export interface Run {
  length: number;
  author: AuthorView | null;
}

/** The runs of a text block of the newer document, or undefined when unknown. */
export type Authorship = (textblock: Node) => readonly Run[] | undefined;

export interface JSONMark {
  type: string;
  attrs?: Record<string, unknown>;
}

export interface JSONNode {
  type: string;
  attrs?: Record<string, unknown>;
  content?: JSONNode[];
  marks?: JSONMark[];
  text?: string;
}

/** The mark on changed text (see change-mark.ts). */
export const CHANGE_MARK = "historyChange";
/** The attribute on changed blocks. */
export const DIFF_ATTRIBUTE = "diff";

export type ChangeKind = "added" | "removed";

export interface DiffResult {
  doc: JSONNode;
  /** Words inserted and removed. */
  added: number;
  removed: number;
  /** Who wrote inserted text, in order of appearance (unknown writers left out). */
  authors: AuthorView[];
}

/** Blocks pair up only if this similar (Dice coefficient of their words); else removed + added. */
const MIN_SIMILARITY = 0.3;
/** Bounds the quadratic alignments (blocks of one parent, words of one block). */
const MAX_BLOCK_CELLS = 250_000;
const MAX_WORD_CELLS = 1_000_000;

export function diffDocuments(before: Node, after: Node, authorship: Authorship): DiffResult {
  const differ = new Differ(authorship);
  const content = differ.children(before, after);
  return {
    doc: { type: after.type.name, content },
    added: differ.added,
    removed: differ.removed,
    authors: [...differ.authors.values()],
  };
}

interface Token {
  /** Text of a word, a run of spaces or one punctuation character; null for an inline node. */
  text: string | null;
  node: Node;
  /** Offset in the text block's content. */
  offset: number;
  key: string;
}

class Differ {
  added = 0;
  removed = 0;
  readonly authors = new Map<string, AuthorView>();

  constructor(readonly authorship: Authorship) {}

  /** The merged children of two corresponding nodes. */
  children(before: Node, after: Node): JSONNode[] {
    const out: JSONNode[] = [];
    for (const segment of segments(childrenOf(before), childrenOf(after), blockKey)) {
      if (segment.equal) {
        out.push(...segment.b.map((node) => node.toJSON() as JSONNode));
        continue;
      }
      out.push(...this.replaced(segment.a, segment.b));
    }
    return out;
  }

  /** Blocks of `olds` replaced by `news`: similar ones are compared, the rest removed/added. */
  private replaced(olds: Node[], news: Node[]): JSONNode[] {
    const words = new Map<Node, Set<string>>();
    const wordsOf = (node: Node) => {
      let set = words.get(node);
      if (!set) {
        set = new Set(node.textContent.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []);
        words.set(node, set);
      }
      return set;
    };
    const similarity = (i: number, j: number): number => {
      const a = olds[i];
      const b = news[j];
      if (!a || !b || a.type !== b.type) return 0;
      if (a.isLeaf) return 1;
      const wa = wordsOf(a);
      const wb = wordsOf(b);
      if (wa.size === 0 && wb.size === 0) return 1;
      let shared = 0;
      for (const word of wa) if (wb.has(word)) shared++;
      const dice = (2 * shared) / (wa.size + wb.size);
      return dice >= MIN_SIMILARITY ? dice : 0;
    };
    const out: JSONNode[] = [];
    let i = 0;
    let j = 0;
    const flush = (toI: number, toJ: number) => {
      for (; i < toI; i++) out.push(this.whole(olds[i] as Node, "removed"));
      for (; j < toJ; j++) out.push(this.whole(news[j] as Node, "added"));
    };
    for (const [pi, pj] of alignBy(olds.length, news.length, similarity, MAX_BLOCK_CELLS)) {
      flush(pi, pj);
      out.push(this.compared(olds[pi] as Node, news[pj] as Node));
      i = pi + 1;
      j = pj + 1;
    }
    flush(olds.length, news.length);
    return out;
  }

  /** Two blocks of the same type, compared inside. */
  private compared(before: Node, after: Node): JSONNode {
    const json: JSONNode = { type: after.type.name };
    const attrs = { ...after.attrs };
    if (!sameAttrs(before, after)) attrs[DIFF_ATTRIBUTE] = "modified";
    if (Object.keys(attrs).length > 0) json.attrs = attrs;
    if (after.isTextblock) json.content = this.inline(before, after);
    else if (!after.isLeaf) json.content = this.children(before, after);
    if (json.content?.length === 0) delete json.content;
    return json;
  }

  /** A block present on one side only, every text in it marked. */
  private whole(node: Node, kind: ChangeKind): JSONNode {
    const json: JSONNode = {
      type: node.type.name,
      attrs: { ...node.attrs, [DIFF_ATTRIBUTE]: kind },
    };
    if (node.isTextblock) {
      const tokens = tokensOf(node);
      json.content =
        kind === "removed"
          ? this.removedText(tokens)
          : this.addedText(tokens, authorsOf(this.authorship, node));
    } else if (!node.isLeaf) {
      json.content = childrenOf(node).map((child) => this.whole(child, kind));
    }
    if (json.content?.length === 0) delete json.content;
    return json;
  }

  /** Word by word; spaces between two changes are folded into them (no "a␣b" confetti). */
  private inline(before: Node, after: Node): JSONNode[] {
    const parts = segments(tokensOf(before), tokensOf(after), (t) => t.key, MAX_WORD_CELLS);
    const merged: Array<{ equal: boolean; a: Token[]; b: Token[] }> = [];
    for (let k = 0; k < parts.length; k++) {
      const part = parts[k] as (typeof parts)[number];
      const previous = merged[merged.length - 1];
      const next = parts[k + 1];
      const foldable =
        part.equal &&
        next !== undefined &&
        !next.equal &&
        part.b.every((token) => token.text !== null && /^\s+$/u.test(token.text));
      if (previous && !previous.equal && (!part.equal || foldable)) {
        previous.a.push(...part.a);
        previous.b.push(...part.b);
        continue;
      }
      merged.push({ equal: part.equal, a: [...part.a], b: [...part.b] });
    }
    const authors = authorsOf(this.authorship, after);
    const out: JSONNode[] = [];
    for (const part of merged) {
      if (part.equal) out.push(...part.b.map(plain));
      else out.push(...this.removedText(part.a), ...this.addedText(part.b, authors));
    }
    return joinText(out);
  }

  private removedText(tokens: Token[]): JSONNode[] {
    this.removed += tokens.filter(counts).length;
    return joinText(tokens.map((token) => withChange(plain(token), { kind: "removed" })));
  }

  private addedText(tokens: Token[], authors: (offset: number) => AuthorView | null): JSONNode[] {
    this.added += tokens.filter(counts).length;
    const out: JSONNode[] = [];
    for (const token of tokens) {
      if (token.text === null) {
        out.push(withChange(plain(token), changeBy(authors(token.offset))));
        continue;
      }
      // A word two people typed parts of is split between them.
      let start = 0;
      for (let k = 1; k <= token.text.length; k++) {
        const author = authors(token.offset + start);
        if (k < token.text.length && authors(token.offset + k) === author) continue;
        out.push(
          withChange({ ...plain(token), text: token.text.slice(start, k) }, changeBy(author)),
        );
        if (author) this.authors.set(author.id, author);
        start = k;
      }
    }
    return joinText(out);
  }
}

function changeBy(author: AuthorView | null): Record<string, unknown> {
  return author
    ? { kind: "added", author: author.id, name: author.name, color: author.color }
    : { kind: "added" };
}

/** Who wrote each offset of a text block of the newer document (null where unknown). */
function authorsOf(authorship: Authorship, textblock: Node): (offset: number) => AuthorView | null {
  const runs = authorship(textblock);
  const size = textblock.content.size;
  const total = runs?.reduce((sum, run) => sum + run.length, 0);
  // Runs that do not cover the block exactly belong to some other state of it: ignore them.
  if (!runs || total !== size) return () => null;
  const byOffset: Array<AuthorView | null> = [];
  for (const run of runs) for (let k = 0; k < run.length; k++) byOffset.push(run.author);
  return (offset) => byOffset[offset] ?? null;
}

function childrenOf(node: Node): Node[] {
  const children: Node[] = [];
  node.forEach((child) => {
    children.push(child);
  });
  return children;
}

/** Equal blocks have equal keys: their whole JSON. */
function blockKey(node: Node): string {
  return JSON.stringify(node.toJSON());
}

function sameAttrs(a: Node, b: Node): boolean {
  return JSON.stringify(a.attrs) === JSON.stringify(b.attrs);
}

/** Words, runs of white space, single other characters; inline nodes as one token each. */
function tokensOf(textblock: Node): Token[] {
  const tokens: Token[] = [];
  textblock.forEach((child, offset) => {
    const marks = JSON.stringify(child.marks.map((mark) => mark.toJSON()));
    if (!child.isText) {
      tokens.push({ text: null, node: child, offset, key: `node:${blockKey(child)}` });
      return;
    }
    for (const match of (child.text ?? "").matchAll(/[\p{L}\p{N}_]+|\s+|./gsu)) {
      tokens.push({
        text: match[0],
        node: child,
        offset: offset + (match.index ?? 0),
        key: `text:${marks}:${match[0]}`,
      });
    }
  });
  return tokens;
}

/** Words and inline nodes count; white space and punctuation do not. */
function counts(token: Token): boolean {
  return token.text === null || /[\p{L}\p{N}]/u.test(token.text);
}

function plain(token: Token): JSONNode {
  const json = token.node.toJSON() as JSONNode;
  if (token.text !== null) json.text = token.text;
  return json;
}

function withChange(json: JSONNode, attrs: Record<string, unknown>): JSONNode {
  return { ...json, marks: [...(json.marks ?? []), { type: CHANGE_MARK, attrs }] };
}

/** Neighbouring text nodes with the same marks become one (one highlight per phrase). */
function joinText(nodes: JSONNode[]): JSONNode[] {
  const out: JSONNode[] = [];
  for (const node of nodes) {
    const last = out[out.length - 1];
    if (
      last &&
      last.text !== undefined &&
      node.text !== undefined &&
      JSON.stringify(last.marks ?? []) === JSON.stringify(node.marks ?? [])
    ) {
      out[out.length - 1] = { ...last, text: last.text + node.text };
      continue;
    }
    out.push(node);
  }
  return out;
}
