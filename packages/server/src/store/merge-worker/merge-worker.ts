import { Worker } from "node:worker_threads";
import type { StoredDocument } from "../document-store.ts";
import { mergeStoredDocument } from "../merge.ts";
import { withStateParts } from "../state-chunks.ts";
import { handOver, type MergeReply, type MergeRequest, storedBytes } from "./handover.ts";
import type { Merged, WarmMerge } from "./warm-docs.ts";

/**
 * Merging a stored document (its state and log through a Y.Doc) takes time in proportion to the
 * document: a 10 MB document holds the event loop for a second or more, and every client of
 * every document waits that long for an answer. The merges that run in the background,
 * compactions and the snapshots of versions (both stores), hand the merge to a worker thread
 * instead. Smaller documents merge in place: under MERGE_IN_PLACE_BYTES a merge takes a
 * few ms, less than copying it to a thread and back would cost.
 *
 * One thread serves the whole process, one merge at a time (compactions run one after another
 * anyway). It starts with the first large merge and stops after IDLE_MS without one, so a server
 * that compacts nothing large pays no thread's memory; it never keeps the process alive while
 * idle. The result is the same bytes as mergeStoredDocument's, since it is that function; a
 * compaction started from a merge the thread kept (warm-docs.ts) is the same document, not
 * necessarily the same bytes.
 * If the thread dies (out of memory on a huge document, say), the merges it had fail (the
 * compaction is retried later and the log stays as it was), and the next merge starts a new
 * thread; if a thread cannot even start THREAD_FAILURES_BEFORE_IN_PLACE times in a row, merges
 * go back to the event loop.
 */
export const MERGE_IN_PLACE_BYTES = 256 * 1024;
const IDLE_MS = 30_000;
const THREAD_FAILURES_BEFORE_IN_PLACE = 3;

interface Job {
  resolve: (merged: Merged) => void;
  reject: (error: Error) => void;
}

/**
 * The worker's entry. In the repository the sources are TypeScript (this file ends in .ts) and
 * Node.js needs tsx to load them, in the thread as in the main thread; built, it is thread.js.
 */
function startThread(): Worker {
  const fromSources = import.meta.url.endsWith(".ts");
  const entry = new URL(`./thread.${fromSources ? "ts" : "js"}`, import.meta.url);
  if (!fromSources) return new Worker(entry);
  const bootstrap = `const { workerData } = require("node:worker_threads");
(async () => {
  (await import(workerData.tsx)).register();
  await import(workerData.entry);
})();`;
  return new Worker(bootstrap, {
    eval: true,
    workerData: { tsx: import.meta.resolve("tsx/esm/api"), entry: entry.href },
  });
}

class MergeThread {
  private worker: Worker | null = null;
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Threads in a row that failed to start (tsx missing, say). */
  private failures = 0;

  get usable(): boolean {
    return this.failures < THREAD_FAILURES_BEFORE_IN_PLACE;
  }

  merge(
    stored: StoredDocument,
    parts: readonly Uint8Array[],
    warm: WarmMerge | undefined,
  ): Promise<Merged> {
    const worker = this.running();
    const id = this.nextId++;
    const { document, stateParts, transfer } = handOver(stored, parts);
    const request: MergeRequest = warm
      ? { id, document, stateParts, warm }
      : { id, document, stateParts };
    return new Promise<Merged>((resolve, reject) => {
      this.jobs.set(id, { resolve, reject });
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.idleTimer = null;
      // A pending merge keeps the process alive (a closing store waits for it); an idle thread
      // does not.
      worker.ref();
      worker.postMessage(request, transfer);
    });
  }

  private running(): Worker {
    if (this.worker) return this.worker;
    const worker = startThread();
    this.worker = worker;
    let online = false;
    worker.unref();
    worker.on("online", () => {
      online = true;
    });
    worker.on("message", (reply: MergeReply) => this.settle(reply));
    worker.on("error", (error) => this.lost(worker, online, error));
    worker.on("exit", (code) =>
      this.lost(worker, online, new Error(`merge thread exited (${code})`)),
    );
    return worker;
  }

  private settle(reply: MergeReply): void {
    const job = this.jobs.get(reply.id);
    if (!job) return;
    this.jobs.delete(reply.id);
    if ("error" in reply) job.reject(new Error(`merge failed: ${reply.error}`));
    else {
      const { update, failed, reused, kept } = reply;
      job.resolve({ update, failed, reused, kept });
    }
    if (this.jobs.size === 0) this.idle();
  }

  private idle(): void {
    const worker = this.worker;
    if (!worker) return;
    worker.unref();
    this.idleTimer = setTimeout(() => {
      if (this.worker === worker && this.jobs.size === 0) {
        this.worker = null;
        void worker.terminate();
      }
    }, IDLE_MS);
    this.idleTimer.unref();
  }

  /**
   * The thread failed or exited: its merges fail, and the next merge starts a new one. Only a
   * thread that never started counts towards merging in place: one that died merging (out of
   * memory) would take the event loop's process down with it there.
   */
  private lost(worker: Worker, online: boolean, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.failures = online ? 0 : this.failures + 1;
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of jobs) job.reject(error);
  }
}

const thread = new MergeThread();

let lastMergeKey = 0;

/**
 * A key for the merge thread to keep a merge under (warm-docs.ts), never given out before in
 * this process: the one thread serves every store the process opens.
 */
export function newMergeKey(): number {
  lastMergeKey += 1;
  return lastMergeKey;
}

/**
 * mergeStoredDocument, off the event loop when the document is large enough for it to matter
 * (see above). Rejects only if the merge thread died; entries that do not apply are counted in
 * `failed`, as mergeStoredDocument counts them. It takes the document's buffers: a caller must
 * not read `stored`'s state or updates afterwards (they may be handed to the thread, see
 * handover.ts). A state stored in parts (state-chunks.ts) comes as `stateParts` with a null
 * `state`, and is joined where the merge runs. With `warm` (a compaction), the thread keeps the
 * merge for the document's next compaction and may start from the one it kept for its last
 * (warm-docs.ts); `reused` and `kept` say whether it did. A merge in place does neither.
 */
export function mergeOffThread(
  stored: StoredDocument,
  stateParts: readonly Uint8Array[] = [],
  warm?: WarmMerge,
): Promise<Merged> {
  if (storedBytes(stored, stateParts) < MERGE_IN_PLACE_BYTES || !thread.usable) {
    return new Promise((resolve) =>
      resolve({
        ...mergeStoredDocument(withStateParts(stored, stateParts)),
        reused: false,
        kept: false,
      }),
    );
  }
  return thread.merge(stored, stateParts, warm);
}
