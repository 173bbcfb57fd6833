import { decodeAuthors, mergeAuthors } from "../authors.ts";
import type { Author } from "../document-store.ts";

/**
 * Where the cluster store keeps a document in Redis, and how a stream entry is laid out.
 *
 *   <prefix>log:<name>    the document's stream: one entry per stored Yjs update, fields
 *                           o  the id of the instance that stored it (so it skips its own)
 *                           u  the Yjs update, exactly as the client sent it
 *                           a  its author (authors.ts list format, one author), when known:
 *                              compaction and versions collect them (schema.ts)
 *   <prefix>meta:<name>   a hash: created, updated (ms since the epoch), and the totals of every
 *                         entry ever appended, bytes and count, incremented in the same MULTI as
 *                         the XADD (PostgreSQL records the totals its state covers, so the
 *                         difference is the tail the state does not cover yet)
 *   <prefix>documents     a set of every document name with anything in Redis
 *   <prefix>presence:<name>  the pub/sub channel of the document's presence (presence-relay.ts)
 *   <prefix>instance:<id>  an instance's heartbeat: set with a short TTL and renewed while the
 *                          instance lives (presence-relay.ts)
 *
 * Entry ids are Redis's own "<ms>-<seq>" ids: they only grow, so "the state covers every entry up
 * to id U" is one comparison. Compare them with compareIds, never as strings.
 */

export const DEFAULT_PREFIX = "tandem:";
export const ORIGIN_FIELD = "o";
export const UPDATE_FIELD = "u";
export const AUTHOR_FIELD = "a";

export interface KeyScheme {
  stream(name: string): string;
  meta(name: string): string;
  presence(name: string): string;
  instance(id: string): string;
  readonly documents: string;
}

export function keyScheme(prefix = DEFAULT_PREFIX): KeyScheme {
  return {
    stream: (name) => `${prefix}log:${name}`,
    meta: (name) => `${prefix}meta:${name}`,
    presence: (name) => `${prefix}presence:${name}`,
    instance: (id) => `${prefix}instance:${id}`,
    documents: `${prefix}documents`,
  };
}

/** A Redis stream entry id, "<ms>-<seq>". */
export type StreamId = string;
/** Lower than every real entry id: "everything". */
export const ZERO_ID: StreamId = "0-0";

function parseId(id: StreamId): [bigint, bigint] {
  const dash = id.indexOf("-");
  if (dash === -1) return [BigInt(id), 0n];
  return [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

/** Negative when a is older than b, 0 when equal, positive when newer. */
export function compareIds(a: StreamId, b: StreamId): number {
  const [am, as] = parseId(a);
  const [bm, bs] = parseId(b);
  if (am !== bm) return am < bm ? -1 : 1;
  if (as !== bs) return as < bs ? -1 : 1;
  return 0;
}

export const minId = (a: StreamId, b: StreamId): StreamId => (compareIds(a, b) <= 0 ? a : b);
export const maxId = (a: StreamId, b: StreamId): StreamId => (compareIds(a, b) >= 0 ? a : b);

/** One stream entry, decoded. */
export interface StreamEntry {
  id: StreamId;
  origin: string;
  update: Uint8Array;
  /** The author field as stored (decode with authorsOfEntries), null without one. */
  author: Uint8Array | null;
}

/**
 * Decodes the entries of an XRANGE or XREAD reply read with callBuffer: [[id, [field, value,
 * ...]], ...]. Entries without an update field (none are written so) are skipped.
 */
export function decodeEntries(raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) return [];
  const entries: StreamEntry[] = [];
  for (const item of raw) {
    if (!Array.isArray(item) || item.length < 2) continue;
    const [id, fields] = item as [unknown, unknown];
    if (!Array.isArray(fields)) continue;
    let origin = "";
    let update: Uint8Array | null = null;
    let author: Uint8Array | null = null;
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const field = String(fields[i]);
      const value = fields[i + 1];
      if (field === ORIGIN_FIELD) origin = String(value);
      else if (field === UPDATE_FIELD && value instanceof Uint8Array) {
        update = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      } else if (field === AUTHOR_FIELD && value instanceof Uint8Array) {
        author = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      }
    }
    if (update) entries.push({ id: String(id), origin, update, author });
  }
  return entries;
}

/** Exclusive start for XRANGE: entries strictly after `id`. */
export const after = (id: StreamId): string => (id === ZERO_ID ? "-" : `(${id}`);

/**
 * The authors of stream entries, each once, in the order they first appear. An author field
 * that does not decode (written by no Tandem) costs that entry its author, never the entry.
 */
export function authorsOfEntries(entries: readonly StreamEntry[]): Author[] {
  const lists: Author[][] = [];
  for (const entry of entries) {
    if (!entry.author) continue;
    try {
      lists.push(decodeAuthors(entry.author));
    } catch {
      // see above
    }
  }
  return mergeAuthors(...lists);
}
