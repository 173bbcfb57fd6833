import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import { decodeAuthors, encodeAuthors, mergeAuthors, readAuthors, writeAuthor } from "./authors.ts";
import type { BatchOp } from "./batch-writer.ts";
import { DamagedDocumentError, isCorruption } from "./damaged.ts";
import type {
  Author,
  RecordVersion,
  StoredDocument,
  VersionInfo,
  VersionKind,
  VersionStore,
} from "./document-store.ts";
import {
  assertDocumentName,
  authorsKey,
  authorsRange,
  idOfVersionKey,
  parseSnapshotKey,
  snapshotKey,
  snapshotPartKey,
  snapshotPartsOf,
  versionKey,
  versionRange,
} from "./keys.ts";
import type { Db } from "./leveldb-handle.ts";
import { mergeOffThread } from "./merge-worker/merge-worker.ts";
import { joinParts, writeParts } from "./state-chunks.ts";
import { checkRecordRequest, nextVersionId, parseVersionId } from "./version-ids.ts";

/**
 * Version history in the LevelDB store (key layout in keys.ts):
 *
 * - Every append with an author writes an authors record `w<seq>` in the same batch as the log
 *   entry, unless that author was already written since the latest version (the store remembers
 *   which, see AuthorsSeen). So the authors records hold, exactly, who stored updates since the
 *   latest version; an update without an author (made by the server) adds none.
 * - Recording a version cuts the log at its newest append (every append made before is covered;
 *   from then on every author is written anew), waits for those appends to be durable, and in
 *   one atomic batch writes the snapshot `x<id>` (the state and the log up to the cut, merged),
 *   the version record `v<id>` with the authors records up to the cut, deletes those records,
 *   and compacts the log up to the cut into the state (the merge is done anyway).
 * - Compaction never touches authors records, so none is lost before a version takes it.
 * - Deleting a version hands its authors on: to the next newer version (whose authors are then
 *   again those since the previous remaining version), or, when it was the newest, back to the
 *   pending authors as an authors record at the sequence it covered.
 *
 * Version record (lib0, in this order):
 *   format varUint (1), time varUint (ms), kind varUint (0 auto, 1 named, 2 restore),
 *   seq varUint (the log sequence the version covers), bytes varUint (snapshot size),
 *   label varUint 0, or 1 + varString, authors (authors.ts list format)
 */

/** The log of a document cut for a version, lent by the store (leveldb-store.ts). */
export interface LogCut {
  /** The newest log sequence number the version covers. */
  seq: number;
  /**
   * The compacted state and the log entries after it, up to seq. A state stored in parts comes
   * as `stateParts` (with a null `state`), for the merge thread to join (state-chunks.ts).
   */
  read(): Promise<{ stored: StoredDocument; stateParts: Uint8Array[] }>;
  /**
   * Writes `ops` in one atomic batch with a compaction of what read() returned into `merged`
   * (and the document's metadata); resolves once durable.
   */
  commit(merged: Uint8Array, ops: BatchOp[]): Promise<void>;
}

/** What the LevelDB store lends its version history. */
export interface VersionHost {
  db(): Promise<Db>;
  assertOpen(): void;
  now(): number;
  /** Runs `task` while no compaction, recording or deletion runs in the store. */
  exclusive<T>(task: () => Promise<T>): Promise<T>;
  /**
   * Cuts a document's log for a version (see LogCut) and runs `use` with it; null without
   * running it when the document does not exist.
   */
  withCut<T>(name: string, use: (cut: LogCut) => Promise<T>): Promise<T | null>;
  /** Writes ops in one atomic batch; resolves once durable. */
  write(ops: BatchOp[]): Promise<void>;
  /** How a large snapshot is written in parts before its record (state-chunks.ts). */
  parts: { chunkBytes: number; sync: boolean };
}

const FORMAT = 1;
const KINDS: readonly VersionKind[] = ["auto", "named", "restore"];

interface StoredVersion {
  info: VersionInfo;
  /** The log sequence the version covers. */
  seq: number;
}

export function encodeVersionRecord({ info, seq }: StoredVersion): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, FORMAT);
  encoding.writeVarUint(encoder, info.time);
  encoding.writeVarUint(encoder, KINDS.indexOf(info.kind));
  encoding.writeVarUint(encoder, seq);
  encoding.writeVarUint(encoder, info.bytes);
  if (info.label === undefined) encoding.writeVarUint(encoder, 0);
  else {
    encoding.writeVarUint(encoder, 1);
    encoding.writeVarString(encoder, info.label);
  }
  encoding.writeVarUint(encoder, info.authors.length);
  for (const author of info.authors) writeAuthor(encoder, author);
  return encoding.toUint8Array(encoder);
}

