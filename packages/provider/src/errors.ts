/**
 * Why something went wrong, as a stable string an app can switch on:
 * - `invalid-option`: an option or argument was refused (thrown at once, never emitted);
 * - `token`: the token function threw or returned something other than a string;
 * - `unauthorized`: the server refused the token for a document;
 * - `server`: the server closed the connection because of its own failure (it keeps nothing
 *   half-done: the client sends its changes again after reconnecting);
 * - `rejected`: the server closed the connection because of something this client sent
 *   (for example an update larger than the server's message limit);
 * - `offline-cache`: the browser's IndexedDB failed; the document keeps working without it;
 * - `closed`: the document or client was closed while something waited on it.
 */
export type TandemErrorCode =
  | "invalid-option"
  | "token"
  | "unauthorized"
  | "server"
  | "rejected"
  | "offline-cache"
  | "closed";

export class TandemError extends Error {
  override name = "TandemError";

  constructor(
    readonly code: TandemErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
