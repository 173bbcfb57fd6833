import { replaceContent, toNode } from "@tandem/schema/convert";
import { CONTENT_FRAGMENT } from "@tandem/schema/names";
import { equalityDeep } from "lib0/function";
import * as Y from "yjs";

/**
 * Makes `target`'s content equal `source`'s in ONE transaction on `target`, changing only what
 * differs, so that edits others make at the same time to the parts that stay merge as usual:
 *
 * - the rich-text `default` fragment: as the editor's sync plugin does (@tiptap/y-tiptap's
 *   updateYFragment through @tandem/schema's replaceContent): unchanged blocks keep their Yjs
 *   items, a changed paragraph is edited by a text diff inside it. Content the schema does not
 *   allow is not restored (the editor could not show it either);
 * - every other root type, whichever kind it was written as:
 *   - Y.Map: keys the source lacks are deleted; a value that differs (deep comparison of its
 *     JSON) is set anew, a nested shared type as a copy of the source's;
 *   - Y.Array and Y.XmlFragment: the common run of equal elements at the start and the end is
 *     kept, the elements between are replaced by copies of the source's;
 *   - Y.Text: likewise, character by character (with their formatting) and embed by embed.
 *   A root only the target has is emptied. Sub-documents are left as they are.
 */
export function equalize(target: Y.Doc, source: Y.Doc, origin?: unknown): void {
  const names = new Set([...target.share.keys(), ...source.share.keys()]);
  names.delete(CONTENT_FRAGMENT);
  target.transact(() => {
    replaceContent(target, toNode(source));
    for (const name of names) {
      const kind = kindOf(source.share.get(name)) ?? kindOf(target.share.get(name)) ?? null;
      switch (kind) {
        case "map":
          equalizeMap(target.getMap(name), source.getMap(name));
          break;
        case "array":
          equalizeList(target.getArray(name), source.getArray(name));
          break;
        case "xml":
          equalizeList(target.getXmlFragment(name), source.getXmlFragment(name));
          break;
        case "text":
          equalizeText(target.getText(name), source.getText(name));
          break;
        case null:
          // Nothing in either (only deleted content): nothing to make equal.
          break;
      }
    }
  }, origin);
}

type Kind = "map" | "array" | "xml" | "text";
/** A shared type as Yjs's own signatures name it (Doc.get's return type). */
type Shared = ReturnType<Y.Doc["get"]>;

/**
 * What a root type was written as. A document decoded from an update knows its roots only by
 * name (Yjs makes them generic types until someone asks for a kind), so the kind is read from the
 * content: map entries, characters and formatting (text), XML nodes (fragment), other values
 * (array). Null when it holds nothing that tells.
 */
function kindOf(type: Shared | undefined): Kind | null {
  if (!type) return null;
  if (type instanceof Y.Map) return "map";
  if (type instanceof Y.XmlFragment) return "xml";
  if (type instanceof Y.Text) return "text";
  if (type instanceof Y.Array) return "array";
  if (type._map.size > 0) return "map";
  for (let item = type._start; item !== null; item = item.right) {
    const content = item.content;
    if (
      content instanceof Y.ContentString ||
      content instanceof Y.ContentFormat ||
      content instanceof Y.ContentEmbed
    ) {
      return "text";
    }
    if (content instanceof Y.ContentType) {
      const child = content.type;
      return child instanceof Y.XmlElement ||
        child instanceof Y.XmlText ||
        child instanceof Y.XmlHook
        ? "xml"
        : "array";
    }
    if (
      content instanceof Y.ContentAny ||
      content instanceof Y.ContentJSON ||
      content instanceof Y.ContentBinary ||
      content instanceof Y.ContentDoc
    ) {
      return "array";
    }
    // Deleted content says nothing; look further.
  }
  return null;
}

/** Whether two values (plain or shared types) hold the same content. */
function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Y.Doc || b instanceof Y.Doc) {
    return a instanceof Y.Doc && b instanceof Y.Doc && a.guid === b.guid;
  }
  if (a instanceof Y.AbstractType || b instanceof Y.AbstractType) {
    return (
      a instanceof Y.AbstractType &&
      b instanceof Y.AbstractType &&
      a.constructor === b.constructor &&
      sameShared(a, b)
    );
  }
  return equalityDeep(a, b);
}

function sameShared(a: Y.AbstractType<unknown>, b: Y.AbstractType<unknown>): boolean {
  // XML serializes with its attributes and formatting; Y.Text's JSON would drop formatting.
  if (a instanceof Y.XmlFragment || a instanceof Y.XmlText || a instanceof Y.XmlHook) {
    return a.toString() === b.toString();
  }
  if (a instanceof Y.Text) return equalityDeep(a.toDelta(), (b as Y.Text).toDelta());
  return equalityDeep(a.toJSON(), b.toJSON());
}

/** A value to insert into the target: shared types are copied (a type belongs to one document). */
function copyOf(value: unknown): unknown {
  return value instanceof Y.AbstractType ? value.clone() : value;
}

