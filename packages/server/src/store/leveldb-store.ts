import * as Y from "yjs";
import { AuthorsSeen, encodeAuthors, normalizeAuthor } from "./authors.ts";
import { type BatchOp, BatchWriter } from "./batch-writer.ts";
import {
  type CompactionPolicy,
  shouldCompact,
  shouldCompactWhenQuiet,
} from "./compaction-policy.ts";
import { DamagedDocumentError, isCorruption } from "./damaged.ts";
import type {
  Author,
  CompactionResult,
  DocumentInfo,
  DocumentStore,
  StoredDocument,
  StoreStatus,
} from "./document-store.ts";
import {
  assertDocumentName,
  authorsKey,
  contentRange,
  dataRange,
  documentRange,
  metaKey,
  metaRange,
  nameFromMetaKey,
  parseDataKey,
  seqOfUpdateKey,
  stateKey,
  updateKey,
  updateRange,
} from "./keys.ts";
import { type Db, LevelHandle, type RecoveryEvents } from "./leveldb-handle.ts";
import { LevelVersionStore, type LogCut } from "./leveldb-versions.ts";
import { mergeStoredDocument } from "./merge.ts";
import { MERGE_IN_PLACE_BYTES, mergeOffThread, newMergeKey } from "./merge-worker/merge-worker.ts";
import { type DocumentMeta, decodeMeta, emptyMeta, encodeMeta } from "./meta.ts";
import {
  completeStates,
  joinParts,
  readStateParts,
  STATE_CHUNK_BYTES,
  type StagedState,
  stageState,
} from "./state-chunks.ts";

export interface StoreEvents {
  compactionStarted?(name: string): void;
  compacted?(result: CompactionResult, ms: number): void;
  compactionFailed?(name: string, error: unknown): void;
  loadFailedEntries?(name: string, failed: number): void;
  /** An append became durable `ms` after it was made (metrics). */
  appended?(ms: number): void;
  /** A batch of `writes` (appends, compactions) holding `bytes` of values took `ms` to write. */
  batchWritten?(writes: number, bytes: number, ms: number): void;
  /** Writes failed and are held until the database is reopened (recovery, leveldb-handle.ts). */
  storage?: RecoveryEvents;
}

export interface LevelStoreOptions {
  /** Directory of the database; created when missing. */
  path: string;
  /** Sync every batch to the disk before acknowledging it (survives power loss). */
  fsync: boolean;
  compaction: CompactionPolicy;
  events?: StoreEvents;
  /**
   * Called before every batch is written; throwing fails that write as a broken disk would.
   * Tests inject EIO here to drive the recovery path of the real store.
   */
  beforeWrite?: (ops: readonly BatchOp[]) => void;
  now?: () => number;
  /**
   * Largest value a compacted state or a version snapshot is stored in (state-chunks.ts);
   * tests make it small.
   */
  stateChunkBytes?: number;
}

/** What the store keeps in memory for a document it has touched. */
interface DocumentState {
  meta: DocumentMeta;
  /** Sequence number of the newest log entry known to be on disk. */
  committedSeq: number;
  /** Settles when this document's last submitted write has (never rejects). */
  lastWrite: Promise<void>;
  /** This document's last submitted write as it will end: durable, or rejected. */
  lastOutcome: Promise<void>;
  /** When the last append was made (store clock), for compaction when quiet. */
  lastAppendAt: number;
  /** The server unloaded the document: forget this record once its compaction is done. */
  unloaded: boolean;
  /** Authors already written since the document's latest version (leveldb-versions.ts). */
  authors: AuthorsSeen;
}

/** One settled promise for every document with no write yet (a promise each cost 48 bytes). */
const SETTLED: Promise<void> = Promise.resolve();

function newDocumentState(meta: DocumentMeta): DocumentState {
  return {
    meta,
    committedSeq: meta.seq,
    lastWrite: SETTLED,
    lastOutcome: SETTLED,
    lastAppendAt: 0,
    unloaded: false,
    authors: new AuthorsSeen(),
  };
}

/** The newest log key is the ground truth for the sequence (see readDocumentState). */
function raiseSeq(meta: DocumentMeta, name: string, key: string): void {
  const seq = seqOfUpdateKey(name, key);
  if (seq !== null && seq > meta.seq) meta.seq = seq;
}

/** A document's record with its state and log as read. */
interface ReadDocument {
  doc: DocumentState;
  state: Uint8Array | undefined;
  entries: Uint8Array[];
}

/** Which rule asked for a compaction: the size thresholds, or a quiet/unloaded/closing document. */
type CompactionReason = "threshold" | "quiet";

