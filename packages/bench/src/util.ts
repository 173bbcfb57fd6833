/** Small timing helpers shared by the scenarios. Every wait is bounded. */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Milliseconds on a monotonic clock (the same clock in every client of this process). */
export const now = (): number => performance.now();

/**
 * Polls `check` until it is true or `timeoutMs` passed; resolves with whether it became true.
 * Measurements use the boolean (a server that never delivers is a result, not a crash).
 */
export async function until(
  check: () => boolean,
  timeoutMs: number,
  intervalMs = 5,
): Promise<boolean> {
  const deadline = now() + timeoutMs;
  for (;;) {
    if (check()) return true;
    if (now() > deadline) return false;
    await sleep(intervalMs);
  }
}

/** Like until(), but a timeout is an error: for setup steps the scenario cannot go on without. */
export async function mustUntil(
  what: string,
  check: () => boolean,
  timeoutMs: number,
  intervalMs = 5,
): Promise<void> {
  if (!(await until(check, timeoutMs, intervalMs))) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  }
}

/** Runs `task` for each index with at most `limit` in flight, so sockets open at a steady pace. */
export async function pool(
  count: number,
  limit: number,
  task: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

export type Progress = (message: string) => void;

/** Calls `report` at most every `everyMs`, for progress lines during long loops. */
export function throttle(everyMs: number, report: () => void): () => void {
  let last = 0;
  return () => {
    const t = now();
    if (t - last >= everyMs) {
      last = t;
      report();
    }
  };
}
