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