/** Bytes of the values a batch writes (keys and deletions are small). */
function bytesOf(ops: readonly BatchOp[]): number {
  let bytes = 0;
  for (const op of ops) if (op.type === "put") bytes += op.value.byteLength;
  return bytes;
}

const SYNC = { sync: true } as const;

/**
 * When a document held in memory (attachLive) is compacted from it rather than from its log:
 * - when its merge would run on the event loop anyway, under MERGE_IN_PLACE_BYTES of state and
 *   log (merge-worker.ts): encoding the document is a fraction of that merge, which decodes the
 *   state, applies every entry of the log again and then encodes. Replaying automerge-paper,
 *   those merges were 2.5% of the event loop's time and 3% of what the server allocated;
 * - when the log is mostly superseded, at least MEMORY_COMPACTION_LOG_RATIO times the state (a
 *   small document rewritten many times, a map key set over and over: its log is hundreds of
 *   times its size, and re-applying it falls behind under sustained writing).
 * A larger document that grows (typing) has a log about the size of what it added, and merging
 * that in the merge worker costs the event loop nothing; encoding in memory would run on the
 * event loop. Encoding costs with the document's structs and content (automerge-paper's final
 * document, 311 KB in 10,971 structs: 6-10 ms warm; a 5 MB text in 10,000 structs: ~40 ms), so
 * larger documents always merge in the worker. The state's size cannot tell: a document never
 * compacted has none (the stalls scenario's 10 MB document was encoded in memory at its first
 * compaction, an 80 ms stall), so what the document holds is counted: its structs, and the
 * length of the content not deleted (characters of text, one per map or array value), one step
 * per struct.
 */
const MEMORY_COMPACTION_LOG_RATIO = 4;
const MEMORY_COMPACTION_MAX_STATE_BYTES = 1024 * 1024;
const MEMORY_COMPACTION_MAX_STRUCTS = 20_000;
const MEMORY_COMPACTION_MAX_LENGTH = 256 * 1024;

function compactsFromMemory(meta: DocumentMeta, doc: Y.Doc): boolean {
  if (meta.stateBytes > MEMORY_COMPACTION_MAX_STATE_BYTES) return false;
  const mergesInPlace = meta.stateBytes + meta.tailBytes < MERGE_IN_PLACE_BYTES;
  const superseded = meta.tailBytes >= meta.stateBytes * MEMORY_COMPACTION_LOG_RATIO;
  if (!mergesInPlace && !superseded) return false;
  let structs = 0;
  let length = 0;
  for (const list of doc.store.clients.values()) {
    structs += list.length;
    if (structs > MEMORY_COMPACTION_MAX_STRUCTS) return false;
    for (const struct of list) if (!struct.deleted) length += struct.length;
    if (length > MEMORY_COMPACTION_MAX_LENGTH) return false;
  }
  return true;
}

const settled = (promise: Promise<unknown>): Promise<void> =>
  promise.then(
    () => {},
    () => {},
  );

/**
 * The default store: one LevelDB database holding an append-only log of Yjs updates per
 * document, compacted in the background. The key layout is in keys.ts.
 */
export class LevelDocumentStore implements DocumentStore {
  private readonly docs = new Map<string, DocumentState | Promise<DocumentState>>();
  private readonly loads = new Map<string, Promise<StoredDocument | null>>();
  private readonly writer: BatchWriter;
  /**
   * Documents waiting for a compaction, with the rule that asked for it: checked again when the
   * compaction is due, since a compaction that ran meanwhile may have made it pointless.
   */
  private readonly compactionQueue = new Map<string, CompactionReason>();
  /** Documents whose metadata changed since it was last added to a batch. */
  private readonly dirty = new Set<string>();
  /** Documents whose metadata is in the batch being written. */
  private sealed: string[] = [];
  private compacting: Promise<void> | null = null;
  private compactionsRun: Promise<void> | null = null;
  private compactingName: string | null = null;
  /** Documents the server holds in memory (attachLive). */
  private readonly live = new Map<string, Y.Doc>();
  /**
   * The merge the merge thread kept at a document's last compaction, and the state (sequence)
   * it holds (warm-docs.ts). By the record's identity: a deleted document's new record has none.
   */
  private readonly keptMerges = new WeakMap<DocumentState, { key: number; stateSeq: number }>();
  private readonly quietSweep: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private open = true;
  /** Version history (leveldb-versions.ts), sharing this store's batches and exclusivity. */
  readonly versions: LevelVersionStore;
  /** How large values (states, snapshots) are written in parts (state-chunks.ts). */
  private readonly parts: { chunkBytes: number; sync: boolean };