function equalizeMap(target: Y.Map<unknown>, source: Y.Map<unknown>): void {
  for (const key of [...target.keys()]) if (!source.has(key)) target.delete(key);
  for (const [key, value] of source.entries()) {
    if (value instanceof Y.Doc) continue;
    if (target.has(key) && sameValue(target.get(key), value)) continue;
    target.set(key, copyOf(value));
  }
}

function equalizeList(
  target: Y.Array<unknown> | Y.XmlFragment,
  source: Y.Array<unknown> | Y.XmlFragment,
): void {
  const have: unknown[] = target.toArray();
  const want: unknown[] = source.toArray();
  const { start, end } = commonEnds(have, want, sameValue);
  const deleted = have.length - start - end;
  if (deleted > 0) target.delete(start, deleted);
  const inserted = want.slice(start, want.length - end).map(copyOf);
  if (inserted.length === 0) return;
  if (target instanceof Y.XmlFragment) {
    target.insert(start, inserted as (Y.XmlElement | Y.XmlText)[]);
  } else {
    (target as Y.Array<unknown>).insert(start, inserted);
  }
}

/** One character (a code point, 1 or 2 UTF-16 units) or one embed of a Y.Text, with its formatting. */
interface Token {
  insert: string | object;
  /** UTF-16 units the token takes in the text. */
  length: number;
  attributes: Record<string, unknown> | undefined;
}

function tokensOf(text: Y.Text): Token[] {
  const tokens: Token[] = [];
  for (const op of text.toDelta() as {
    insert: string | object;
    attributes?: Record<string, unknown>;
  }[]) {
    if (typeof op.insert === "string") {
      for (const char of op.insert)
        tokens.push({ insert: char, length: char.length, attributes: op.attributes });
    } else tokens.push({ insert: op.insert, length: 1, attributes: op.attributes });
  }
  return tokens;
}

const sameToken = (a: Token, b: Token): boolean =>
  sameValue(a.insert, b.insert) && equalityDeep(a.attributes ?? {}, b.attributes ?? {});

function equalizeText(target: Y.Text, source: Y.Text): void {
  const have = tokensOf(target);
  const want = tokensOf(source);
  const { start, end } = commonEnds(have, want, sameToken);
  const index = have.slice(0, start).reduce((sum, token) => sum + token.length, 0);
  const removed = have
    .slice(start, have.length - end)
    .reduce((sum, token) => sum + token.length, 0);
  if (removed > 0) target.delete(index, removed);
  let at = index;
  // Consecutive characters with the same formatting go in as one insert.
  let run = "";
  let runAttributes: Record<string, unknown> | undefined;
  const flush = () => {
    if (run === "") return;
    // Explicit attributes ({} for none): Yjs would otherwise take the neighbours' formatting.
    target.insert(at, run, { ...(runAttributes ?? {}) });
    at += run.length;
    run = "";
  };
  for (const token of want.slice(start, want.length - end)) {
    if (typeof token.insert === "string") {
      if (run !== "" && !equalityDeep(runAttributes ?? {}, token.attributes ?? {})) flush();
      if (run === "") runAttributes = token.attributes;
      run += token.insert;
      continue;
    }
    flush();
    target.insertEmbed(at, copyOf(token.insert) as object, { ...(token.attributes ?? {}) });
    at += 1;
  }
  flush();
  equalizeFormatting(target, source);
}

/**
 * Formatting in Yjs is made of start and end markers between the characters, and markers around
 * a replaced range can change the formatting of the characters kept after it. This sets every
 * range of the target to the source's formatting, naming every attribute key either uses (null:
 * not formatted so); Yjs writes nothing where the formatting is already so.
 */
function equalizeFormatting(target: Y.Text, source: Y.Text): void {
  type Op = { insert: string | object; attributes?: Record<string, unknown> };
  const keys = new Set<string>();
  for (const op of [...(target.toDelta() as Op[]), ...(source.toDelta() as Op[])]) {
    for (const key of Object.keys(op.attributes ?? {})) keys.add(key);
  }
  if (keys.size === 0) return;
  let at = 0;
  for (const op of source.toDelta() as Op[]) {
    const length = typeof op.insert === "string" ? op.insert.length : 1;
    const attributes: Record<string, unknown> = {};
    for (const key of keys) attributes[key] = op.attributes?.[key] ?? null;
    target.format(at, length, attributes);
    at += length;
  }
}

/** How many elements at the start, and then at the end, two lists share. */
function commonEnds<T>(
  have: readonly T[],
  want: readonly T[],
  same: (a: T, b: T) => boolean,
): { start: number; end: number } {
  const shorter = Math.min(have.length, want.length);
  let start = 0;
  while (start < shorter && same(have[start] as T, want[start] as T)) start++;
  let end = 0;
  while (
    end < shorter - start &&
    same(have[have.length - 1 - end] as T, want[want.length - 1 - end] as T)
  ) {
    end++;
  }
  return { start, end };
}
