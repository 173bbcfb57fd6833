import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { encodeAuthors, normalizeAuthor } from "../authors.ts";
import type { CompactionPolicy } from "../compaction-policy.ts";
import type {
  Author,
  CompactionResult,
  DocumentInfo,
  DocumentStore,
  PresenceChannel,
  PresenceHandlers,
  RemoteUpdates,
  StoredDocument,
  StoreStatus,
} from "../document-store.ts";
import { assertDocumentName } from "../keys.ts";
import { mergeStoredDocument } from "../merge.ts";
import { AppendBatcher, type Committed } from "./append-batcher.ts";
import { type CompactionContext, compactDocument } from "./compaction.ts";
import { deleteDocument } from "./delete.ts";
import { checkPostgres, checkRedis, isEngineAway } from "./engine-checks.ts";
import {
  DEFAULT_PREFIX,
  type KeyScheme,
  keyScheme,
  minId,
  type StreamId,
  ZERO_ID,
} from "./keys.ts";
import { listDocuments } from "./list.ts";
import { type Loaded, loadDocument } from "./load.ts";
import { PresenceRelay } from "./presence-relay.ts";
import { redactUrl } from "./redact-url.ts";
import { migrate, TABLE } from "./schema.ts";
import { StreamWatcher } from "./stream-watcher.ts";
import { ClusterVersionStore } from "./versions.ts";

export interface ClusterStoreEvents {
  compactionStarted?(name: string): void;
  compacted?(result: CompactionResult, ms: number): void;
  compactionFailed?(name: string, error: unknown): void;
  loadFailedEntries?(name: string, failed: number): void;
  /** Redis or PostgreSQL became unreachable (ready false) or reachable again. */
  statusChanged?(status: StoreStatus): void;
  /** Redis did not take an append: appends and their acknowledgements wait until it does. */
  appendsHeld?(error: unknown): void;
  /** Redis took the held appends after `heldMs`: acknowledgements resume. */
  appendsResumed?(heldMs: number, attempts: number): void;
  readFailed?(error: unknown): void;
  /** An append became durable `ms` after it was made (the same metric as LevelDB's). */
  appended?(ms: number): void;
  /** A transaction of `writes` appends and `bytes` committed in `ms`. */
  batchWritten?(writes: number, bytes: number, ms: number): void;
}

export interface ClusterStoreOptions {
  redisUrl: string;
  postgresUrl: string;
  /**
   * Require Redis's appendfsync always (acknowledged edits survive a power loss); without it,
   * always or no (they survive a crash of Redis).
   */
  fsync: boolean;
  compaction: CompactionPolicy;
  events?: ClusterStoreEvents;
  /** Prefix of every Redis key (tests give each store family its own). */
  keyPrefix?: string;
  /** Stream entries younger than this stay after a compaction, for readers that are behind. */
  trimSlackMs?: number;
  /** Milliseconds before the stream reader reconnects after losing Redis (default: ioredis's backoff). */
  readerReconnectDelayMs?: number;
  /** Tells this instance's entries from the others' in the streams; random by default. */
  instanceId?: string;
  now?: () => number;
}

/** Sizes of a document this instance knows: its state and the stream tail after it. */
interface Sizes {
  stateBytes: number;
  tailBytes: number;
  tailCount: number;
}

const HEALTH_INTERVAL_MS = 2000;
const RECONNECT_MAX_MS = 500;
/** How long a load waits for an engine that is away before it fails. */
const LOAD_WAIT_MS = 30_000;

/**
 * The store of several Tandem instances: a Redis Stream per document is the shared durable log
 * and the cross-instance fan-out; PostgreSQL holds each document's compacted state and the stream
 * id it covers. Every file in this folder does one part; the formats are in keys.ts and
 * schema.ts.
 */
export class RedisPostgresStore implements DocumentStore {
  readonly instanceId: string;
  private readonly keys: KeyScheme;
  private readonly batcher: AppendBatcher;
  private readonly watcher: StreamWatcher;
  private readonly compaction: CompactionContext;
  private readonly presenceRelay: PresenceRelay;
  private readonly sizes = new Map<string, Sizes | Promise<Sizes>>();
  /** Where the stream of a loaded, not yet watched, document continues. */
  private readonly cursors = new Map<string, StreamId>();
  private readonly loads = new Map<string, Promise<StoredDocument | null>>();
  /** Per document: settles when its latest append and all before it have (see durable). */
  private readonly outcomes = new Map<string, Promise<void>>();
  private readonly compactionQueue = new Set<string>();
  private compacting: Promise<void> | null = null;
  private open = true;
  private redisReady = true;
  private postgresReason: string | null = null;
  private readonly health: NodeJS.Timeout;
  private readonly now: () => number;
  /** Version history (versions.ts): versions in PostgreSQL, authors with each stream entry. */
  readonly versions: ClusterVersionStore;

