import WebSocket from "ws";

/** A bare WebSocket for sending frames no provider would send. */
export interface RawSocket {
  ws: WebSocket;
  /** Resolves with the close code and reason the server sent. */
  closed: Promise<{ code: number; reason: string }>;
  send(frame: Uint8Array | string): void;
}

export async function openRawSocket(url: string): Promise<RawSocket> {
  const ws = new WebSocket(url);
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, closed, send: (frame) => ws.send(frame) };
}
