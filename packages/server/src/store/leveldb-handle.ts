import { ClassicLevel } from "classic-level";
import { LAYOUT_KEY, LAYOUT_VERSION } from "./keys.ts";

export type Db = ClassicLevel<string, Uint8Array>;

export interface RecoveryEvents {
  /** The first failed write: the store stops trusting the database. Called once per failure. */
  failed?(error: unknown): void;
  /** An attempt to reopen failed; the next one follows after `retryInMs`. */
  retrying?(error: unknown, retryInMs: number): void;
  /** A write succeeded again after the database was reopened; `attempts` reopens it took. */
  recovered?(downMs: number, attempts: number): void;
}

const MIN_RETRY_MS = 50;
const MAX_RETRY_MS = 2_000;

/**
 * Owns the LevelDB database of a store and its recovery after a failed write.
 *
 * Why reopen rather than just write again: once a write to LevelDB's log fails, the open
 * database cannot be trusted. A failed sync or a failed background compaction makes every later
 * write fail until the database is reopened (LevelDB's sticky background error); a log record
 * torn by a full disk leaves the records written after it unreadable at the next open, although
 * the open database served them from memory. So after a failure nothing more is written until
 * the database has been closed, reopened (LevelDB replays its log and drops what it cannot
 * read), and has taken a synced probe write. Only then does the store write its unconfirmed
 * batches again, and acknowledge.
 */
export class LevelHandle {
  private current: Db;
  /** Pending while the database is closed for a reopen. */
  private available: Promise<Db>;
  private recovering: Promise<void> | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  /** Rejects `available` while it is pending (the handle closed during a reopen). */
  private abandon: ((error: Error) => void) | null = null;
  private failure: string | null = null;
  private failedAt = 0;
  private attempts = 0;
  private delay = MIN_RETRY_MS;

  private constructor(
    private readonly path: string,
    db: Db,
    private readonly events: RecoveryEvents,
  ) {
    this.current = db;
    this.available = Promise.resolve(db);
  }

  static async open(path: string, events: RecoveryEvents = {}): Promise<LevelHandle> {
    const db = await openDatabase(path);
    try {
      const layout = await db.get(LAYOUT_KEY);
      if (layout === undefined) {
        await db.put(LAYOUT_KEY, Uint8Array.of(LAYOUT_VERSION), { sync: true });
      } else if (layout[0] !== LAYOUT_VERSION) {
        throw new Error(
          `data directory ${path} uses storage layout ${layout[0]}; this version of Tandem reads layout ${LAYOUT_VERSION}`,
        );
      }
    } catch (error) {
      await db.close();
      throw error;
    }
    return new LevelHandle(path, db, events);
  }

  /** The open database; waits while it is being reopened. */
  db(): Promise<Db> {
    return this.available;
  }

  /** Why writes are failing now, or null when they are not. */
  get failureReason(): string | null {
    return this.failure;
  }

  /**
   * Called with the error of a failed write. Resolves once the database has been reopened and
   * takes writes again; rejects once the handle is closed. Concurrent callers share one recovery.
   */
  recover(error: unknown): Promise<void> {
    if (this.closed) return Promise.reject(closedError(error));
    this.recovering ??= this.reopenUntilWritable(error).finally(() => {
      this.recovering = null;
    });
    return this.recovering;
  }

  private async reopenUntilWritable(error: unknown): Promise<void> {
    if (this.failure === null) {
      // The first failure since writes last succeeded: say so once, however long it lasts.
      this.failure = describe(error);
      this.failedAt = performance.now();
      this.attempts = 0;
      this.delay = MIN_RETRY_MS;
      this.events.failed?.(error);
    } else {
      // The retried write failed again after a reopen: wait longer before the next one.
      await this.backOff(error);
    }
    for (;;) {
      this.attempts++;
      try {
        await this.reopen();
        // A synced write that must reach the log: the disk takes writes again (the retried
        // batch, when it succeeds, confirms it; see confirmWritable).
        await this.current.put(LAYOUT_KEY, Uint8Array.of(LAYOUT_VERSION), { sync: true });
        return;
      } catch (attemptError) {
        if (this.closed) throw closedError(attemptError);
        this.failure = describe(attemptError);
        await this.backOff(attemptError);
      }
    }
  }

  private async backOff(error: unknown): Promise<void> {
    this.events.retrying?.(error, this.delay);
    await this.sleep(this.delay);
    if (this.closed) throw closedError(error);
    this.delay = Math.min(this.delay * 2, MAX_RETRY_MS);
  }

  /** A write succeeded: if the handle was failing, it has recovered. */
  confirmWritable(): void {
    if (this.failure === null) return;
    this.failure = null;
    this.events.recovered?.(performance.now() - this.failedAt, this.attempts);
  }

  private async reopen(): Promise<void> {
    let ready!: (db: Db) => void;
    let failed!: (error: unknown) => void;
    this.available = new Promise<Db>((resolve, reject) => {
      ready = resolve;
      failed = reject;
    });
    // Readers wait for the reopen rather than fail; a handled rejection only reaches them once
    // the handle is closed for good.
    this.available.catch(() => {});
    this.abandon = failed;
    await this.current.close().catch(() => {});
    if (this.closed) throw new Error("the document store is closed");
    const db = new ClassicLevel<string, Uint8Array>(this.path, {
      keyEncoding: "utf8",
      valueEncoding: "view",
    });
    try {
      await db.open();
    } catch (error) {
      // Keep the closed handle as current: the next attempt closes it again (a no-op) and
      // readers keep waiting on `available`.
      this.current = db;
      throw error;
    }
    this.current = db;
    this.abandon = null;
    ready(db);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  /**
   * From now on a failed write is final: a recovery under way stops and rejects (the writes it
   * held were never acknowledged; their clients still hold them and send them again), and later
   * failures reject at once. The database stays open for the writes still to come.
   */
  giveUp(): void {
    this.closed = true;
    this.wake?.();
    this.abandon?.(new Error("the document store is closed"));
  }

  /** Gives up recovering and closes the database. */
  async close(): Promise<void> {
    this.giveUp();
    await this.recovering?.catch(() => {});
    await this.current.close().catch(() => {});
  }
}

async function openDatabase(path: string): Promise<Db> {
  const db: Db = new ClassicLevel<string, Uint8Array>(path, {
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
        `the data directory ${path} is in use by another process (LevelDB's LOCK is held): stop it, or choose another --data`,
      );
    }
    throw error;
  }
  return db;
}

/** One line for /readyz and logs: LevelDB's message names the failing file and the errno text. */
function describe(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const text = String((cause as Error | undefined)?.message ?? (error as Error)?.message ?? error);
  if (/no space left/i.test(text)) return `storage is full: ${text}`;
  return `storage write failed: ${text}`;
}

function closedError(cause: unknown): Error {
  return new Error("the document store closed before the write was durable", { cause });
}