  private constructor(
    private readonly redis: Redis,
    reader: Redis,
    subscriber: Redis,
    private readonly pool: pg.Pool,
    private readonly options: ClusterStoreOptions,
  ) {
    this.instanceId = options.instanceId as string;
    this.keys = keyScheme(options.keyPrefix ?? DEFAULT_PREFIX);
    this.now = options.now ?? Date.now;
    this.batcher = new AppendBatcher(
      redis,
      this.keys,
      this.instanceId,
      (committed, ms) => {
        let writes = 0;
        let bytes = 0;
        for (const totals of committed.values()) {
          writes += totals.count;
          bytes += totals.bytes;
        }
        this.options.events?.batchWritten?.(writes, bytes, ms);
        this.afterCommit(committed);
      },
      this.now,
      {
        held: (error) => {
          options.events?.appendsHeld?.(error);
          if (this.open) options.events?.statusChanged?.(this.status);
        },
        resumed: (heldMs, attempts) => {
          options.events?.appendsResumed?.(heldMs, attempts);
          if (this.open) options.events?.statusChanged?.(this.status);
        },
      },
    );
    this.watcher = new StreamWatcher(reader, redis, this.keys, this.instanceId, {
      read: (name, entries) => {
        const sizes = this.sizes.get(name);
        if (!sizes || sizes instanceof Promise) return;
        for (const entry of entries) {
          if (entry.origin === this.instanceId) continue; // counted at commit
          sizes.tailBytes += entry.update.byteLength;
          sizes.tailCount += 1;
        }
      },
      failed: (error) => {
        if (this.open) options.events?.readFailed?.(error);
      },
      reload: async (name) => {
        const loaded = await loadDocument(this.pool, this.redis, this.keys, name);
        if (!loaded) return null;
        const { state, updates } = loaded.stored;
        return { updates: state ? [state, ...updates] : updates, cursor: loaded.cursor };
      },
    });
    this.presenceRelay = new PresenceRelay(
      subscriber,
      redis,
      (name) => this.keys.presence(name),
      this.instanceId,
      (id) => this.keys.instance(id),
    );
    this.compaction = {
      pool,
      redis,
      keys: this.keys,
      trimSlackMs: options.trimSlackMs ?? 60_000,
      maxEntries: Math.max(options.compaction.maxUpdates * 2, 1000),
      now: this.now,
    };
    this.versions = new ClusterVersionStore({
      ...this.compaction,
      assertOpen: () => this.assertOpen(),
      durable: (name) => this.durable(name),
      compacted: (name, stateBytes, bytes, count) => {
        const sizes = this.sizes.get(name);
        if (!sizes || sizes instanceof Promise) return;
        sizes.stateBytes = stateBytes;
        sizes.tailBytes = Math.max(0, sizes.tailBytes - bytes);
        sizes.tailCount = Math.max(0, sizes.tailCount - count);
      },
    });
    redis.on("ready", () => this.setRedisReady(true));
    redis.on("close", () => this.setRedisReady(false));
    redis.on("error", () => {}); // reported through status; ioredis reconnects by itself
    reader.on("error", () => {});
    pool.on("error", () => {}); // an idle client lost its server: the pool replaces it
    this.health = setInterval(() => void this.checkPostgres(), HEALTH_INTERVAL_MS);
    this.health.unref();
  }