  private constructor(
    private readonly handle: LevelHandle,
    private readonly options: LevelStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.parts = { chunkBytes: options.stateChunkBytes ?? STATE_CHUNK_BYTES, sync: options.fsync };
    this.versions = new LevelVersionStore({
      db: () => this.db(),
      assertOpen: () => this.assertOpen(),
      now: () => this.now(),
      exclusive: (task) => this.exclusive(task),
      withCut: (name, use) => this.withCut(name, use),
      write: (ops) => this.writer.submit(ops),
      parts: this.parts,
    });
    this.writer = new BatchWriter(
      async (ops) => {
        options.beforeWrite?.(ops);
        const db = await this.db();
        // No options object unless syncing: abstract-level copies the options into every op, and
        // a batch given { sync: false } cost ~25 µs more CPU than one given none (measured).
        await (options.fsync ? db.batch(ops, SYNC) : db.batch(ops));
      },
      () => this.sealMeta(),
      () => this.afterCommit(),
      (error) => this.handle.recover(error),
      options.events?.batchWritten
        ? (writes, ops, ms) => options.events?.batchWritten?.(writes, bytesOf(ops), ms)
        : undefined,
    );
    const quietMs = options.compaction.quietMs ?? 0;
    if (quietMs > 0) {
      this.quietSweep = setInterval(() => this.compactQuiet(quietMs), Math.max(10, quietMs / 2));
      this.quietSweep.unref();
    }
  }

  static async open(options: LevelStoreOptions): Promise<LevelDocumentStore> {
    const handle = await LevelHandle.open(options.path, options.events?.storage);
    return new LevelDocumentStore(handle, options);
  }

  private db(): Promise<Db> {
    return this.handle.db();
  }

  get isOpen(): boolean {
    return this.open;
  }

  get status(): StoreStatus {
    if (!this.open) return { ready: false, reason: "the document store is closed" };
    const reason = this.handle.failureReason;
    return reason ? { ready: false, reason } : { ready: true };
  }

  durable(name: string): Promise<void> {
    const doc = this.docs.get(name);
    if (!doc) return Promise.resolve();
    // A record still loading has had no append yet, except ones chained behind it.
    if (doc instanceof Promise) return doc.then((d) => d.lastOutcome);
    return doc.lastOutcome;
  }

  append(name: string, update: Uint8Array, author?: Author): Promise<void> {
    this.assertOpen();
    assertDocumentName(name);
    const by = normalizeAuthor(author);
    const cached = this.docs.get(name);
    // The common case stays synchronous up to submit, so appends are assigned sequence numbers
    // (and batched) in exactly the order they were called.
    if (cached && !(cached instanceof Promise)) return this.appendTo(name, cached, update, by);
    return this.documentState(name).then((doc) => this.appendTo(name, doc, update, by));
  }

  private appendTo(
    name: string,
    doc: DocumentState,
    update: Uint8Array,
    author: Author | null,
  ): Promise<void> {
    const seq = doc.meta.seq + 1;
    doc.meta.seq = seq;
    doc.meta.tailCount += 1;
    doc.meta.tailBytes += update.byteLength;
    doc.meta.updatedAt = this.now();
    doc.lastAppendAt = doc.meta.updatedAt;
    doc.unloaded = false;
    this.dirty.add(name);
    const appended = this.options.events?.appended;
    const started = appended ? performance.now() : 0;
    const ops: BatchOp[] = [{ type: "put", key: updateKey(name, seq), value: update }];
    // The author commits with the update, so the version history never misses one.
    if (author && doc.authors.first(author)) {
      ops.push({ type: "put", key: authorsKey(name, seq), value: encodeAuthors([author]) });
    }
    const write = this.writer.submit(ops);
    this.track(doc, write);
    return write.then(() => {
      if (seq > doc.committedSeq) doc.committedSeq = seq;
      appended?.(performance.now() - started);
    });
  }

  /** Batches commit in submission order, so a document's newest write settles after its others. */
  private track(doc: DocumentState, write: Promise<void>): void {
    doc.lastWrite = settled(write);
    doc.lastOutcome = write;
    // Whoever awaits the outcome handles a rejection; this only keeps it from being unhandled.
    write.catch(() => {});
  }

  load(name: string): Promise<StoredDocument | null> {
    this.assertOpen();
    assertDocumentName(name);
    const inflight = this.loads.get(name);
    if (inflight) return inflight;
    const load = this.readDocument(name)
      .catch((error: unknown) => {
        if (!isCorruption(error)) throw error;
        throw new DamagedDocumentError(name, "its data fails LevelDB's checks", { cause: error });
      })
      .finally(() => this.loads.delete(name));
    this.loads.set(name, load);
    return load;
  }

