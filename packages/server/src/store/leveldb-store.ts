import { ClassicLevel } from "classic-level";
import { type BatchOp, BatchWriter } from "./batch-writer.ts";
import { type CompactionPolicy, shouldCompact } from "./compaction-policy.ts";
import type {
  CompactionResult,
  DocumentInfo,
  DocumentStore,
  StoredDocument,
} from "./document-store.ts";
import {
  assertDocumentName,
  documentRange,
  LAYOUT_KEY,
  LAYOUT_VERSION,
  metaKey,
  metaRange,
  nameFromMetaKey,
  seqOfUpdateKey,
  stateKey,
  updateKey,
  updateRange,
} from "./keys.ts";
import { mergeStoredDocument } from "./merge.ts";
import { type DocumentMeta, decodeMeta, emptyMeta, encodeMeta } from "./meta.ts";

export interface StoreEvents {
  compactionStarted?(name: string): void;
  compacted?(result: CompactionResult, ms: number): void;
  compactionFailed?(name: string, error: unknown): void;
  loadFailedEntries?(name: string, failed: number): void;
}

export interface LevelStoreOptions {
  /** Directory of the database; created when missing. */
  path: string;
  /** Sync every batch to the disk before acknowledging it (survives power loss). */
  fsync: boolean;
  compaction: CompactionPolicy;
  events?: StoreEvents;
  now?: () => number;
}

/** What the store keeps in memory for a document it has touched. */
interface DocumentState {
  meta: DocumentMeta;
  /** Sequence number of the newest log entry known to be on disk. */
  committedSeq: number;
  /** Settles when this document's last submitted write has. */
  lastWrite: Promise<void>;
}

