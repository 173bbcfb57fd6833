/**
 * The LevelDB key layout. One database holds every document; LevelDB sorts keys bytewise, so a
 * document's entries form one contiguous range and a range scan reads them in this order:
 *
 *   m\0<name>                 metadata record (see meta.ts); its own namespace so listing
 *                             documents scans one small record per document, not their logs
 *   d\0<name>\0s              compacted state: a Yjs update holding every update up to meta.stateSeq
 *   d\0<name>\0t<seq:16 hex><count:8 hex><index:8 hex>
 *                             a large compacted state instead, in `count` parts (state-chunks.ts):
 *                             the parts of the state up to `seq`, joined in index order. The
 *                             record names the parts in use (meta.stateChunks); parts of another
 *                             seq are left over from a compaction that did not finish
 *   d\0<name>\0u<seq:16 hex>  log entry: one Yjs update, exactly as the client sent it
 *   d\0<name>\0v<id>          version record: kind, label, time, authors, snapshot size and the
 *                             log sequence it covers (leveldb-versions.ts); small, so listing
 *                             versions never reads their snapshots
 *   d\0<name>\0w<seq:16 hex>  authors record: authors of log entries stored since the latest
 *                             version, written with the first entry of each author since then
 *                             (seq is that entry's), atomically with it; a version takes them
 *                             and deletes them (leveldb-versions.ts)
 *   d\0<name>\0x<id>          version snapshot: one Yjs update, the document as the version saw it
 *   d\0<name>\0x<id>p<count:8 hex><index:8 hex>
 *                             a large version snapshot instead, in `count` parts, written before
 *                             the batch that writes its version record
 *   \0layout                  the layout version of the whole database (LAYOUT_VERSION)
 *
 * Version ids are fixed-width hex of (time, counter) (version-ids.ts), so versions sort by time.
 *
 * '\0' separates the parts because it cannot occur in a document name (Hocuspocus uses it to
 * separate a name from a session id), so no name's range can contain another's. Fixed-width hex
 * sequence numbers sort in numeric order. 's' < 't' < 'u' < 'v' < 'w' < 'x', so a scan of a
 * document's range yields the state first, then the log in sequence order, then the version
 * history; a scan of the state and log (contentRange, updateRange) stops before the history.
 *
 * Layout 1 reserved 'v' keys before any were written and had none of 'w' or 'x', so databases of
 * the first releases read the same: the history keys did not bump the layout version. Nor did
 * 't': a database without large states reads the same, and a record that names parts has a
 * format of its own (meta.ts), which an older release refuses rather than misreads.
 */

export const LAYOUT_VERSION = 1;
export const LAYOUT_KEY = "\0layout";

const META = "m\0";
const DATA = "d\0";
const SEQ_WIDTH = 16;

/** Throws if a name cannot be stored; the rest of the module trusts names. */
export function assertDocumentName(name: string): void {
  if (name.length === 0) throw new RangeError("document name must not be empty");
  if (name.includes("\0")) throw new RangeError("document name must not contain NUL characters");
}

export const metaKey = (name: string): string => `${META}${name}`;
export const metaRange = { gte: META, lt: "m\x01" } as const;
export const nameFromMetaKey = (key: string): string => key.slice(META.length);

const documentPrefix = (name: string): string => `${DATA}${name}\0`;

export const stateKey = (name: string): string => `${documentPrefix(name)}s`;

const hex = (value: number, width: number): string => value.toString(16).padStart(width, "0");

/** The end of a part's key: how many parts, and which one (as stateChunkKey, snapshotPartKey). */
const partTail = (count: number, index: number): string => `${hex(count, 8)}${hex(index, 8)}`;
const PART_TAIL_LENGTH = 16;

/** The count and index of a key's part tail, or null when they are not a part's. */
function parsePartTail(tail: string): { count: number; index: number } | null {
  if (tail.length !== PART_TAIL_LENGTH) return null;
  const count = Number.parseInt(tail.slice(0, 8), 16);
  const index = Number.parseInt(tail.slice(8), 16);
  return count > 0 && index >= 0 && index < count ? { count, index } : null;
}

/** The first key of every part of the state up to `seq` cut in `count` parts. */
const stateChunksPrefix = (name: string, seq: number, count: number): string =>
  `${documentPrefix(name)}t${hex(seq, SEQ_WIDTH)}${hex(count, 8)}`;

/** Part `index` of the state up to `seq` cut in `count` parts. */
export const stateChunkKey = (name: string, seq: number, count: number, index: number): string =>
  `${documentPrefix(name)}t${hex(seq, SEQ_WIDTH)}${partTail(count, index)}`;

/** The parts of one state (the one the record names), in index order. */
export const stateChunksOf = (name: string, seq: number, count: number) =>
  ({
    gte: stateChunksPrefix(name, seq, count),
    lt: `${stateChunksPrefix(name, seq, count)}~`,
  }) as const;

/** Every state part a document has, the parts of unfinished compactions included. */
export const allStateChunks = (name: string) =>
  ({ gte: `${documentPrefix(name)}t`, lt: `${documentPrefix(name)}u` }) as const;

