/**
 * Lets at most `max` document loads run at once; the others wait their turn, first come first
 * served (0: no limit).
 *
 * Why: after a restart every client comes back at once, and each asks for a document that must
 * be read from the store. The reads run on other threads and finish in bursts; each finished
 * read then costs the event loop its apply, the connection's set-up and the sync answer, all in
 * the same turn of the loop. With hundreds of reads in flight, one turn can hold dozens of them,
 * and every other socket (a typist on a document already open) waits that long. With a few in
 * flight, a turn holds at most a few, and the loads still keep the store's threads busy.
 *
 * Measured (bench stalls: 1,000 small documents loaded cold by 64 clients at a time, a probe's
 * round trips meanwhile, medians of 3 runs): with no limit the probe's p99 was 18.5-27.3 ms and
 * its max 35-39 ms; with 4 (the default, as many as libuv has threads for LevelDB's reads)
 * 14.8-18.4 ms and 23-30 ms, and all 1,000 loaded as fast. A store whose reads cross a network
 * waits longer per load: there a higher limit keeps loads from queueing (README, Sizing).
 */
export class LoadGate {
  private running = 0;
  /** Loads waiting for a turn, oldest first (a restart queues hundreds, not millions). */
  private readonly waiting: (() => void)[] = [];

  /**
   * @param max loads at once (0: no limit)
   * @param patienceMs how long a load keeps its turn: one that waits longer (for a full disk to
   *   recover, for an engine that is away) gives its turn to the next, so a few stuck documents
   *   never hold back the loads of every other
   */
  constructor(
    private readonly max: number,
    private readonly patienceMs: number,
  ) {}

  /** Loads waiting for a turn (for metrics). */
  get queued(): number {
    return this.waiting.length;
  }

  /** Runs `load` once a turn is free; frees the turn when it settles or runs out of patience. */
  async run<T>(load: () => Promise<T>): Promise<T> {
    if (this.max === 0) return load();
    // A freed turn is handed to the oldest waiting load, so running stays counted for it.
    if (this.running < this.max) this.running++;
    else await new Promise<void>((turn) => this.waiting.push(turn));
    let freed = false;
    const free = (): void => {
      if (freed) return;
      freed = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    };
    const patience = setTimeout(free, this.patienceMs);
    try {
      return await load();
    } finally {
      clearTimeout(patience);
      free();
    }
  }
}
