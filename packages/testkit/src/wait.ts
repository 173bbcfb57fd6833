export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
}

/**
 * Thrown by a check to stop waiting at once: what it waits for can no longer happen (the process
 * that would do it has exited). Any other error only means "not yet".
 */
export class StopWaiting extends Error {
  override name = "StopWaiting";
}

/**
 * Polls until `check` returns a truthy value (or stops throwing) and returns it. On timeout it
 * throws with the message and the last error, so a failing test says what it waited for.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs = 15_000, intervalMs = 10 }: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
      lastError = undefined;
    } catch (error) {
      if (error instanceof StopWaiting) {
        throw new Error(`gave up waiting for ${what}: ${error.message}`);
      }
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