/** The seq and part count of a key from stateChunkKey, or null for any other key. */
export function parseStateChunkKey(
  name: string,
  key: string,
): { seq: number; count: number; index: number } | null {
  const prefix = `${documentPrefix(name)}t`;
  if (!key.startsWith(prefix)) return null;
  const seq = Number.parseInt(key.slice(prefix.length, prefix.length + SEQ_WIDTH), 16);
  const part = parsePartTail(key.slice(prefix.length + SEQ_WIDTH));
  return part && Number.isSafeInteger(seq) ? { seq, ...part } : null;
}

export const updateKey = (name: string, seq: number): string =>
  `${documentPrefix(name)}u${hex(seq, SEQ_WIDTH)}`;

/** The data keys of every document (no metadata records), for a snapshot of all documents. */
export const dataRange = { gte: DATA, lt: "d\x01" } as const;

/**
 * A data key's document name and what the key holds: s(tate), t (part of a large state),
 * u(pdate), v(ersion record), w (authors record) or x (version snapshot). Only s, t and u are
 * the document's content.
 */
export function parseDataKey(key: string): { name: string; kind: string } | null {
  const end = key.indexOf("\0", DATA.length);
  if (!key.startsWith(DATA) || end === -1) return null;
  return { name: key.slice(DATA.length, end), kind: key.charAt(end + 1) };
}

/** Every key of a document (state, log, version history), for deleting it. */
export const documentRange = (name: string) =>
  ({ gte: documentPrefix(name), lt: `${DATA}${name}\x01` }) as const;

/**
 * The log entries of a document with after < seq <= upTo (to the end when upTo is omitted).
 * Scans must start after the compacted state: the entries before it were deleted, and LevelDB
 * steps over every deleted key in a range until its own compaction drops them.
 */
export const updateRange = (name: string, after: number, upTo?: number) =>
  ({
    gt: updateKey(name, after),
    ...(upTo === undefined ? { lt: `${documentPrefix(name)}v` } : { lte: updateKey(name, upTo) }),
  }) as const;

/** The sequence number of a log entry's key (from updateKey), or null for any other key. */
export function seqOfUpdateKey(name: string, key: string): number | null {
  const prefix = `${documentPrefix(name)}u`;
  if (!key.startsWith(prefix)) return null;
  const seq = Number.parseInt(key.slice(prefix.length), 16);
  return Number.isSafeInteger(seq) ? seq : null;
}

/** The compacted state and the log of a document: its content, without its version history. */
export const contentRange = (name: string) =>
  ({ gte: stateKey(name), lt: `${documentPrefix(name)}v` }) as const;

/** A document's version history: version records, authors records and snapshots. */
export const historyRange = (name: string) =>
  ({ gte: `${documentPrefix(name)}v`, lt: `${DATA}${name}\x01` }) as const;

export const versionKey = (name: string, id: string): string => `${documentPrefix(name)}v${id}`;

export const snapshotKey = (name: string, id: string): string => `${documentPrefix(name)}x${id}`;

/** Part `index` of a version snapshot stored in `count` parts. */
export const snapshotPartKey = (name: string, id: string, count: number, index: number): string =>
  `${snapshotKey(name, id)}p${partTail(count, index)}`;

/** The parts of a version snapshot stored in parts, in index order. */
export const snapshotPartsOf = (name: string, id: string) =>
  ({ gt: `${snapshotKey(name, id)}p`, lt: `${snapshotKey(name, id)}q` }) as const;

/**
 * What a key of a document's 'x' range holds: a version's whole snapshot (count 0), or one part
 * of it; null for any other key.
 */
export function parseSnapshotKey(
  name: string,
  key: string,
): { id: string; count: number; index: number } | null {
  const prefix = `${documentPrefix(name)}x`;
  if (!key.startsWith(prefix)) return null;
  const rest = key.slice(prefix.length);
  const at = rest.indexOf("p");
  if (at === -1) return { id: rest, count: 0, index: 0 };
  const part = parsePartTail(rest.slice(at + 1));
  return part ? { id: rest.slice(0, at), ...part } : null;
}

/** The version records of a document, in id (time) order. */
export const versionRange = (name: string) =>
  ({ gte: `${documentPrefix(name)}v`, lt: `${documentPrefix(name)}w` }) as const;

/** The version id of a key from versionKey. */
export const idOfVersionKey = (name: string, key: string): string =>
  key.slice(documentPrefix(name).length + 1);

export const authorsKey = (name: string, seq: number): string =>
  `${documentPrefix(name)}w${hex(seq, SEQ_WIDTH)}`;

/** The authors records of a document with seq <= upTo (all of them when omitted). */
export const authorsRange = (name: string, upTo?: number) =>
  ({
    gte: `${documentPrefix(name)}w`,
    ...(upTo === undefined ? { lt: `${documentPrefix(name)}x` } : { lte: authorsKey(name, upTo) }),
  }) as const;