  private async readDocument(name: string): Promise<StoredDocument | null> {
    const { doc, state, entries } = this.docs.has(name)
      ? await this.readKnown(name)
      : await this.readCold(name);
    if (state === undefined && entries.length === 0) return null;
    // A long tail makes every cold load slower: fold it in now rather than at the next append.
    this.maybeScheduleCompaction(name, doc);
    return { state: state ?? null, updates: entries };
  }

  /** Reads the state and log of a document whose record the store holds. */
  private async readKnown(name: string): Promise<ReadDocument> {
    const doc = await this.documentState(name);
    await doc.lastWrite;
    const db = await this.db();
    const [parts, entries] = await Promise.all([
      readStateParts(db, name, doc.meta),
      // One call for the whole range: per-entry async iteration costs more than the reading.
      db.values(updateRange(name, doc.meta.stateSeq)).all(),
    ]);
    return { doc, state: parts && joinParts(parts), entries };
  }

  /**
   * Reads a document the store holds no record of (its first load since the store opened): its
   * metadata record and state in one call, then its log, whose keys also give the newest
   * sequence number (as readDocumentState does). Two LevelDB calls instead of readDocumentState's
   * two and readKnown's two: about 0.12 ms of CPU less per document (an empty range read costs
   * ~90 µs, a get ~40 µs), which opening 1,000 documents pays 1,000 times. The record is cached
   * (as a promise while reading) like documentState's, so an append meanwhile shares it.
   */
  private readCold(name: string): Promise<ReadDocument> {
    const reading = (async (): Promise<ReadDocument> => {
      const db = await this.db();
      const [metaBytes, whole] = await db.getMany([metaKey(name), stateKey(name)]);
      const meta = metaBytes ? decodeMeta(metaBytes) : emptyMeta(this.now());
      // A state in parts (a large document) takes one more read.
      const [parts, log] = await Promise.all([
        meta.stateChunks > 0 ? readStateParts(db, name, meta) : undefined,
        db.iterator(updateRange(name, meta.stateSeq)).all(),
      ]);
      for (const [key] of log) raiseSeq(meta, name, key);
      const state = parts ? joinParts(parts) : whole;
      return { doc: newDocumentState(meta), state, entries: log.map(([, value]) => value) };
    })();
    const record = reading.then(({ doc }) => {
      this.docs.set(name, doc);
      return doc;
    });
    this.docs.set(name, record);
    record.catch(() => this.docs.delete(name));
    return reading;
  }

  async sizeOf(name: string): Promise<number> {
    assertDocumentName(name);
    const { meta } = await this.documentState(name);
    return meta.stateBytes + meta.tailBytes;
  }

  async read(name: string): Promise<Uint8Array | null> {
    const stored = await this.load(name);
    if (!stored) return null;
    const { update, failed } = mergeStoredDocument(stored);
    if (failed > 0) {
      this.options.events?.loadFailedEntries?.(name, failed);
      throw new DamagedDocumentError(name, `${failed} stored updates do not apply`);
    }
    return update;
  }

  async list(): Promise<DocumentInfo[]> {
    this.assertOpen();
    await this.writer.drain();
    const documents: DocumentInfo[] = [];
    for (const [key, value] of await (await this.db()).iterator(metaRange).all()) {
      const meta = decodeMeta(value);
      documents.push({
        name: nameFromMetaKey(key),
        bytes: meta.stateBytes + meta.tailBytes,
        pendingUpdates: meta.tailCount,
        createdAt: new Date(meta.createdAt),
        updatedAt: new Date(meta.updatedAt),
      });
    }
    return documents;
  }

