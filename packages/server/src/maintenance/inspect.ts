import { ClassicLevel } from "classic-level";
import * as Y from "yjs";
import { isCorruption } from "../store/damaged.ts";
import { documentRange, metaKey, metaRange, nameFromMetaKey, stateKey } from "../store/keys.ts";
import { type DocumentMeta, decodeMeta } from "../store/meta.ts";

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
    records = await db.iterator(documentRange(name)).all();
  } catch (error) {
    problems.push(`data unreadable: ${describe(error)}`);
  }
  const state = stateKey(name);
  const doc = new Y.Doc({ gc: true });
  const good: Uint8Array[] = [];
  let entries = 0;
  let bytes = 0;
  let failed = 0;
  for (const [key, value] of records) {
    const isState = key === state;
    if (!isState) entries++;
    bytes += value.byteLength;
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
  if (meta && meta.stateSeq > 0 && !records.some(([key]) => key === state)) {
    problems.push("the compacted state is missing");
  }
  const merged = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return { name, meta, good, merged, entries, bytes, problems };
}

export function describe(error: unknown): string {
  const cause = (error as { cause?: { message?: string } }).cause?.message;
  const message = cause ?? (error as Error).message ?? String(error);
  return isCorruption(error) ? `corruption: ${message}` : message;
}
