import type { Redis } from "ioredis";
import { GroupCommit } from "../group-commit.ts";
import { AUTHOR_FIELD, type KeyScheme, ORIGIN_FIELD, UPDATE_FIELD } from "./keys.ts";

/**
 * Group commit into Redis: every append made during one turn of the event loop goes into one
 * MULTI/EXEC, one round trip however many connections and documents are writing. One
 * transaction is in flight at a time; appends made meanwhile form the next. An append resolves
 * only once Redis has replied to the EXEC with every command of it done (with appendonly on,
 * Redis has written its AOF by then).
 *
 * For each document in a transaction: XADD per update (in call order, so a document's appends
 * are durable in order) with its author when known, then its meta totals and its name in the
 * documents set.
 *
 * While Redis is away (restarting, unreachable) or refuses writes for a while (out of memory
 * under noeviction, loading its AOF, a failing disk: MISCONF), a failed transaction is *held*,
 * not rejected: it is sent again, whole and before any later one, until Redis takes it, as the
 * LevelDB store does on a full disk (batch-writer.ts). Acknowledgements wait meanwhile; the
 * clients stay connected and keep editing, and everything is acknowledged moments after Redis
 * is back. Rejecting instead makes the server drop every document being edited (1011 on every
 * socket on it): each client then reconnects with its own backoff, its documents cannot load
 * until Redis is back, and a stock provider whose document failed to load on an open socket
 * waits for its idle timeout (cluster-faults.test.ts measured ~10-15 s after a Redis restart
 * rejecting, against well under a second holding).
 *
 * A held transaction may have reached Redis before the connection broke (Redis killed after
 * writing its AOF, before replying): sending it again adds the same updates twice, which Yjs
 * merges; only the meta totals (used to schedule compactions) count them twice.
 *
 * An append rejects only when its transaction fails for a reason retrying cannot cure (a reply
 * error such as WRONGTYPE: a bug or a foreign key), or when the store closes while it is held.
 */

interface Pending {
  name: string;
  update: Uint8Array;
  /** The author, encoded (authors.ts), or null. */
  author: Uint8Array | null;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** What a committed transaction added to each document. */
export type Committed = Map<string, { bytes: number; count: number }>;

export interface HoldEvents {
  /** A transaction failed and is held for a retry (once per outage). */
  held?(error: unknown): void;
  /** Redis took the held transaction: acknowledgements resume. */
  resumed?(heldMs: number, attempts: number): void;
}

/** Replies of a Redis that refuses writes for now; anything else it replies is for good. */
const PASSING_REPLY =
  /^(OOM|LOADING|BUSY|TRYAGAIN|MISCONF|READONLY|MASTERDOWN|NOREPLICAS|CLUSTERDOWN)\b/;

/**
 * Whether retrying may cure a failed transaction: the connection failed (no reply at all), or
 * Redis replied that it refuses writes for now. EXECABORT reports errors met while queueing
 * the commands (OOM refuses every write command there): passing if all of those are.
 */
export function isPassing(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name !== "ReplyError") return true; // not connected, closed, reset: no reply
  if (error.message.startsWith("EXECABORT")) {
    const previous = (error as Error & { previousErrors?: unknown[] }).previousErrors ?? [];
    return previous.length > 0 && previous.every(isPassing);
  }
  return PASSING_REPLY.test(error.message);
}

const RETRY_MIN_MS = 25;
const RETRY_MAX_MS = 500;

export class AppendBatcher {
  private readonly queue = new GroupCommit<Pending>((batch) => this.commit(batch));
  private closing = false;
  /** The transaction waiting to be sent again, and what wakes its retry early. */
  private held: { batch: Pending[]; since: number; attempts: number; wake: () => void } | null =
    null;

  constructor(
    private readonly redis: Redis,
    private readonly keys: KeyScheme,
    private readonly instanceId: string,
    /** Told what a transaction added, and how long its last attempt took. */
    private readonly afterCommit: (committed: Committed, ms: number) => void,
    private readonly now: () => number = Date.now,
    private readonly events: HoldEvents = {},
  ) {
    // Redis is back: send the held transaction now rather than at its next retry.
    redis.on("ready", () => this.held?.wake());
  }

  /** Why appends are held, while they are: the error of the last attempt. */
  heldError: unknown = null;

  /**
   * Stops holding: the held transaction and everything queued reject, and from now on a
   * failed transaction rejects at once. Then drains whatever is in flight.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.held?.wake();
    await this.drain();
  }

  append(name: string, update: Uint8Array, author: Uint8Array | null = null): Promise<void> {
    return new Promise((resolve, reject) =>
      this.queue.add({ name, update, author, resolve, reject }),
    );
  }

  /** Resolves when everything appended so far has been written (or has failed). */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  /** Writes one batch; holds it while Redis is away; settles every append of it. */
  private async commit(batch: Pending[]): Promise<void> {
    for (;;) {
      let error: unknown;
      let committed: Committed | null = null;
      const started = performance.now();
      try {
        committed = await this.exec(batch);
      } catch (caught) {
        error = caught;
      }
      if (committed) {
        if (this.held) {
          this.events.resumed?.(performance.now() - this.held.since, this.held.attempts);
          this.held = null;
          this.heldError = null;
        }
        this.afterCommit(committed, performance.now() - started);
        for (const pending of batch) pending.resolve();
        return;
      }
      if (this.closing || !isPassing(error)) {
        this.held = null;
        this.heldError = null;
        const reason = this.closing
          ? new Error("the document store closed before Redis took the update", { cause: error })
          : error;
        for (const pending of batch) pending.reject(reason);
        if (this.closing) {
          // Nothing queued behind a rejected transaction may be stored out of order.
          for (const pending of this.queue.takeQueued()) pending.reject(reason);
        }
        return;
      }
      this.heldError = error;
      if (!this.held) {
        this.held = { batch, since: performance.now(), attempts: 0, wake: () => {} };
        this.events.held?.(error);
      }
      const held = this.held;
      held.attempts++;
      const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(held.attempts, 10));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        held.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** One MULTI/EXEC of the batch; what it added per document once Redis replied. */
  private async exec(batch: Pending[]): Promise<Committed> {
    const committed: Committed = new Map();
    const multi = this.redis.multi();
    for (const { name, update, author } of batch) {
      const fields: (string | Buffer)[] = [
        ORIGIN_FIELD,
        this.instanceId,
        UPDATE_FIELD,
        Buffer.from(update.buffer, update.byteOffset, update.byteLength),
      ];
      if (author) {
        fields.push(AUTHOR_FIELD, Buffer.from(author.buffer, author.byteOffset, author.byteLength));
      }
      multi.xadd(this.keys.stream(name), "*", ...fields);
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
    const results = await multi.exec();
    if (results === null) throw new Error("the Redis transaction was aborted");
    const commandError = results.find(([error]) => error !== null)?.[0];
    if (commandError) throw commandError;
    return committed;
  }
}
