import type { Redis } from "ioredis";
import { type KeyScheme, ORIGIN_FIELD, UPDATE_FIELD } from "./keys.ts";

/**
 * Group commit into Redis: every append made during one turn of the event loop goes into one
 * MULTI/EXEC, one round trip however many connections and documents are writing. One
 * transaction is in flight at a time; appends made meanwhile form the next. An append resolves
 * only once Redis has replied to the EXEC with every command of it done (with appendonly on,
 * Redis has written its AOF by then), and rejects otherwise: Redis unreachable, out of memory
 * (noeviction refuses writes), or any command failing. A rejected append may still have reached
 * the stream; the client sends it again and Yjs merges duplicates.
 *
 * For each document in a transaction: XADD per update (in call order, so a document's appends
 * are durable in order), then its meta totals and its name in the documents set.
 */

interface Pending {
  name: string;
  update: Uint8Array;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What a committed transaction added to each document. */
export type Committed = Map<string, { bytes: number; count: number }>;

export class AppendBatcher {
  private queue: Pending[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeyScheme,
    private readonly instanceId: string,
    private readonly afterCommit: (committed: Committed) => void,
    private readonly now: () => number = Date.now,
  ) {}

  append(name: string, update: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ name, update, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves when everything appended so far has been written (or has failed). */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (!this.flushing) this.flushNow();
      await this.flushing?.catch(() => {});
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // After the poll phase: the messages of every socket read in this turn are queued by then.
    setImmediate(() => {
      this.scheduled = false;
      if (!this.flushing) this.flushNow();
    });
  }

  private flushNow(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const committed: Committed = new Map();
    const multi = this.redis.multi();
    for (const { name, update } of batch) {
      multi.xadd(
        this.keys.stream(name),
        "*",
        ORIGIN_FIELD,
        this.instanceId,
        UPDATE_FIELD,
        Buffer.from(update.buffer, update.byteOffset, update.byteLength),
      );
      const totals = committed.get(name) ?? { bytes: 0, count: 0 };
      totals.bytes += update.byteLength;
      totals.count += 1;
      committed.set(name, totals);
    }
    const now = String(this.now());
    for (const [name, { bytes, count }] of committed) {
      const meta = this.keys.meta(name);
      multi.hincrby(meta, "bytes", bytes);
      multi.hincrby(meta, "count", count);
      multi.hsetnx(meta, "created", now);
      multi.hset(meta, "updated", now);
      multi.sadd(this.keys.documents, name);
    }
    this.flushing = multi.exec().then(
      (results) => {
        this.flushing = null;
        const failed = results === null ? new Error("the Redis transaction was aborted") : null;
        const commandError = results?.find(([error]) => error !== null)?.[0];
        const error = failed ?? commandError;
        if (error) {
          for (const pending of batch) pending.reject(error);
        } else {
          this.afterCommit(committed);
          for (const pending of batch) pending.resolve();
        }
        if (this.queue.length > 0) this.schedule();
      },
      (error: unknown) => {
        this.flushing = null;
        for (const pending of batch) pending.reject(error);
        if (this.queue.length > 0) this.schedule();
      },
    );
  }
}
