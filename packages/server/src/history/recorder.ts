import {
  type afterUnloadDocumentPayload,
  type beforeUnloadDocumentPayload,
  type Extension,
  isTransactionOrigin,
  type onChangePayload,
} from "@hocuspocus/server";
import { LOAD_ORIGIN } from "../extensions/durability.ts";
import type { Logger } from "../logger.ts";
import { type LongTimeout, setLongTimeout } from "../long-timeout.ts";
import type { DocumentStore, VersionStore } from "../store/document-store.ts";
import { expiredVersions, type RetentionPolicy } from "./retention.ts";

export interface RecorderOptions {
  store: Pick<DocumentStore, "durable" | "status">;
  versions: VersionStore;
  /** --version-idle: record once a document had no change for this long. */
  idleMs: number;
  /** --version-interval: record at least this often while changes go on. */
  intervalMs: number;
  /** --version-retention, applied to a document's automatic versions after each one recorded. */
  retention: RetentionPolicy;
  logger: Logger;
  now?: () => number;
}

/** A document changed since its last automatic version: when, and the timers that record it. */
interface Pending {
  /** The last change (the idle timer checks it rather than being re-armed on every update). */
  lastChange: number;
  idle: LongTimeout;
  interval: LongTimeout;
}

/**
 * Records automatic versions: a document that changed gets one once it has been quiet for
 * --version-idle, and at least every --version-interval while changes go on; retention then
 * deletes the automatic versions it no longer keeps. A document that unloads, and every document
 * at shutdown (close), gets its pending version at once. Per document it keeps one small record
 * with two timers while changes are pending, nothing otherwise; recordings of one document run
 * one after the other, and close() waits for every one under way (Hocuspocus does not await
 * every hook, so nothing here is left running unobserved).
 *
 * Changes count when this instance stores them: clients' updates and the server's own changes;
 * updates another instance stored (cluster) are that instance's to record.
 */
export class VersionRecorder implements Extension {
  extensionName = "tandem-version-recorder";
  private readonly pending = new Map<string, Pending>();
  /** Per document, the recording under way (the last of a chain). */
  private readonly recording = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private closed = false;

  constructor(private readonly options: RecorderOptions) {
    this.now = options.now ?? Date.now;
  }

  async onChange({ documentName, transactionOrigin }: onChangePayload): Promise<void> {
    if (this.closed || !storedHere(transactionOrigin)) return;
    const now = this.now();
    const pending = this.pending.get(documentName);
    if (pending) {
      pending.lastChange = now;
      return;
    }
    this.pending.set(documentName, {
      lastChange: now,
      idle: setLongTimeout(() => this.idleElapsed(documentName), this.options.idleMs, this.now),
      interval: setLongTimeout(
        () => void this.recordPending(documentName),
        this.options.intervalMs,
        this.now,
      ),
    });
  }

  /**
   * Awaited by Hocuspocus before the document leaves memory: a healthy store records in
   * milliseconds, and the document is gone only once its version is (so deleting a document
   * right after cannot race its last version). A store that fails (or starts failing) holds the
   * recording until it writes again: the unload then goes on at once (or after UNLOAD_WAIT_MS),
   * and the recording stays tracked for close().
   */
  async beforeUnloadDocument({ documentName }: beforeUnloadDocumentPayload): Promise<void> {
    const recording = this.recordPending(documentName);
    if (this.options.store.status.ready) await within(recording, UNLOAD_WAIT_MS);
  }

  /** A change that slipped in between the two unload hooks is recorded too, never dropped. */
  async afterUnloadDocument({ documentName }: afterUnloadDocumentPayload): Promise<void> {
    await this.recordPending(documentName);
  }

  async onDestroy(): Promise<void> {
    await this.close();
  }

  /**
   * Records every pending version, records nothing after, and waits for every recording under
   * way, at most `timeoutMs`: resolves to whether they all finished. A store that cannot write
   * (a full disk) holds recordings until it closes, so the server calls this once before closing
   * the store (bounded) and once after (the rest then fail at once, and are logged).
   */
  async close(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    this.closed = true;
    for (const name of [...this.pending.keys()]) void this.recordPending(name);
    const all = (async () => {
      while (this.recording.size > 0) await Promise.all(this.recording.values());
      return true;
    })();
    return within(all, timeoutMs).then((done) => done === true);
  }

  /** Documents with changes not yet in a version (for tests and metrics). */
  get pendingDocuments(): number {
    return this.pending.size;
  }

  private idleElapsed(name: string): void {
    const pending = this.pending.get(name);
    if (!pending) return;
    const quietMs = this.now() - pending.lastChange;
    if (quietMs < this.options.idleMs) {
      pending.idle = setLongTimeout(
        () => this.idleElapsed(name),
        this.options.idleMs - quietMs,
        this.now,
      );
      return;
    }
    void this.recordPending(name);
  }

  /**
   * Records the document's pending version, after any recording of it under way. Never
   * rejects: a failure is logged, and the next change makes the version pending again.
   */
  private recordPending(name: string): Promise<void> {
    const pending = this.pending.get(name);
    const running = this.recording.get(name);
    if (!pending) return running ?? Promise.resolve();
    pending.idle.clear();
    pending.interval.clear();
    this.pending.delete(name);
    const run = (running ?? Promise.resolve()).then(() =>
      this.record(name).catch((error: unknown) => {
        this.options.logger.error(
          { err: error, document: name },
          "could not record an automatic version",
        );
      }),
    );
    this.recording.set(name, run);
    void run.then(() => {
      if (this.recording.get(name) === run) this.recording.delete(name);
    });
    return run;
  }

  private async record(name: string): Promise<void> {
    const { store, versions, retention, logger } = this.options;
    // A version holds what is durable; first let every change already made become durable.
    await store.durable(name);
    const info = await versions.record(name, { kind: "auto", time: this.now() });
    if (!info) return;
    const expired = expiredVersions(await versions.list(name), retention, this.now());
    const deleted = expired.length > 0 ? await versions.delete(name, expired) : 0;
    logger.debug(
      {
        document: name,
        version: info.id,
        bytes: info.bytes,
        authors: info.authors.length,
        deleted,
      },
      "automatic version recorded",
    );
  }
}

/** How long an unload waits for its document's version (a healthy store takes milliseconds). */
const UNLOAD_WAIT_MS = 5_000;

/** The promise's value, or undefined once `ms` passed first (the promise goes on). */
function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  if (!Number.isFinite(ms)) return promise;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Whether this instance stores the change: a client's update or one made on the server. Not the
 * document's load, nor another instance's updates (Hocuspocus's "redis" origin, remote-updates.ts),
 * nor local changes that skip the store hooks.
 */
function storedHere(origin: unknown): boolean {
  if (origin === LOAD_ORIGIN) return false;
  if (!isTransactionOrigin(origin)) return true;
  if (origin.source === "redis") return false;
  if (origin.source === "local") return !origin.skipStoreHooks;
  return true;
}