  /**
   * One LevelDB iterator over every document's data: LevelDB reads it from a snapshot taken when
   * the iterator is created, so every batch committed before (every acknowledged update) is in
   * it, and no compaction or append after it is. A compaction replaces entries by a state in one
   * batch, so the snapshot holds each document whole. Documents come in name order.
   */
  async *snapshot(): AsyncGenerator<{ name: string; update: Uint8Array }> {
    this.assertOpen();
    const iterator = (await this.db()).iterator(dataRange);
    let name: string | null = null;
    let stored: StoredDocument = { state: null, updates: [] };
    let parts: [string, Uint8Array][] = [];
    const merged = (): { name: string; update: Uint8Array } => {
      // The snapshot has no records: every complete state in parts is merged (state-chunks.ts).
      for (const state of completeStates(name as string, parts)) stored.updates.unshift(state);
      const { update, failed } = mergeStoredDocument(stored);
      if (failed > 0) {
        throw new DamagedDocumentError(name as string, `${failed} stored updates do not apply`);
      }
      return { name: name as string, update };
    };
    try {
      for (;;) {
        const entries = await iterator.nextv(1000);
        if (entries.length === 0) break;
        for (const [key, value] of entries) {
          const parsed = parseDataKey(key);
          const content = parsed?.kind === "s" || parsed?.kind === "t" || parsed?.kind === "u";
          if (!parsed || !content) continue;
          if (parsed.name !== name) {
            if (name !== null) yield merged();
            name = parsed.name;
            stored = { state: null, updates: [] };
            parts = [];
          }
          if (parsed.kind === "s") stored.state = value;
          else if (parsed.kind === "t") parts.push([key, value]);
          else stored.updates.push(value);
        }
      }
      if (name !== null) yield merged();
    } finally {
      await iterator.close();
    }
  }

  async delete(name: string): Promise<boolean> {
    this.assertOpen();
    assertDocumentName(name);
    return this.exclusive(() => this.deleteDocument(name));
  }

  private async deleteDocument(name: string): Promise<boolean> {
    await this.writer.drain();
    const db = await this.db();
    const ops: BatchOp[] = [];
    for (const key of await db.keys(documentRange(name)).all()) ops.push({ type: "del", key });
    const existed = ops.length > 0 || (await db.get(metaKey(name))) !== undefined;
    ops.push({ type: "del", key: metaKey(name) });
    this.docs.delete(name);
    this.dirty.delete(name);
    this.compactionQueue.delete(name);
    // A copy still in memory no longer mirrors the store: never compact from it.
    this.live.delete(name);
    await this.writer.submit(ops);
    return existed;
  }

  async compact(name: string): Promise<CompactionResult | null> {
    this.assertOpen();
    assertDocumentName(name);
    return this.compactExclusive(name);
  }

  /** One compaction at a time keeps the disk and the CPU free for appends. */
  private compactExclusive(name: string): Promise<CompactionResult | null> {
    return this.exclusive(() => this.compactDocument(name));
  }

  /**
   * Runs `task` alone among the tasks that rewrite documents (compactions, versions, deletions):
   * each reads what it rewrites, so two at once could undo each other.
   */
  private async exclusive<T>(task: () => Promise<T>): Promise<T> {
    while (this.compacting) await this.compacting;
    const run = task();
    this.compacting = settled(run).then(() => {
      this.compacting = null;
    });
    return run;
  }

  /**
   * Cuts a document's log for a version (see LogCut in leveldb-versions.ts) and hands it to
   * `use`; null when the document does not exist. Runs inside exclusive(), so no compaction
   * moves the state meanwhile.
   */
  private async withCut<T>(name: string, use: (cut: LogCut) => Promise<T>): Promise<T | null> {
    const db = await this.db();
    const known = this.docs.has(name);
    if (!known) {
      // Asking about a document that does not exist must not leave a record of it behind.
      const [meta, [content]] = await Promise.all([
        db.get(metaKey(name)),
        db.keys({ ...contentRange(name), limit: 1 }).all(),
      ]);
      if (meta === undefined && content === undefined) return null;
    }
    const doc = await this.documentState(name);
    // A document the server has not loaded (a version of a quiet one): forget it again after.
    if (!known && doc.lastAppendAt === 0) doc.unloaded = true;
    try {
      const cut = await this.cutLog(name, doc);
      return cut ? await use(cut) : null;
    } finally {
      this.forgetIfUnloaded(name);
    }
  }

