import WebSocket from "ws";
import { waitFor } from "./wait.ts";

/** A bare WebSocket for sending frames no provider would send. */
export interface RawSocket {
  ws: WebSocket;
  /** Binary messages received so far. */
  messages: Uint8Array[];
  /** Resolves with the close code and reason the server sent. */
  closed: Promise<{ code: number; reason: string }>;
  send(frame: Uint8Array | string): void;
  /** Resolves with the number of messages once more than `count` have arrived, or with the close. */
  nextMessageOrClose(
    count: number,
  ): Promise<{ message: Uint8Array } | { code: number; reason: string }>;
}

/** `options` go to `ws` (e.g. `{ autoPong: false }` for a peer that ignores pings). */
export async function openRawSocket(
  url: string,
  options: WebSocket.ClientOptions = {},
): Promise<RawSocket> {
  const ws = new WebSocket(url, options);
  const messages: Uint8Array[] = [];
  let closeEvent: { code: number; reason: string } | null = null;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => {
      closeEvent = { code, reason: reason.toString() };
      resolve(closeEvent);
    });
  });
  ws.on("message", (data: Buffer) => messages.push(new Uint8Array(data)));
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    ws,
    messages,
    closed,
    send: (frame) => ws.send(frame),
    nextMessageOrClose: (count) =>
      waitFor("a message or a close", () => {
        if (closeEvent) return closeEvent;
        const message = messages[count];
        return message ? { message } : null;
      }),
  };
}

/**
 * Tries a WebSocket upgrade and reports how it went: 101 with the open socket, or the HTTP status
 * the server refused it with.
 */
export function tryUpgrade(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; ws: WebSocket | null }> {
  return new Promise((resolve) => {
    const { origin, ...rest } = headers;
    const ws = new WebSocket(url, { headers: rest, ...(origin ? { origin } : {}) });
    ws.on("error", () => {});
    ws.once("open", () => resolve({ status: 101, ws }));
    ws.once("unexpected-response", (_request, response) => {
      resolve({ status: response.statusCode ?? 0, ws: null });
      response.resume();
    });
  });
}