type Db = ClassicLevel<string, Uint8Array>;

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
  private readonly compactionQueue = new Set<string>();
  /** Documents whose metadata changed since it was last added to a batch. */
  private readonly dirty = new Set<string>();
  /** Documents whose metadata is in the batch being written. */
  private sealed: string[] = [];
  private compacting: Promise<void> | null = null;
  private readonly now: () => number;
  private open = true;

  private constructor(
    private readonly db: Db,
    private readonly options: LevelStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.writer = new BatchWriter(
      (ops) => this.db.batch(ops, { sync: options.fsync }),
      () => this.sealMeta(),
      () => this.afterCommit(),
    );
  }

  static async open(options: LevelStoreOptions): Promise<LevelDocumentStore> {
    const db: Db = new ClassicLevel<string, Uint8Array>(options.path, {
      keyEncoding: "utf8",
      valueEncoding: "view",
    });
    try {
      await db.open();
    } catch (error) {
      // LevelDB holds a lock file while a database is open: say so plainly, it is the usual case.
      const cause = String((error as { cause?: unknown }).cause ?? "");
      if (/lock/i.test(cause)) {
        throw new Error(
          `the data directory ${options.path} is in use by another process (LevelDB's LOCK is held): stop it, or choose another --data`,
        );
      }
      throw error;
    }
    try {
      const layout = await db.get(LAYOUT_KEY);
      if (layout === undefined) {
        await db.put(LAYOUT_KEY, Uint8Array.of(LAYOUT_VERSION), { sync: true });
      } else if (layout[0] !== LAYOUT_VERSION) {
        throw new Error(
          `data directory ${options.path} uses storage layout ${layout[0]}; this version of Tandem reads layout ${LAYOUT_VERSION}`,
        );
      }
    } catch (error) {
      await db.close();
      throw error;
    }
    return new LevelDocumentStore(db, options);
  }

  get isOpen(): boolean {
    return this.open;
  }

  append(name: string, update: Uint8Array): Promise<void> {
    this.assertOpen();
    assertDocumentName(name);
    const cached = this.docs.get(name);
    // The common case stays synchronous up to submit, so appends are assigned sequence numbers
    // (and batched) in exactly the order they were called.
    if (cached && !(cached instanceof Promise)) return this.appendTo(name, cached, update);
    return this.documentState(name).then((doc) => this.appendTo(name, doc, update));
  }

  private appendTo(name: string, doc: DocumentState, update: Uint8Array): Promise<void> {
    const seq = doc.meta.seq + 1;
    doc.meta.seq = seq;
    doc.meta.tailCount += 1;
    doc.meta.tailBytes += update.byteLength;
    doc.meta.updatedAt = this.now();
    this.dirty.add(name);
    const write = this.writer.submit([{ type: "put", key: updateKey(name, seq), value: update }]);
    doc.lastWrite = settled(write);
    return write.then(() => {
      if (seq > doc.committedSeq) doc.committedSeq = seq;
    });
  }

  load(name: string): Promise<StoredDocument | null> {
    this.assertOpen();
    assertDocumentName(name);
    const inflight = this.loads.get(name);
    if (inflight) return inflight;
    const load = this.readDocument(name).finally(() => this.loads.delete(name));
    this.loads.set(name, load);
    return load;
  }

  private async readDocument(name: string): Promise<StoredDocument | null> {
    const doc = await this.documentState(name);
    await doc.lastWrite;
    const [state, entries] = await Promise.all([
      this.db.get(stateKey(name)),
      // One call for the whole range: per-entry async iteration costs more than the reading.
      this.db.values(updateRange(name, doc.meta.stateSeq)).all(),
    ]);
    if (state === undefined && entries.length === 0) return null;
    // A long tail makes every cold load slower: fold it in now rather than at the next append.
    this.maybeScheduleCompaction(name, doc);
    return { state: state ?? null, updates: entries };
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
    if (failed > 0) this.options.events?.loadFailedEntries?.(name, failed);
    return update;
  }

  async list(): Promise<DocumentInfo[]> {
    this.assertOpen();
    await this.writer.drain();
    const documents: DocumentInfo[] = [];
    for (const [key, value] of await this.db.iterator(metaRange).all()) {
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

  async delete(name: string): Promise<boolean> {
    this.assertOpen();
    assertDocumentName(name);
    await this.compacting;
    await this.writer.drain();
    const ops: BatchOp[] = [];
    for (const key of await this.db.keys(documentRange(name)).all()) ops.push({ type: "del", key });
    const existed = ops.length > 0 || (await this.db.get(metaKey(name))) !== undefined;
    ops.push({ type: "del", key: metaKey(name) });
    this.docs.delete(name);
    this.dirty.delete(name);
    this.compactionQueue.delete(name);
    await this.writer.submit(ops);
    return existed;
  }

  async compact(name: string): Promise<CompactionResult | null> {
    this.assertOpen();
    assertDocumentName(name);
    // One compaction at a time keeps the disk and the CPU free for appends.
    while (this.compacting) await this.compacting;
    const run = this.compactDocument(name);
    this.compacting = settled(run).then(() => {
      this.compacting = null;
    });
    return run;
  }

  private async compactDocument(name: string): Promise<CompactionResult | null> {
    const doc = await this.documentState(name);
    // Entries up to upTo are on disk; later appends get higher numbers and stay in the log.
    const upTo = doc.committedSeq;
    if (upTo <= doc.meta.stateSeq) return null;
    const started = performance.now();
    this.options.events?.compactionStarted?.(name);

    const state = (await this.db.get(stateKey(name))) ?? null;
    const updates: Uint8Array[] = [];
    const deletes: BatchOp[] = [];
    let mergedBytes = 0;
    const range = updateRange(name, doc.meta.stateSeq, upTo);
    for (const [key, value] of await this.db.iterator(range).all()) {
      updates.push(value);
      deletes.push({ type: "del", key });
      mergedBytes += value.byteLength;
    }
    if (updates.length === 0) return null;
    const { update: merged } = mergeStoredDocument({ state, updates });

    const bytesBefore = doc.meta.stateBytes + doc.meta.tailBytes;
    doc.meta.stateSeq = upTo;
    doc.meta.tailCount -= updates.length;
    doc.meta.tailBytes -= mergedBytes;
    doc.meta.stateBytes = merged.byteLength;
    this.dirty.add(name);
    // The new state and the deletion of the entries it covers commit in one atomic batch: a
    // crash leaves either the old state and all entries or the new state and the rest.
    const write = this.writer.submit([
      { type: "put", key: stateKey(name), value: merged },
      ...deletes,
    ]);
    doc.lastWrite = settled(write);
    await write;
    const result: CompactionResult = {
      name,
      merged: updates.length,
      bytesBefore,
      bytesAfter: doc.meta.stateBytes + doc.meta.tailBytes,
      stateBytes: merged.byteLength,
    };
    this.options.events?.compacted?.(result, performance.now() - started);
    return result;
  }

  /** Finishes queued appends and the running compaction, then closes the database. */
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    this.compactionQueue.clear();
    await this.compacting;
    await this.writer.drain();
    await this.db.close();
  }

  private async documentState(name: string): Promise<DocumentState> {
    const cached = this.docs.get(name);
    if (cached) return cached;
    const loading = this.db.get(metaKey(name)).then(async (bytes) => {
      const meta = bytes ? decodeMeta(bytes) : emptyMeta(this.now());
      // The newest log key is the ground truth for the sequence (the record is written in the
      // same batch, so they agree unless the record itself was lost).
      const newest = { ...updateRange(name, meta.stateSeq), reverse: true, limit: 1 };
      for (const key of await this.db.keys(newest).all()) {
        const seq = seqOfUpdateKey(name, key);
        if (seq !== null && seq > meta.seq) meta.seq = seq;
      }
      const doc: DocumentState = {
        meta,
        committedSeq: meta.seq,
        lastWrite: Promise.resolve(),
      };
      this.docs.set(name, doc);
      return doc;
    });
    this.docs.set(name, loading);
    loading.catch(() => this.docs.delete(name));
    return loading;
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
    if (!this.open) return;
    for (const name of this.sealed) {
      const doc = this.docs.get(name);
      if (doc && !(doc instanceof Promise)) this.maybeScheduleCompaction(name, doc);
    }
  }

  private maybeScheduleCompaction(name: string, doc: DocumentState): void {
    if (!shouldCompact(doc.meta, this.options.compaction)) return;
    if (this.compactionQueue.has(name)) return;
    this.compactionQueue.add(name);
    if (this.compactionQueue.size === 1) void this.runCompactions();
  }

  private async runCompactions(): Promise<void> {
    while (this.open && this.compactionQueue.size > 0) {
      const name = this.compactionQueue.values().next().value as string;
      try {
        await this.compact(name);
      } catch (error) {
        if (this.open) this.options.events?.compactionFailed?.(name, error);
      } finally {
        this.compactionQueue.delete(name);
      }
    }
  }

  /** One instance owns the database: no other instance stores updates to report. */
  watch(): () => void {
    return () => {};
  }

  /** Forgets a document's in-memory record once it has no writes in flight. */
  unload(name: string): void {
    const doc = this.docs.get(name);
    if (!doc || doc instanceof Promise || this.dirty.has(name) || this.compactionQueue.has(name)) {
      return;
    }
    if (doc.committedSeq !== doc.meta.seq) return;
    this.docs.delete(name);
  }

  private assertOpen(): void {
    if (!this.open) throw new Error("the document store is closed");
  }
}