export function decodeVersionRecord(id: string, bytes: Uint8Array): StoredVersion {
  const decoder = decoding.createDecoder(bytes);
  const format = decoding.readVarUint(decoder);
  if (format !== FORMAT) throw new Error(`unknown version record format ${format}`);
  const time = decoding.readVarUint(decoder);
  const kind = KINDS[decoding.readVarUint(decoder)];
  if (kind === undefined) throw new Error("unknown version kind");
  const seq = decoding.readVarUint(decoder);
  const bytesOfSnapshot = decoding.readVarUint(decoder);
  const label = decoding.readVarUint(decoder) === 1 ? decoding.readVarString(decoder) : undefined;
  const authors = readAuthors(decoder);
  const info: VersionInfo = {
    id,
    time,
    kind,
    ...(label === undefined ? {} : { label }),
    authors,
    bytes: bytesOfSnapshot,
  };
  return { info, seq };
}

export class LevelVersionStore implements VersionStore {
  constructor(private readonly host: VersionHost) {}

  record(name: string, request: RecordVersion): Promise<VersionInfo | null> {
    this.host.assertOpen();
    assertDocumentName(name);
    const requested = checkRecordRequest(request, () => this.host.now());
    return this.host.exclusive(() =>
      damagedIfCorrupt(name, async () => {
        const recorded = await this.host.withCut(name, (cut) =>
          this.recordAt(name, cut, request, requested),
        );
        return recorded ?? null;
      }),
    );
  }

  private async recordAt(
    name: string,
    cut: LogCut,
    request: RecordVersion,
    requested: number,
  ): Promise<VersionInfo | null> {
    const db = await this.host.db();
    const newest = await this.newest(db, name);
    // An automatic version never repeats the previous one.
    if (request.kind === "auto" && newest && newest.seq >= cut.seq) return null;
    const [content, records] = await Promise.all([
      cut.read(),
      db.iterator(authorsRange(name, cut.seq)).all(),
    ]);
    // A large document merges in a thread (merge-worker.ts): recording a version at unload or
    // on a timer must not hold the event loop (a 10 MB document held it ~400 ms).
    const { update, failed } = await mergeOffThread(content.stored, content.stateParts);
    if (failed > 0) {
      // A version of half a document would be restored one day as if it were whole.
      throw new DamagedDocumentError(name, `${failed} stored updates do not apply`);
    }
    const { id, time } = nextVersionId(requested, newest?.info.id ?? null);
    const info: VersionInfo = {
      id,
      time,
      kind: request.kind,
      ...(request.label === undefined ? {} : { label: request.label }),
      authors: mergeAuthors(...records.map(([, value]) => authorsOf(name, value))),
      bytes: update.byteLength,
    };
    const ops: BatchOp[] = [
      {
        type: "put",
        key: versionKey(name, id),
        value: encodeVersionRecord({ info, seq: cut.seq }),
      },
    ];
    // A large snapshot goes in parts first, like a large state (state-chunks.ts): a crash
    // before the record leaves parts that no version names, which nothing reads.
    if (update.byteLength > this.host.parts.chunkBytes) {
      const keyOf = (count: number, index: number) => snapshotPartKey(name, id, count, index);
      await writeParts(db, update, keyOf, this.host.parts);
    } else {
      ops.push({ type: "put", key: snapshotKey(name, id), value: update });
    }
    for (const [key] of records) ops.push({ type: "del", key });
    await cut.commit(update, ops);
    return info;
  }

  async list(name: string): Promise<VersionInfo[]> {
    this.host.assertOpen();
    assertDocumentName(name);
    return damagedIfCorrupt(name, async () => {
      const db = await this.host.db();
      const records = await db.iterator({ ...versionRange(name), reverse: true }).all();
      return records.map((entry) => versionOf(name, entry).info);
    });
  }

  async read(name: string, id: string): Promise<{ info: VersionInfo; update: Uint8Array } | null> {
    this.host.assertOpen();
    assertDocumentName(name);
    if (!parseVersionId(id)) return null;
    return damagedIfCorrupt(name, async () => {
      const db = await this.host.db();
      const [record, whole] = await db.getMany([versionKey(name, id), snapshotKey(name, id)]);
      if (record === undefined) return null;
      const update = whole ?? (await readSnapshotParts(db, name, id));
      if (update === undefined) return null;
      return { info: versionOf(name, [versionKey(name, id), record]).info, update };
    });
  }

