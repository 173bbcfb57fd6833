export interface BackoffOptions {
  /** The ceiling of the first delay, in milliseconds. */
  minDelayMs: number;
  /** No delay grows past this. */
  maxDelayMs: number;
  /** Each failed attempt multiplies the ceiling by this. */
  factor: number;
}

/**
 * Delays between reconnection attempts: exponential, capped, with "equal jitter" (half of each
 * delay fixed, half random). The jitter spreads out clients that lost the server at the same
 * moment (a restart drops everyone at once), and the fixed half keeps any of them from
 * retrying immediately, which a plain random delay in [0, ceiling] would allow.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt; each call counts one more failed attempt. */
  next(): number {
    const { minDelayMs, maxDelayMs, factor } = this.options;
    const ceiling = Math.min(maxDelayMs, minDelayMs * factor ** this.attempt);
    this.attempt++;
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  /** After a connection that held, or when the app asks for a retry now. */
  reset(): void {
    this.attempt = 0;
  }
}
