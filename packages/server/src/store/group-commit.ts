/**
 * The queue behind group commit, shared by both stores: everything added during one turn of the
 * event loop forms one batch; one batch is committed at a time, and what is added meanwhile
 * forms the next. How a batch is written, retried and settled is the store's `commit`, which
 * must settle its items itself and never reject.
 */
export class GroupCommit<T> {
  private queue: T[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;

  constructor(private readonly commit: (batch: T[]) => Promise<void>) {}

  add(item: T): void {
    this.queue.push(item);
    this.schedule();
  }

  /** Removes and returns what is queued but not yet in a batch. */
  takeQueued(): T[] {
    return this.queue.splice(0);
  }

  /** Resolves when everything added so far has been committed (or has failed). */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) {
      if (!this.flushing) this.flushNow();
      await this.flushing;
    }
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    // setImmediate runs after the poll phase, so the messages of every socket read in this
    // turn of the loop are already queued: they share the batch.
    setImmediate(() => {
      this.scheduled = false;
      if (!this.flushing) this.flushNow();
    });
  }

  private flushNow(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const next = () => {
      this.flushing = null;
      if (this.queue.length > 0) this.schedule();
    };
    // A commit that broke its promise not to reject must not stall the queue.
    this.flushing = this.commit(batch).then(next, next);
  }
}
