import { ClassicLevel } from "classic-level";
import * as Y from "yjs";
import { decodeAuthors, mergeAuthors } from "../store/authors.ts";
import { isCorruption } from "../store/damaged.ts";
import type { Author, VersionInfo } from "../store/document-store.ts";
import {
  contentRange,
  historyRange,
  metaKey,
  metaRange,
  nameFromMetaKey,
  parseDataKey,
  parseSnapshotKey,
  parseStateChunkKey,
  stateKey,
} from "../store/keys.ts";
import { decodeVersionRecord } from "../store/leveldb-versions.ts";
import { type DocumentMeta, decodeMeta } from "../store/meta.ts";
import { joinParts } from "../store/state-chunks.ts";

/**
 * Reading a data directory document by document for `tandem check` and `tandem repair`,
 * without the server: every read is caught on its own, so one damaged block or entry is reported
 * (and skipped) without hiding the rest.
 */

export type Db = ClassicLevel<string, Uint8Array>;

export async function openDirectory(path: string): Promise<Db> {
  const db: Db = new ClassicLevel<string, Uint8Array>(path, {
    keyEncoding: "utf8",
    valueEncoding: "view",
    createIfMissing: false,
  });
  try {
    await db.open();
  } catch (error) {
    const cause = String((error as { cause?: unknown }).cause ?? error);
    if (/lock/i.test(cause)) {
      throw new Error(
        `${path} is in use by a running server (LevelDB's LOCK is held): stop it first`,
      );
    }
    throw new Error(`${path} does not open as a Tandem data directory: ${cause}`);
  }
  return db;
}

/** Every document name in the directory: from metadata records and from data keys. */
export async function documentNames(db: Db): Promise<{ names: string[]; problems: string[] }> {
  const names = new Set<string>();
  const problems: string[] = [];
  try {
    for (const key of await db.keys(metaRange).all()) names.add(nameFromMetaKey(key));
  } catch (error) {
    problems.push(`the list of documents is unreadable: ${describe(error)}`);
  }
  try {
    // Data keys are d\0<name>\0...: jump from one document to the next instead of reading all.
    let from = "d\0";
    for (;;) {
      const [key] = await db.keys({ gte: from, lt: "d\x01", limit: 1 }).all();
      if (key === undefined) break;
      const name = key.slice(2, key.indexOf("\0", 2));
      names.add(name);
      from = `d\0${name}\x01`;
    }
  } catch (error) {
    problems.push(`the document data is unreadable past some point: ${describe(error)}`);
  }
  return { names: [...names].sort(), problems };
}

export interface InspectedDocument {
  name: string;
  meta: DocumentMeta | null;
  /** The compacted state and log entries that decode and apply, in order. */
  good: Uint8Array[];
  /** The document rebuilt from `good`, as one update. */
  merged: Uint8Array;
  entries: number;
  /** Versions in its history (leveldb-versions.ts). */
  versions: number;
  bytes: number;
  problems: string[];
}

/** Reads one document and checks it: meta record, state, every log entry, and their merge. */
export async function inspectDocument(db: Db, name: string): Promise<InspectedDocument> {
  const problems: string[] = [];
  let meta: DocumentMeta | null = null;
  try {
    const bytes = await db.get(metaKey(name));
    if (bytes === undefined) problems.push("no metadata record");
    else meta = decodeMeta(bytes);
  } catch (error) {
    problems.push(`metadata record unreadable: ${describe(error)}`);
  }
  let records: [string, Uint8Array][] = [];
  try {
    records = await db.iterator(contentRange(name)).all();
  } catch (error) {
    problems.push(`data unreadable: ${describe(error)}`);
  }
  const state = stateKey(name);
  const doc = new Y.Doc({ gc: true });
  const good: Uint8Array[] = [];
  let entries = 0;
  let bytes = 0;
  let failed = 0;
  // The state (one value, or the parts the record names, joined), then the log. Parts of a
  // compaction that did not finish count as bytes and are otherwise left alone.
  const content: { isState: boolean; value: Uint8Array }[] = [];
  const parts: Uint8Array[] = [];
  for (const [key, value] of records) {
    bytes += value.byteLength;
    const part = parseStateChunkKey(name, key);
    if (part) {
      if (meta && part.seq === meta.stateSeq && part.count === meta.stateChunks) parts.push(value);
    } else {
      content.push({ isState: key === state, value });
    }
  }
  if (meta && meta.stateChunks > 0) {
    if (parts.length === meta.stateChunks) {
      content.unshift({ isState: true, value: joinParts(parts) });
    } else {
      problems.push(`the compacted state has ${parts.length} of its ${meta.stateChunks} parts`);
    }
  }
  for (const { isState, value } of content) {
    if (!isState) entries++;
    try {
      Y.decodeUpdate(value);
      Y.applyUpdate(doc, value);
      good.push(value);
    } catch {
      failed++;
      if (isState) problems.push("the compacted state does not decode");
    }
  }
  const failedEntries = failed - (problems.includes("the compacted state does not decode") ? 1 : 0);
  if (failedEntries > 0) problems.push(`${failedEntries} log entries do not decode or apply`);
  if (doc.store.pendingStructs !== null || doc.store.pendingDs !== null) {
    problems.push("some updates depend on data that is missing (pending after the merge)");
    // They can never be integrated: a salvaged document leaves them out.
    doc.store.pendingStructs = null;
    doc.store.pendingDs = null;
  }
  if (meta && meta.tailCount !== entries) {
    problems.push(`the metadata counts ${meta.tailCount} log entries, ${entries} are stored`);
  }
  if (meta && meta.stateSeq > 0 && meta.stateChunks === 0 && !content.some((c) => c.isState)) {
    problems.push("the compacted state is missing");
  }
  const merged = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  const history = await inspectHistory(db, name);
  problems.push(...history.problems);
  return {
    name,
    meta,
    good,
    merged,
    entries,
    versions: history.versions,
    bytes: bytes + history.bytes,
    problems,
  };
}