  /**
   * Connects to both engines, refuses settings that would lose acknowledged edits (throws
   * UnsafeEngineError with what to change), and brings the PostgreSQL schema up to date.
   */
  static async open(settings: ClusterStoreOptions): Promise<RedisPostgresStore> {
    const options = { ...settings, instanceId: settings.instanceId ?? randomUUID() };
    const redisOptions = {
      lazyConnect: true,
      // RESP2: replies have one shape whatever the server's version.
      protocol: 2 as const,
      // An append must fail, not wait, while Redis is unreachable: the client sends it again.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // CLIENT LIST tells the instances' connections apart.
      connectionName: `tandem-${options.instanceId}`,
      // Reconnect within half a second once Redis is back (ioredis's default waits up to 2 s):
      // held appends, and with them acknowledgements, resume on reconnecting.
      retryStrategy: (times: number) => Math.min(times * 50, RECONNECT_MAX_MS),
    };
    const redis = new Redis(options.redisUrl, redisOptions);
    redis.on("error", () => {});
    const reader = new Redis(options.redisUrl, {
      ...redisOptions,
      // The reader waits for Redis to come back and carries on from its cursors.
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      connectionName: `tandem-reader-${options.instanceId}`,
      ...(options.readerReconnectDelayMs === undefined
        ? {}
        : { retryStrategy: () => options.readerReconnectDelayMs }),
    });
    reader.on("error", () => {});
    const subscriber = new Redis(options.redisUrl, {
      ...redisOptions,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      connectionName: `tandem-presence-${options.instanceId}`,
    });
    subscriber.on("error", () => {});
    const pool = new pg.Pool({ connectionString: options.postgresUrl, max: 10 });
    pool.on("error", () => {});
    const where = redactUrl(options.redisUrl);
    try {
      await redis.connect().catch((error: Error) => {
        throw new Error(`cannot reach Redis at ${where}: ${error.message}`);
      });
      await checkRedis(redis, where, options.fsync);
      await reader.connect();
      await subscriber.connect();
      await migrate(pool).catch((error: Error) => {
        if (error.message.includes("Tandem schema")) throw error;
        throw new Error(
          `cannot use PostgreSQL at ${redactUrl(options.postgresUrl)}: ${error.message}`,
        );
      });
      await checkPostgres(pool, redactUrl(options.postgresUrl));
    } catch (error) {
      redis.disconnect();
      reader.disconnect();
      subscriber.disconnect();
      await pool.end().catch(() => {});
      throw error;
    }
    return new RedisPostgresStore(redis, reader, subscriber, pool, options);
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Ready while both Redis and PostgreSQL answer; the reason names the one that does not. */
  get status(): StoreStatus {
    if (!this.open) return { ready: false, reason: "the store is closed" };
    if (!this.redisReady) {
      return { ready: false, reason: "Redis is unreachable: acknowledgements wait for it" };
    }
    const held = this.batcher.heldError;
    if (held) {
      const why = held instanceof Error ? held.message : String(held);
      return {
        ready: false,
        reason: `Redis refuses writes (${why}): acknowledgements wait for it`,
      };
    }
    if (this.postgresReason) return { ready: false, reason: this.postgresReason };
    return { ready: true };
  }

  /** Names of the documents whose streams this instance reads. */
  get watchedDocuments(): string[] {
    return this.watcher.documents;
  }

  append(name: string, update: Uint8Array, author?: Author): Promise<void> {
    this.assertOpen();
    assertDocumentName(name);
    const by = normalizeAuthor(author);
    const write = this.batcher.append(name, update, by && encodeAuthors([by]));
    const appended = this.options.events?.appended;
    if (appended) {
      const started = performance.now();
      write.then(
        () => appended(performance.now() - started),
        () => {},
      );
    }
    // A document's outcome: durable once this and every earlier append of it is; rejected for
    // good once one failed (the server then drops the document from memory).
    const outcome = (this.outcomes.get(name) ?? Promise.resolve()).then(() => write);
    outcome.catch(() => {});
    this.outcomes.set(name, outcome);
    return write;
  }

  durable(name: string): Promise<void> {
    return this.outcomes.get(name) ?? Promise.resolve();
  }

  load(name: string): Promise<StoredDocument | null> {
    this.assertOpen();
    assertDocumentName(name);
    const inflight = this.loads.get(name);
    if (inflight) return inflight;
    const load = this.loadWhenReachable(name)
      .then((loaded) => {
        // A new document: its stream was empty when read, so the watch reads it from the start
        // (from the stream's end as it is at the watch, it would lose what other instances
        // append in between, and hold all their writers' later updates as pending).
        const cursor = loaded ? loaded.cursor : ZERO_ID;
        // Two loads before a watch: read on from the older cursor (applying twice is harmless).
        const previous = this.cursors.get(name);
        this.cursors.set(name, previous ? minId(previous, cursor) : cursor);
        if (!loaded) {
          this.sizes.set(name, { stateBytes: 0, tailBytes: 0, tailCount: 0 });
          return null;
        }
        const { stateBytes, tailBytes, tailCount } = loaded;
        this.sizes.set(name, { stateBytes, tailBytes, tailCount });
        this.maybeScheduleCompaction(name);
        return loaded.stored;
      })
      .finally(() => this.loads.delete(name));
    this.loads.set(name, load);
    return load;
  }

  watch(name: string, onRemoteUpdates: RemoteUpdates): () => void {
    this.assertOpen();
    const cursor = this.cursors.get(name);
    this.cursors.delete(name);
    if (cursor !== undefined) return this.watcher.watch(name, cursor, onRemoteUpdates);
    // Watched without a load first: from the stream's end as it is now.
    let stop: (() => void) | null = null;
    let stopped = false;
    void this.redis
      .xrevrange(this.keys.stream(name), "+", "-", "COUNT", 1)
      .then((last) => {
        if (stopped || !this.open) return;
        stop = this.watcher.watch(name, last[0]?.[0] ?? "0-0", onRemoteUpdates);
      })
      .catch((error: unknown) => this.options.events?.readFailed?.(error));
    return () => {
      stopped = true;
      stop?.();
    };
  }

  /**
   * Loads a document, waiting up to LOAD_WAIT_MS while Redis or PostgreSQL is away: the client
   * that opens it waits for its sync, connected, and gets it moments after the engine is back.
   * Failing at once instead leaves a stock provider whose document failed to load on an open
   * socket waiting for its idle timeout before it tries again.
   */
  private async loadWhenReachable(name: string): Promise<Loaded | null> {
    const deadline = performance.now() + LOAD_WAIT_MS;
    for (let attempt = 1; ; attempt++) {
      try {
        return await loadDocument(this.pool, this.redis, this.keys, name);
      } catch (error) {
        if (!this.open || !isEngineAway(error) || performance.now() > deadline) throw error;
        await new Promise((r) => setTimeout(r, Math.min(RECONNECT_MAX_MS, 25 * 2 ** attempt)));
      }
    }
  }

  presence(name: string, handlers: PresenceHandlers): PresenceChannel {
    this.assertOpen();
    return this.presenceRelay.open(name, handlers);
  }

  async read(name: string): Promise<Uint8Array | null> {
    this.assertOpen();
    assertDocumentName(name);
    const loaded = await loadDocument(this.pool, this.redis, this.keys, name);
    if (!loaded) return null;
    const { update, failed } = mergeStoredDocument(loaded.stored);
    if (failed > 0) this.options.events?.loadFailedEntries?.(name, failed);
    return update;
  }

  async sizeOf(name: string): Promise<number> {
    assertDocumentName(name);
    const sizes = await this.sizesOf(name);
    return sizes.stateBytes + sizes.tailBytes;
  }

  async list(): Promise<DocumentInfo[]> {
    this.assertOpen();
    await this.batcher.drain();
    return listDocuments(this.pool, this.redis, this.keys);
  }

  async delete(name: string): Promise<boolean> {
    this.assertOpen();
    assertDocumentName(name);
    await this.batcher.drain();
    while (this.compacting) await this.compacting;
    const existed = await deleteDocument(this.pool, this.redis, this.keys, name);
    this.sizes.delete(name);
    this.cursors.delete(name);
    this.compactionQueue.delete(name);
    return existed;
  }

  async compact(name: string): Promise<CompactionResult | null> {
    this.assertOpen();
    assertDocumentName(name);
    return this.runCompaction(name, null);
  }

  unload(name: string): void {
    this.cursors.delete(name);
    this.outcomes.delete(name);
    // Even with a compaction queued: it updates the sizes only while they are kept, and kept
    // for a document nobody has open they would go stale as other instances append.
    this.sizes.delete(name);
  }

  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    clearInterval(this.health);
    this.compactionQueue.clear();
    await this.watcher.close();
    this.presenceRelay.close();
    // Appends still held (Redis away) reject: their clients resend them to another instance.
    await this.batcher.close();
    while (this.compacting) await this.compacting;
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.pool.end();
  }

