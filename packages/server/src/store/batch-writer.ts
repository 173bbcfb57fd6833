import { GroupCommit } from "./group-commit.ts";

/**
 * Group commit: every write submitted during one turn of the event loop goes into one LevelDB
 * batch. One batch is in flight at a time; writes submitted meanwhile form the next batch. Each
 * submitter's promise resolves when the batch holding its write is on disk, so durability is
 * per write while the disk sees one write per turn, however many connections are writing.
 *
 * A batch that fails is not rejected: it is handed to `recover`, which resolves once the
 * storage can be trusted again (the store reopens the database), and then written again, whole
 * and in its place, before any later batch. So a full disk delays acknowledgements but never
 * reorders or drops a write; only `recover` rejecting (the store is closing) rejects the
 * batch's submitters. Batches must therefore be idempotent: they are, since every key is
 * deterministic (a document's log sequence) and a retry writes the same values.
 */

export type BatchOp =
  | { type: "put"; key: string; value: Uint8Array }
  | { type: "del"; key: string };

interface Submission {
  ops: BatchOp[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class BatchWriter {
  private readonly queue: GroupCommit<Submission>;

  /**
   * @param write writes one atomic batch
   * @param finalize called as a batch is sealed; returns ops that describe the batch's result
   *   (the metadata records of the documents it touches), so they commit atomically with it
   * @param afterCommit called after each successful batch
   * @param recover called with the error of a failed write; resolves when the batch may be
   *   written again, rejects when it never will be
   * @param written told of each batch written: its submissions, its ops, and the ms from its
   *   first write attempt until it was durable
   */
  constructor(
    private readonly write: (ops: BatchOp[]) => Promise<void>,
    private readonly finalize: () => BatchOp[],
    private readonly afterCommit: () => void,
    private readonly recover: (error: unknown) => Promise<void>,
    private readonly written?: (submissions: number, ops: readonly BatchOp[], ms: number) => void,
  ) {
    this.queue = new GroupCommit((batch) => this.commit(batch));
  }

  submit(ops: BatchOp[]): Promise<void> {
    return new Promise((resolve, reject) => this.queue.add({ ops, resolve, reject }));
  }

  /** Resolves when everything submitted so far is written (or has failed). */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  private async commit(batch: Submission[]): Promise<void> {
    const ops: BatchOp[] = [];
    for (const submission of batch) for (const op of submission.ops) ops.push(op);
    for (const op of this.finalize()) ops.push(op);
    const started = this.written ? performance.now() : 0;
    try {
      await this.writeUntilDurable(ops);
    } catch (error) {
      for (const submission of batch) submission.reject(error);
      return;
    }
    this.written?.(batch.length, ops, performance.now() - started);
    this.afterCommit();
    for (const submission of batch) submission.resolve();
  }

  private async writeUntilDurable(ops: BatchOp[]): Promise<void> {
    for (;;) {
      try {
        await this.write(ops);
        return;
      } catch (error) {
        await this.recover(error);
      }
    }
  }
}
