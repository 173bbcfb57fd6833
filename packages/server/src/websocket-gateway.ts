import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Hocuspocus } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import { type WebSocket, WebSocketServer } from "ws";
import type { Logger } from "./logger.ts";
import { screenFrame } from "./protocol/frame-screen.ts";

/**
 * Owns the WebSocket side of the server: upgrades, the size limit, frame screening, and handing
 * sockets to Hocuspocus. Hocuspocus's own Server class is not used so that text frames, malformed
 * frames and oversized messages each get their own close code before anything is parsed twice.
 */
export class WebSocketGateway {
  private readonly wss: WebSocketServer;
  private accepting = true;

  constructor(
    private readonly hocuspocus: Hocuspocus,
    private readonly logger: Logger,
    options: { maxMessageSize: number },
  ) {
    // ws closes a socket whose message exceeds maxPayload with 1009 before buffering it whole.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageSize });
  }

  get clientCount(): number {
    return this.wss.clients.size;
  }

  handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    if (!this.accepting) {
      refuseUpgrade(socket, 503, "Service Unavailable");
      return;
    }
    this.hocuspocus.hooks("onUpgrade", { request, socket, head, instance: this.hocuspocus }).then(
      () => this.wss.handleUpgrade(request, socket, head, (ws) => this.accept(ws, request)),
      (error: unknown) => {
        // A hook that rejects refuses the upgrade; one that wrote its own response is done.
        if (!socket.destroyed && socket.writable) refuseUpgrade(socket, 403, "Forbidden");
        if (error) this.logger.warn({ err: error }, "upgrade refused");
      },
    );
  };

  private accept(ws: WebSocket, request: IncomingMessage): void {
    const connection = this.hocuspocus.handleConnection(ws, toWebRequest(request));
    const log = this.logger.child({ remote: request.socket.remoteAddress });
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (!isBinary) {
        log.warn("closing a socket that sent a text frame");
        ws.close(CloseCode.UnsupportedData, "text frames are not supported");
        return;
      }
      const frame = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const result = screenFrame(frame);
      if (result.verdict === "forward") connection.handleMessage(frame);
      else if (result.verdict === "reject") {
        log.warn(
          { code: result.code, reason: result.reason },
          "closing a socket that sent an invalid frame",
        );
        ws.close(result.code, result.reason);
      }
    });
    ws.on("close", (code: number, reason: Buffer) => {
      connection.handleClose({ code, reason: reason.toString() });
    });
    ws.on("error", (error: Error) => {
      // ws reports protocol violations (including too large messages) here, then closes.
      log.warn({ err: error }, "websocket error");
    });
  }

  /** Refuses new sockets and closes the open ones with a code that makes providers reconnect. */
  async closeAll(timeoutMs: number): Promise<void> {
    this.accepting = false;
    const closed = [...this.wss.clients].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === ws.CLOSED) return resolve();
          ws.once("close", () => resolve());
          ws.close(CloseCode.ServiceRestart, "server shutting down");
        }),
    );
    const timer = setTimeout(() => {
      for (const ws of this.wss.clients) ws.terminate();
    }, timeoutMs);
    await Promise.all(closed);
    clearTimeout(timer);
    this.wss.close();
  }
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** Hocuspocus reads headers and the query string from a web Request. */
function toWebRequest(request: IncomingMessage): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  let url: URL;
  try {
    url = new URL(request.url ?? "/", `http://${request.headers.host ?? "localhost"}`);
  } catch {
    url = new URL("http://localhost/");
  }
  return new Request(url, { headers });
}