  private async runCompaction(
    name: string,
    policy: CompactionPolicy | null,
  ): Promise<CompactionResult | null> {
    // One compaction at a time per instance keeps Redis, PostgreSQL and the CPU free for edits.
    while (this.compacting) await this.compacting;
    const started = performance.now();
    const run = (async () => {
      const result = await compactDocument(this.compaction, name, policy);
      if (!result) return null;
      this.options.events?.compacted?.(result, performance.now() - started);
      const sizes = this.sizes.get(name);
      if (sizes && !(sizes instanceof Promise)) {
        sizes.stateBytes = result.stateBytes;
        sizes.tailBytes = result.tailBytes;
        sizes.tailCount = result.tailCount;
      }
      const { upto: _upto, tailBytes: _bytes, tailCount: _count, ...plain } = result;
      return plain;
    })();
    this.compacting = run.then(
      () => {
        this.compacting = null;
      },
      () => {
        this.compacting = null;
      },
    );
    return run;
  }

  private afterCommit(committed: Committed): void {
    for (const [name, { bytes, count }] of committed) {
      const sizes = this.sizes.get(name);
      if (!sizes) {
        void this.sizesOf(name).catch(() => {});
        continue;
      }
      if (sizes instanceof Promise) continue; // its read sees this commit
      sizes.tailBytes += bytes;
      sizes.tailCount += count;
      this.maybeScheduleCompaction(name);
    }
  }

