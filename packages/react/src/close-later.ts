/**
 * How long something opened during a render waits for that render to commit before it is
 * closed. A render React throws away (a concurrent render that loses, a suspended tree) never
 * runs its effects, so nothing else would ever close what it opened. Generous on purpose: a
 * handle closed too early is only reopened (see useDocument), one kept too long only costs a
 * subscription.
 */
export const UNCOMMITTED_HOLD_MS = 10_000;

/**
 * How long something released by its last effect cleanup stays open. StrictMode runs every
 * effect's cleanup and setup again right after mounting, in the same task, and a component
 * that moves in the tree is unmounted and mounted in one commit: a timer of 0 ms outlives both,
 * so neither closes and reopens anything, while a real unmount still closes at once.
 */
export const RELEASE_GRACE_MS = 0;

/** A close that runs after a delay unless cancelled first; scheduling again restarts the delay. */
export class CloseLater {
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor(private readonly close: () => void) {}

  schedule(delayMs: number): void {
    this.cancel();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.close();
    }, delayMs);
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
