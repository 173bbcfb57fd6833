/** The longest delay setTimeout keeps: a longer one (or a negative one) fires after 1 ms. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface LongTimeout {
  clear(): void;
}

/**
 * setTimeout for any delay: past MAX_TIMEOUT_MS (about 24.8 days) it chains timeouts, each re-armed
 * for what is left, measured on the clock so that a slow event loop does not add up. Timers are
 * unref'd: a pending expiry never keeps the process alive.
 */
export function setLongTimeout(
  callback: () => void,
  delayMs: number,
  now: () => number = Date.now,
): LongTimeout {
  const due = now() + Math.max(0, delayMs);
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = due - now();
    if (left <= 0) {
      callback();
      return;
    }
    timer = setTimeout(arm, Math.min(left, MAX_TIMEOUT_MS));
    timer.unref();
  };
  timer = setTimeout(arm, Math.min(Math.max(0, delayMs), MAX_TIMEOUT_MS));
  timer.unref();
  return { clear: () => clearTimeout(timer) };
}