  /** What this instance knows of a document's size; read from both engines the first time. */
  private sizesOf(name: string): Promise<Sizes> {
    const cached = this.sizes.get(name);
    if (cached) return Promise.resolve(cached);
    const reading: Promise<Sizes> = this.readSizes(name).then((sizes) => {
      if (this.sizes.get(name) === reading) this.sizes.set(name, sizes);
      return sizes;
    });
    this.sizes.set(name, reading);
    reading.catch(() => {
      if (this.sizes.get(name) === reading) this.sizes.delete(name);
    });
    return reading;
  }

  private async readSizes(name: string): Promise<Sizes> {
    const [row, meta] = await Promise.all([
      this.pool.query<{ state_bytes: number; covered_bytes: string; covered_count: string }>(
        `SELECT octet_length(state) AS state_bytes, covered_bytes, covered_count FROM ${TABLE} WHERE name = $1`,
        [name],
      ),
      this.redis.hmget(this.keys.meta(name), "bytes", "count"),
    ]);
    const r = row.rows[0];
    return {
      stateBytes: r?.state_bytes ?? 0,
      tailBytes: Math.max(0, Number(meta[0] ?? 0) - Number(r?.covered_bytes ?? 0)),
      tailCount: Math.max(0, Number(meta[1] ?? 0) - Number(r?.covered_count ?? 0)),
    };
  }

  private maybeScheduleCompaction(name: string): void {
    if (!this.open) return;
    const sizes = this.sizes.get(name);
    if (!sizes || sizes instanceof Promise) return;
    const { minUpdates, ratio, maxUpdates } = this.options.compaction;
    const due =
      sizes.tailCount >= maxUpdates ||
      (sizes.tailCount >= minUpdates && sizes.tailBytes >= sizes.stateBytes * ratio);
    if (!due || this.compactionQueue.has(name)) return;
    this.compactionQueue.add(name);
    if (this.compactionQueue.size === 1) void this.runCompactions();
  }

  private async runCompactions(): Promise<void> {
    while (this.open && this.compactionQueue.size > 0) {
      const name = this.compactionQueue.values().next().value as string;
      try {
        this.options.events?.compactionStarted?.(name);
        await this.runCompaction(name, this.options.compaction);
      } catch (error) {
        if (this.open) this.options.events?.compactionFailed?.(name, error);
      } finally {
        this.compactionQueue.delete(name);
      }
    }
  }

  private setRedisReady(ready: boolean): void {
    if (this.redisReady === ready) return;
    this.redisReady = ready;
    if (this.open) this.options.events?.statusChanged?.(this.status);
  }

  private async checkPostgres(): Promise<void> {
    const before = this.postgresReason;
    try {
      await this.pool.query("SELECT 1");
      this.postgresReason = null;
    } catch (error) {
      this.postgresReason = `PostgreSQL is unreachable: ${(error as Error).message}`;
    }
    if (before !== this.postgresReason && this.open) {
      this.options.events?.statusChanged?.(this.status);
    }
  }

  private assertOpen(): void {
    if (!this.open) throw new Error("the document store is closed");
  }
}
