import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import type { Author } from "./document-store.ts";

/**
 * Authors as both stores keep them (with log entries, in versions, as pending authors).
 *
 * Binary format of a list of authors (lib0), used for LevelDB values, the Redis stream field and
 * the PostgreSQL columns alike:
 *   count    varUint
 *   author*  varString id, varUint 1 + varString name when it has one, else varUint 0
 */

/**
 * Longest id and name kept, in UTF-16 code units. Longer ones are cut rather than refused: an
 * update is never lost over its author, and one author costs at most this much per version.
 */
export const MAX_AUTHOR_LENGTH = 256;

function cut(text: string): string {
  if (text.length <= MAX_AUTHOR_LENGTH) return text;
  let end = MAX_AUTHOR_LENGTH;
  // Do not leave half a surrogate pair behind.
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return text.slice(0, end);
}

/** The author as stored: id and name cut to length; null for none (no id, not a string). */
export function normalizeAuthor(author: Author | undefined | null): Author | null {
  if (!author || typeof author.id !== "string" || author.id.length === 0) return null;
  const id = cut(author.id);
  return typeof author.name === "string" && author.name.length > 0
    ? { id, name: cut(author.name) }
    : { id };
}

/** Tells two authors apart, name included (a renamed user is recorded again, with the new name). */
export const authorKey = (author: Author): string => `${author.id}\0${author.name ?? ""}`;

/**
 * The authors of several lists, oldest list first, each author once: at the place they first
 * appear, with the latest name they had.
 */
export function mergeAuthors(...lists: readonly (readonly Author[])[]): Author[] {
  const byId = new Map<string, Author>();
  for (const list of lists) {
    for (const author of list) {
      const known = byId.get(author.id);
      if (!known) byId.set(author.id, { ...author });
      else if (author.name !== undefined) known.name = author.name;
    }
  }
  return [...byId.values()];
}

export function encodeAuthors(authors: readonly Author[]): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, authors.length);
  for (const author of authors) writeAuthor(encoder, author);
  return encoding.toUint8Array(encoder);
}

export function decodeAuthors(bytes: Uint8Array): Author[] {
  if (bytes.byteLength === 0) return [];
  const decoder = decoding.createDecoder(bytes);
  return readAuthors(decoder);
}

export function writeAuthor(encoder: encoding.Encoder, author: Author): void {
  encoding.writeVarString(encoder, author.id);
  if (author.name === undefined) encoding.writeVarUint(encoder, 0);
  else {
    encoding.writeVarUint(encoder, 1);
    encoding.writeVarString(encoder, author.name);
  }
}

export function readAuthors(decoder: decoding.Decoder): Author[] {
  const count = decoding.readVarUint(decoder);
  const authors: Author[] = [];
  for (let i = 0; i < count; i++) {
    const id = decoding.readVarString(decoder);
    authors.push(
      decoding.readVarUint(decoder) === 1 ? { id, name: decoding.readVarString(decoder) } : { id },
    );
  }
  return authors;
}

/**
 * The authors a store has already written since a document's latest version, so that an author
 * is written once per version rather than with every update. Only a saving: forgetting (a
 * restart, an unload, the bound) just writes an author again, and readers merge duplicates.
 */
export class AuthorsSeen {
  /** None until an author writes: an empty Set costs about 160 bytes on every open document. */
  private seen: Set<string> | undefined;

  constructor(private readonly bound = 1000) {}

  /** True when the author must be written with this update (not written since the last reset). */
  first(author: Author): boolean {
    const key = authorKey(author);
    if (!this.seen) this.seen = new Set();
    if (this.seen.has(key)) return false;
    if (this.seen.size >= this.bound) this.seen.clear();
    this.seen.add(key);
    return true;
  }

  /** A version was cut: every author must be written again with their next update. */
  reset(): void {
    this.seen = undefined;
  }
}