  delete(name: string, ids: readonly string[]): Promise<number> {
    this.host.assertOpen();
    assertDocumentName(name);
    const doomed = new Set(ids.filter((id) => parseVersionId(id) !== null));
    if (doomed.size === 0) return Promise.resolve(0);
    return this.host.exclusive(() =>
      damagedIfCorrupt(name, async () => {
        const db = await this.host.db();
        const ops: BatchOp[] = [];
        let deleted = 0;
        // Authors of deleted versions, handed on to the next newer version that stays.
        let carried: Author[] = [];
        let newestDeletedSeq = 0;
        for (const entry of await db.iterator(versionRange(name)).all()) {
          const [key] = entry;
          const version = versionOf(name, entry);
          if (doomed.has(version.info.id)) {
            deleted++;
            carried = mergeAuthors(carried, version.info.authors);
            newestDeletedSeq = version.seq;
            ops.push(
              { type: "del", key },
              { type: "del", key: snapshotKey(name, version.info.id) },
            );
            for (const part of await db.keys(snapshotPartsOf(name, version.info.id)).all()) {
              ops.push({ type: "del", key: part });
            }
          } else if (carried.length > 0) {
            version.info.authors = mergeAuthors(carried, version.info.authors);
            ops.push({ type: "put", key, value: encodeVersionRecord(version) });
            carried = [];
          }
        }
        if (carried.length > 0) {
          // The newest version went: its authors are pending again, before any stored since
          // (authors records sort by sequence, and newer ones have higher sequences).
          const key = authorsKey(name, newestDeletedSeq);
          const existing = await db.get(key);
          const authors = existing ? mergeAuthors(carried, authorsOf(name, existing)) : carried;
          ops.push({ type: "put", key, value: encodeAuthors(authors) });
        }
        if (deleted > 0) await this.host.write(ops);
        return deleted;
      }),
    );
  }

  async pendingAuthors(name: string): Promise<Author[]> {
    this.host.assertOpen();
    assertDocumentName(name);
    return damagedIfCorrupt(name, async () => {
      const db = await this.host.db();
      const records = await db.values(authorsRange(name)).all();
      return mergeAuthors(...records.map((value) => authorsOf(name, value)));
    });
  }

  /**
   * Adds versions salvaged from another data directory (tandem repair) to an existing document,
   * as they were (ids, times, labels, authors), and `pending` authors as pending. They cover
   * none of this document's log: the next automatic version is recorded even if nothing changed.
   */
  adopt(
    name: string,
    versions: readonly { info: VersionInfo; update: Uint8Array }[],
    pending: readonly Author[] = [],
  ): Promise<void> {
    this.host.assertOpen();
    assertDocumentName(name);
    return this.host.exclusive(async () => {
      const ops: BatchOp[] = [];
      for (const { info, update } of versions) {
        if (!parseVersionId(info.id)) throw new RangeError(`not a version id: ${info.id}`);
        const stored = { info: { ...info, bytes: update.byteLength }, seq: 0 };
        ops.push(
          { type: "put", key: versionKey(name, info.id), value: encodeVersionRecord(stored) },
          { type: "put", key: snapshotKey(name, info.id), value: update },
        );
      }
      if (pending.length > 0) {
        const key = authorsKey(name, 0);
        const existing = await (await this.host.db()).get(key);
        const authors = existing ? mergeAuthors(pending, authorsOf(name, existing)) : pending;
        ops.push({ type: "put", key, value: encodeAuthors(authors) });
      }
      if (ops.length > 0) await this.host.write(ops);
    });
  }

  private async newest(db: Db, name: string): Promise<StoredVersion | null> {
    const [entry] = await db.iterator({ ...versionRange(name), reverse: true, limit: 1 }).all();
    return entry ? versionOf(name, entry) : null;
  }
}

/**
 * A version history that fails LevelDB's checksums or does not decode is the document's damage
 * (reported by `tandem check`), not the store's: other documents' histories stay readable.
 */
async function damagedIfCorrupt<T>(name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof DamagedDocumentError) throw error;
    if (isCorruption(error)) {
      throw new DamagedDocumentError(name, "its version history fails LevelDB's checks", {
        cause: error,
      });
    }
    throw error;
  }
}

/** Decodes a stored record; one that does not decode is the document's damage. */
function decoded<T>(name: string, what: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    throw new DamagedDocumentError(name, `${what} does not decode`, { cause: error });
  }
}

function versionOf(name: string, [key, value]: [string, Uint8Array]): StoredVersion {
  const id = idOfVersionKey(name, key);
  return decoded(name, `version ${id}`, () => decodeVersionRecord(id, value));
}

function authorsOf(name: string, value: Uint8Array): Author[] {
  return decoded(name, "an authors record", () => decodeAuthors(value));
}

/**
 * A snapshot stored in parts, joined; undefined when it has none. Parts that are not all there
 * make the document damaged, as a missing part of its state does.
 */
async function readSnapshotParts(
  db: Db,
  name: string,
  id: string,
): Promise<Uint8Array | undefined> {
  const parts = await db.iterator(snapshotPartsOf(name, id)).all();
  const first = parts[0];
  if (first === undefined) return undefined;
  const count = parseSnapshotKey(name, first[0])?.count ?? 0;
  if (parts.length !== count) {
    throw new DamagedDocumentError(
      name,
      `the snapshot of version ${id} has ${parts.length} of its ${count} parts`,
    );
  }
  return joinParts(parts.map(([, value]) => value));
}