  private async cutLog(name: string, doc: DocumentState): Promise<LogCut | null> {
    const db = await this.db();
    // Synchronously: every append made before is covered, every one after writes its author
    // again (it belongs to the next version).
    const seq = doc.meta.seq;
    doc.authors.reset();
    if (seq === 0) return null;
    await doc.lastWrite;
    if (doc.committedSeq < seq) {
      throw new Error(`the latest updates of ${JSON.stringify(name)} could not be stored`);
    }
    const stateSeq = doc.meta.stateSeq;
    let entries: [string, Uint8Array][] = [];
    // Counted as read: the merge may hand the buffers to a thread, which leaves them empty here.
    let entryBytes = 0;
    return {
      seq,
      read: async () => {
        const [parts, read] = await Promise.all([
          readStateParts(db, name, doc.meta),
          db.iterator(updateRange(name, stateSeq, seq)).all(),
        ]);
        entries = read;
        entryBytes = read.reduce((sum, [, value]) => sum + value.byteLength, 0);
        const updates = entries.map(([, value]) => value);
        return { stored: { state: null, updates }, stateParts: parts ?? [] };
      },
      commit: async (merged, ops) => {
        if (entries.length > 0) {
          // The merge is done anyway: fold the log into the state in the same batch (a
          // compaction, see compactDocument).
          for (const [key] of entries) ops.push({ type: "del", key });
          const staged = await this.stageNewState(name, doc, merged, seq);
          for (const op of staged.ops) ops.push(op);
          doc.meta.stateSeq = seq;
          doc.meta.stateChunks = staged.chunks;
          doc.meta.tailCount -= entries.length;
          doc.meta.tailBytes -= entryBytes;
          doc.meta.stateBytes = merged.byteLength;
          this.dirty.add(name);
        }
        const write = this.writer.submit(ops);
        this.track(doc, write);
        await write;
      },
    };
  }

  /**
   * A compaction's new state, ready for the batch that commits it (state-chunks.ts). Only a
   * large state, or one replacing a state in parts, waits for LevelDB here: a small document's
   * compaction stays one synchronous step. (Parts left over from an unfinished compaction of a
   * document whose state is one value wait for its next large state to be deleted.)
   */
  private async stageNewState(
    name: string,
    doc: DocumentState,
    state: Uint8Array,
    seq: number,
  ): Promise<StagedState> {
    if (doc.meta.stateChunks === 0 && state.byteLength <= this.parts.chunkBytes) {
      return { ops: [{ type: "put", key: stateKey(name), value: state }], chunks: 0 };
    }
    return stageState(await this.db(), name, state, seq, this.parts);
  }

  attachLive(name: string, document: Y.Doc): () => void {
    this.live.set(name, document);
    return () => {
      if (this.live.get(name) === document) this.live.delete(name);
    };
  }

  private async compactDocument(name: string): Promise<CompactionResult | null> {
    const doc = await this.documentState(name);
    const live = this.live.get(name);
    if (live && compactsFromMemory(doc.meta, live)) return this.compactFromMemory(name, doc, live);
    // Entries up to upTo are on disk; later appends get higher numbers and stay in the log.
    const upTo = doc.committedSeq;
    if (upTo <= doc.meta.stateSeq) return null;
    const started = performance.now();
    this.options.events?.compactionStarted?.(name);

    const db = await this.db();
    const stateParts = await readStateParts(db, name, doc.meta);
    const updates: Uint8Array[] = [];
    const deletes: BatchOp[] = [];
    let mergedBytes = 0;
    const range = updateRange(name, doc.meta.stateSeq, upTo);
    for (const [key, value] of await db.iterator(range).all()) {
      updates.push(value);
      deletes.push({ type: "del", key });
      mergedBytes += value.byteLength;
    }
    if (updates.length === 0) return null;
    // A state in parts is joined by the merge thread, not here (a copy of megabytes). The thread
    // may start from what it merged at this document's last compaction (warm-docs.ts): only if
    // that merge was kept for the state the document has now.
    const lastKept = this.keptMerges.get(doc);
    const warm = {
      from: lastKept?.stateSeq === doc.meta.stateSeq ? lastKept.key : null,
      keep: newMergeKey(),
    };
    this.keptMerges.delete(doc);
    const {
      update: merged,
      failed,
      reused,
      kept,
    } = await mergeOffThread({ state: null, updates }, stateParts, warm);
    // Compacting would drop the entries that do not apply, silently: leave the damage for
    // `tandem check` and `tandem repair` to report.
    if (failed > 0) throw new DamagedDocumentError(name, `${failed} stored updates do not apply`);
    const staged = await this.stageNewState(name, doc, merged, upTo);

    const bytesBefore = doc.meta.stateBytes + doc.meta.tailBytes;
    if (kept) this.keptMerges.set(doc, { key: warm.keep, stateSeq: upTo });
    doc.meta.stateSeq = upTo;
    doc.meta.stateChunks = staged.chunks;
    doc.meta.tailCount -= updates.length;
    doc.meta.tailBytes -= mergedBytes;
    doc.meta.stateBytes = merged.byteLength;
    this.dirty.add(name);
    // The new state (or the record naming its parts) and the deletion of the entries it covers
    // commit in one atomic batch: a crash leaves either the old state and all entries or the
    // new state and the rest.
    const write = this.writer.submit([...staged.ops, ...deletes]);
    this.track(doc, write);
    await write;
    const result: CompactionResult = {
      name,
      merged: updates.length,
      bytesBefore,
      bytesAfter: doc.meta.stateBytes + doc.meta.tailBytes,
      stateBytes: merged.byteLength,
      source: reused ? "kept merge" : "log",
    };
    this.options.events?.compacted?.(result, performance.now() - started);
    return result;
  }

