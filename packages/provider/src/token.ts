import { describeError, TandemError } from "./errors.ts";
import type { TokenOption } from "./options.ts";

/**
 * Where documents get their token. A function is called again for every request (every
 * connect, every token refresh the server asks for), never cached, so short-lived tokens just
 * work. Requests that overlap share one call: when the socket opens, every document asks at
 * once, and the app's token endpoint should see one request, not one per document.
 */
export class TokenSource {
  private inFlight: Promise<string> | null = null;

  constructor(private readonly token: TokenOption) {}

  get(): Promise<string> {
    const { token } = this;
    if (typeof token === "string") return Promise.resolve(token);
    this.inFlight ??= this.call(token).finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  private async call(token: () => string | Promise<string>): Promise<string> {
    let value: unknown;
    try {
      value = await token();
    } catch (error) {
      throw new TandemError("token", `the token function failed: ${describeError(error)}`, {
        cause: error,
      });
    }
    if (typeof value !== "string") {
      throw new TandemError(
        "token",
        `the token function must return a string (or a promise of one), not ${typeof value}`,
      );
    }
    return value;
  }
}

export interface TokenPacing {
  /** No pause while calls are at least this far apart; the first pause when they are not. */
  minDelayMs: number;
  /** Each further early request multiplies the pause by this... */
  factor: number;
  /** ...up to this. */
  maxDelayMs: number;
}

/**
 * Spaces out the token calls of one document. The server asks for a fresh token when the current
 * one expires, so requests come minutes apart; a server that asks again at once (a bug, such as a
 * timer that fires immediately) would otherwise have the app's token function called in a tight
 * loop. A request within `minDelayMs` of the previous call waits until that much time has passed;
 * every further early request grows the spacing by `factor`, up to `maxDelayMs`; a request that
 * comes late enough goes ahead at once and starts over.
 */
export class TokenPacer {
  private last = Number.NEGATIVE_INFINITY;
  private spacing: number;

  constructor(
    private readonly pacing: TokenPacing,
    private readonly now: () => number = Date.now,
  ) {
    this.spacing = pacing.minDelayMs;
  }

  /** Forgets past calls: the next one goes ahead at once. */
  reset(): void {
    this.last = Number.NEGATIVE_INFINITY;
    this.spacing = this.pacing.minDelayMs;
  }

  /** How long the call asked for now must wait (0: go ahead); counts it as a call. */
  next(): number {
    const now = this.now();
    const since = now - this.last;
    if (since >= this.spacing) {
      this.spacing = this.pacing.minDelayMs;
      this.last = now;
      return 0;
    }
    const wait = this.spacing - since;
    this.last = now + wait;
    this.spacing = Math.min(this.pacing.maxDelayMs, this.spacing * this.pacing.factor);
    return wait;
  }
}
