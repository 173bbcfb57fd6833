/**
 * Lets a loop sleep until something it waits for may have changed (an acknowledgement, a relayed
 * update) instead of polling: a polling loop on setImmediate keeps a core busy, which on a small
 * machine takes CPU from the server under test.
 */
export class Wakeup {
  private waiting: (() => void)[] = [];

  /** Wakes every current waiter. */
  readonly notify = (): void => {
    const waiting = this.waiting;
    if (waiting.length === 0) return;
    this.waiting = [];
    for (const wake of waiting) wake();
  };

  /** Resolves at the next notify(), or after `timeoutMs` at the latest. */
  wait(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiting.push(done);
    });
  }

  /** Waits (notified, or every `pollMs`) until `check` holds or `timeoutMs` passed. */
  async until(check: () => boolean, timeoutMs: number, pollMs = 100): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!check()) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await this.wait(Math.min(pollMs, left));
    }
    return true;
  }
}