  /**
   * Compacts from the document the server holds (attachLive) instead of the log: the log is not
   * read, and nothing is applied again. The encoding and the cut happen in one synchronous
   * step, so no append comes between them: every entry appended so far (up to meta.seq) was
   * applied to the document before it was appended, so the encoded state covers them all. The
   * document may hold more (an update applied whose append comes later); that one is then both
   * in the state and in the log, which Yjs applies as a no-op. Appends made while a large state
   * is written in parts come after the cut and stay in the log. The batch deletes the covered
   * entries by key, and goes behind the appends still queued, so they are written and deleted
   * in order (or in one batch, which LevelDB applies in order too).
   */
  private async compactFromMemory(
    name: string,
    doc: DocumentState,
    live: Y.Doc,
  ): Promise<CompactionResult | null> {
    const from = doc.meta.stateSeq;
    const upTo = doc.meta.seq;
    if (upTo <= from) return null;
    const started = performance.now();
    this.options.events?.compactionStarted?.(name);
    const state = Y.encodeStateAsUpdate(live);
    // The log up to the cut: all of it (every append so far is covered).
    const merged = doc.meta.tailCount;
    const mergedBytes = doc.meta.tailBytes;
    const staged = await this.stageNewState(name, doc, state, upTo);
    const ops = staged.ops;
    for (let seq = from + 1; seq <= upTo; seq++)
      ops.push({ type: "del", key: updateKey(name, seq) });
    const bytesBefore = doc.meta.stateBytes + doc.meta.tailBytes;
    doc.meta.stateSeq = upTo;
    doc.meta.stateChunks = staged.chunks;
    doc.meta.tailCount -= merged;
    doc.meta.tailBytes -= mergedBytes;
    doc.meta.stateBytes = state.byteLength;
    this.dirty.add(name);
    const write = this.writer.submit(ops);
    this.track(doc, write);
    await write;
    if (upTo > doc.committedSeq) doc.committedSeq = upTo;
    const result: CompactionResult = {
      name,
      merged,
      bytesBefore,
      bytesAfter: doc.meta.stateBytes + doc.meta.tailBytes,
      stateBytes: state.byteLength,
      source: "memory",
    };
    this.options.events?.compacted?.(result, performance.now() - started);
    return result;
  }