/** A version of a document's history whose record and snapshot both decode. */
export interface IntactVersion {
  info: VersionInfo;
  update: Uint8Array;
}

export interface HistoryReport {
  versions: number;
  bytes: number;
  /** Authors of updates stored since the latest version (from the records that decode). */
  pending: Author[];
  problems: string[];
}

/**
 * Reads a document's version history in key order (version records, authors records,
 * snapshots), holding only the small records in memory: yields every intact version, returns
 * what it found wrong.
 */
export async function* readHistory(
  db: Db,
  name: string,
): AsyncGenerator<IntactVersion, HistoryReport> {
  const records = new Map<string, VersionInfo>();
  const pending: Author[][] = [];
  const report: HistoryReport = { versions: 0, bytes: 0, pending: [], problems: [] };
  let badRecords = 0;
  let badSnapshots = 0;
  let badAuthors = 0;
  // The parts of the snapshot being read, when it is stored in parts (they come in order).
  const parts: { id: string; values: Uint8Array[] } = { id: "", values: [] };
  const iterator = db.iterator(historyRange(name));
  try {
    for (;;) {
      const entries = await iterator.nextv(100);
      if (entries.length === 0) break;
      for (const [key, value] of entries) {
        report.bytes += value.byteLength;
        const kind = parseDataKey(key)?.kind;
        const id = key.slice(key.lastIndexOf("\0") + 2);
        if (kind === "v") {
          try {
            records.set(id, decodeVersionRecord(id, value).info);
          } catch {
            badRecords++;
          }
        } else if (kind === "w") {
          try {
            pending.push(decodeAuthors(value));
          } catch {
            badAuthors++;
          }
        } else if (kind === "x") {
          const at = parseSnapshotKey(name, key);
          if (!at) continue;
          let snapshot = value;
          if (at.count > 0) {
            if (parts.id !== at.id) {
              parts.id = at.id;
              parts.values = [];
            }
            if (at.index === parts.values.length) parts.values.push(value);
            if (parts.values.length < at.count) continue;
            snapshot = joinParts(parts.values);
          }
          const info = records.get(at.id);
          // Parts no record names are left from a version whose recording did not finish.
          if (at.count > 0 && !info) continue;
          records.delete(at.id);
          try {
            Y.decodeUpdate(snapshot);
          } catch {
            badSnapshots++;
            continue;
          }
          if (info) {
            report.versions++;
            yield { info, update: snapshot };
          }
        }
      }
    }
  } catch (error) {
    report.problems.push(`version history unreadable: ${describe(error)}`);
  } finally {
    await iterator.close();
  }
  report.pending = mergeAuthors(...pending);
  if (badRecords > 0) report.problems.push(`${badRecords} version records do not decode`);
  if (badSnapshots > 0) report.problems.push(`${badSnapshots} version snapshots do not decode`);
  if (records.size > 0) report.problems.push(`${records.size} versions have no snapshot`);
  if (badAuthors > 0) report.problems.push(`${badAuthors} authors records do not decode`);
  return report;
}

/** Checks a document's version history: every version record, snapshot and authors record. */
async function inspectHistory(db: Db, name: string): Promise<HistoryReport> {
  const history = readHistory(db, name);
  for (;;) {
    const next = await history.next();
    if (next.done) return next.value;
  }
}

export function describe(error: unknown): string {
  const cause = (error as { cause?: { message?: string } }).cause?.message;
  const message = cause ?? (error as Error).message ?? String(error);
  return isCorruption(error) ? `corruption: ${message}` : message;
}