  /**
   * Finishes queued appends, compacts every document whose log is worth folding in (so the next
   * start loads each in one read), then closes the database.
   */
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    if (this.quietSweep) clearInterval(this.quietSweep);
    if (this.compactsWhenQuiet && this.handle.failureReason === null) {
      for (const [name, doc] of this.docs) {
        if (!(doc instanceof Promise) && shouldCompactWhenQuiet(doc.meta)) {
          this.compactionQueue.set(name, "quiet");
        }
      }
      while (this.compactionQueue.size > 0 || this.compactionsRun) {
        await (this.compactionsRun ?? this.runQueuedCompactions());
      }
    }
    this.compactionQueue.clear();
    // Writes held by a failing disk would wait forever: give up on them (see giveUp).
    this.handle.giveUp();
    await this.compacting;
    await this.writer.drain();
    await this.handle.close();
  }

  /** Queues the documents that had no append for quietMs and whose log is worth compacting. */
  private compactQuiet(quietMs: number): void {
    if (!this.open || this.handle.failureReason !== null) return;
    const before = this.now() - quietMs;
    for (const [name, doc] of this.docs) {
      if (doc instanceof Promise || doc.lastAppendAt === 0 || doc.lastAppendAt > before) continue;
      if (shouldCompactWhenQuiet(doc.meta)) this.queueCompaction(name, "quiet");
    }
  }

  private async documentState(name: string): Promise<DocumentState> {
    const cached = this.docs.get(name);
    if (cached) return cached;
    const loading = this.readDocumentState(name);
    this.docs.set(name, loading);
    loading.catch(() => this.docs.delete(name));
    return loading;
  }

  private async readDocumentState(name: string): Promise<DocumentState> {
    const db = await this.db();
    return db.get(metaKey(name)).then(async (bytes) => {
      const meta = bytes ? decodeMeta(bytes) : emptyMeta(this.now());
      // The newest log key is the ground truth for the sequence (the record is written in the
      // same batch, so they agree unless the record itself was lost): look for keys past the
      // record's. Forward, not "the last key, in reverse": a compaction deletes the entries it
      // folds in, and LevelDB walks back over every one of those tombstones before it can tell
      // the range is empty (7-11 ms per load after a 20,000-update burst). A forward seek past
      // the record's seq starts after them.
      for (const key of await db.keys(updateRange(name, meta.seq)).all()) raiseSeq(meta, name, key);
      const doc = newDocumentState(meta);
      this.docs.set(name, doc);
      return doc;
    });
  }

  /** Adds the metadata record of every document the sealed batch touches. */
  private sealMeta(): BatchOp[] {
    const ops: BatchOp[] = [];
    this.sealed = [];
    for (const name of this.dirty) {
      const doc = this.docs.get(name);
      if (!doc || doc instanceof Promise) continue;
      ops.push({ type: "put", key: metaKey(name), value: encodeMeta(doc.meta) });
      this.sealed.push(name);
    }
    this.dirty.clear();
    return ops;
  }

  private afterCommit(): void {
    this.handle.confirmWritable();
    if (!this.open) return;
    for (const name of this.sealed) {
      const doc = this.docs.get(name);
      if (doc && !(doc instanceof Promise)) this.maybeScheduleCompaction(name, doc);
    }
  }

  private maybeScheduleCompaction(name: string, doc: DocumentState): void {
    if (shouldCompact(doc.meta, this.options.compaction)) this.queueCompaction(name, "threshold");
  }

  private queueCompaction(name: string, reason: CompactionReason): void {
    // "quiet" is the looser rule: it wins when both asked.
    if (this.compactionQueue.get(name) !== "quiet") this.compactionQueue.set(name, reason);
    void this.runQueuedCompactions();
  }

  private stillWorthCompacting(name: string, reason: CompactionReason): boolean {
    const doc = this.docs.get(name);
    if (!doc || doc instanceof Promise) return false;
    if (shouldCompact(doc.meta, this.options.compaction)) return true;
    return reason === "quiet" && shouldCompactWhenQuiet(doc.meta);
  }

  /**
   * Runs queued compactions one after another until the queue is empty. A document leaves the
   * queue when its compaction starts, so a request made meanwhile (more appends, an unload)
   * queues it again rather than being covered by a compaction that already chose its range.
   */
  private runQueuedCompactions(): Promise<void> {
    if (this.compactionsRun) return this.compactionsRun;
    const run = (async () => {
      for (;;) {
        const next = this.compactionQueue.entries().next().value;
        if (next === undefined) return;
        const [name, reason] = next;
        this.compactionQueue.delete(name);
        if (!this.stillWorthCompacting(name, reason)) {
          this.forgetIfUnloaded(name);
          continue;
        }
        this.compactingName = name;
        try {
          await this.compactExclusive(name);
        } catch (error) {
          if (this.handle.failureReason === null) {
            this.options.events?.compactionFailed?.(name, error);
          }
        } finally {
          this.compactingName = null;
          this.forgetIfUnloaded(name);
        }
      }
    })();
    this.compactionsRun = run;
    void run.finally(() => {
      if (this.compactionsRun === run) this.compactionsRun = null;
      // A request that came after the loop's last look at the queue.
      if (this.compactionQueue.size > 0) void this.runQueuedCompactions();
    });
    return run;
  }

  /** One instance owns the database: no other instance stores updates to report. */
  watch(): () => void {
    return () => {};
  }

  /**
   * The server unloaded the document: compact it if its log is worth folding in (the next load
   * is then one read), and forget its in-memory record once nothing is in flight.
   */
  unload(name: string): void {
    const doc = this.docs.get(name);
    if (!doc || doc instanceof Promise) return;
    doc.unloaded = true;
    if (this.open && this.compactsWhenQuiet && shouldCompactWhenQuiet(doc.meta)) {
      this.queueCompaction(name, "quiet");
    }
    this.forgetIfUnloaded(name);
  }

  private forgetIfUnloaded(name: string): void {
    const doc = this.docs.get(name);
    if (!doc || doc instanceof Promise || !doc.unloaded) return;
    if (this.dirty.has(name) || this.compactionQueue.has(name)) return;
    if (this.compactingName === name || doc.committedSeq !== doc.meta.seq) return;
    this.docs.delete(name);
  }

  private get compactsWhenQuiet(): boolean {
    return (this.options.compaction.quietMs ?? 0) > 0;
  }

  private assertOpen(): void {
    if (!this.open) throw new Error("the document store is closed");
  }
}
