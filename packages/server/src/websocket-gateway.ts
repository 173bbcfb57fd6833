import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Hocuspocus } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import { type WebSocket, WebSocketServer } from "ws";
import type { AuthenticatedSockets } from "./extensions/authenticated-sockets.ts";
import type { DocumentLimits } from "./extensions/document-limits.ts";
import { CatchUp } from "./limits/catch-up.ts";
import { clientAddress } from "./limits/client-address.ts";
import { ConnectionLimiter } from "./limits/connection-limiter.ts";
import { InboundWindow } from "./limits/inbound-window.ts";
import { type Corkable, SendBuffer } from "./limits/send-buffer.ts";
import { TokenBucket } from "./limits/token-bucket.ts";
import { SocketLiveness } from "./liveness/socket-liveness.ts";
import { type Logger, lazyChild } from "./logger.ts";
import type { Metrics } from "./metrics/registry.ts";
import { documentNameOf, frameAddressProblem } from "./protocol/document-name.ts";
import { frameHead } from "./protocol/frame-head.ts";
import { screenFrame, type UpdateLimits } from "./protocol/frame-screen.ts";
import { SyncCoalescer } from "./protocol/sync-coalescer.ts";
import {
  translatingSocket,
  YWebsocketDialect,
  yWebsocketDocument,
} from "./protocols/y-websocket.ts";

export interface GatewayOptions {
  maxMessageSize: number;
  /**
   * Origins allowed to connect. Empty: any origin, or with `sameOriginOnly` (the default under
   * --auth none) only the server's own (see isOwnOrigin).
   */
  allowedOrigins: readonly string[];
  sameOriginOnly: boolean;
  /** The port the server listens on (known once it listens). */
  port: () => number;
  /** Longest document name in bytes; frames for other names close the socket with 1007. */
  maxDocumentNameBytes: number;
  trustedProxies: readonly string[];
  maxConnectionsPerIp: number;
  connectionsPerMinute: number;
  /** Messages per second per socket (0: no limit), and the burst above it. */
  messageRate: number;
  messageBurst: number;
  /** A socket that has not authenticated any document by then is closed. */
  authTimeoutMs: number;
  /** A socket that sent no message and answered no ping for this long is closed as dead. */
  socketTimeoutMs: number;
  authenticated: AuthenticatedSockets;
  /** What the frame screen lets through in a document update. */
  updateLimits: UpdateLimits;
  /** Unsent bytes a socket may hold besides its oldest unsent message (send-buffer.ts). */
  maxBufferedBytes: number;
  /** Unacknowledged bytes of updates past which a socket is not read (inbound-window.ts). */
  maxInflightBytes: number;
  /** Told when a socket closes, to free the document slots it held. */
  documentLimits: Pick<DocumentLimits, "socketClosed">;
  /** Counts limit hits and the close codes sent; null when metrics are off. */
  metrics?: Metrics | null;
}

/**
 * Owns the WebSocket side of the server: who may upgrade (origin, per-address limits), the size
 * and rate of messages, frame screening, the authentication deadline, and handing sockets to
 * Hocuspocus. Hocuspocus's own Server class is not used so that each of these answers with its
 * own HTTP status or close code, and a log line, before anything is parsed.
 */
export class WebSocketGateway {
  private readonly wss: WebSocketServer;
  private readonly limiter: ConnectionLimiter;
  private readonly sweeper: NodeJS.Timeout;
  private readonly liveness: SocketLiveness;
  private accepting = true;

  constructor(
    private readonly hocuspocus: Hocuspocus,
    private readonly logger: Logger,
    private readonly options: GatewayOptions,
  ) {
    // ws closes a socket whose message exceeds maxPayload with 1009 before buffering it whole.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageSize });
    this.limiter = new ConnectionLimiter({
      maxOpen: options.maxConnectionsPerIp,
      perMinute: options.connectionsPerMinute,
    });
    this.sweeper = setInterval(() => this.limiter.sweep(), 60_000);
    this.sweeper.unref();
    this.liveness = new SocketLiveness(options.socketTimeoutMs);
  }

  handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    const address = clientAddress(request, this.options.trustedProxies);
    const log = lazyChild(this.logger, { remote: address });
    if (!this.accepting) {
      refuseUpgrade(socket, 503, "Service Unavailable");
      return;
    }
    const origin = request.headers.origin;
    if (!this.originAllowed(origin, request.headers.host)) {
      log().warn({ origin: origin ?? null }, "upgrade refused: origin not allowed");
      refuseUpgrade(socket, 403, "Forbidden");
      return;
    }
    const admission = this.limiter.admit(address);
    if (!admission.admitted) {
      this.options.metrics?.limitHit(admission.limit);
      log().warn({ reason: admission.reason }, "upgrade refused: connection limit");
      refuseUpgrade(socket, 429, "Too Many Requests");
      return;
    }
    this.hocuspocus.hooks("onUpgrade", { request, socket, head, instance: this.hocuspocus }).then(
      () =>
        this.wss.handleUpgrade(request, socket, head, (ws) => {
          ws.once("close", admission.release);
          this.accept(ws, request, log);
        }),
      (error: unknown) => {
        admission.release();
        // A hook that rejects refuses the upgrade; one that wrote its own response is done.
        if (!socket.destroyed && socket.writable) refuseUpgrade(socket, 403, "Forbidden");
        if (error) log().warn({ err: error }, "upgrade refused by a hook");
      },
    );
  };

  private originAllowed(origin: string | undefined, host: string | undefined): boolean {
    const { allowedOrigins, sameOriginOnly, port } = this.options;
    // Browsers always send Origin on a WebSocket upgrade; a request without one is a program
    // (a Node.js service, a CLI), which the origin check is not there to stop: tokens are.
    if (origin === undefined) return true;
    if (allowedOrigins.length > 0) return allowedOrigins.includes(origin);
    if (!sameOriginOnly) return true;
    return isOwnOrigin(origin, host, port());
  }

  /** Open WebSockets. */
  get openSockets(): number {
    return this.wss.clients.size;
  }

  private accept(ws: WebSocket, request: IncomingMessage, log: () => Logger): void {
    const { messageRate, messageBurst, authTimeoutMs, maxBufferedBytes, metrics } = this.options;
    const rate = messageRate > 0 ? new TokenBucket(messageRate, messageBurst) : null;
    const close = (code: number, reason: string, message: string) => {
      log().warn({ code, reason }, message);
      outbox.close(code, reason);
    };
    const coalescer = new SyncCoalescer();
    const inflight = new InboundWindow(this.options.maxInflightBytes, ws, {
      paused: (bytes) => {
        metrics?.limitHit("inflight_bytes");
        log().debug({ bytes }, "stopped reading a socket until the server catches up");
      },
    });
    // Past this much unsent, a socket gets catch-ups instead of every update (catch-up.ts).
    const shedAbove = Math.floor(maxBufferedBytes / 4);
    // A stock y-websocket client (ws://HOST:PORT/y-websocket/<name>): its frames are translated
    // at the socket's edge, and everything else below treats it as a Hocuspocus client.
    const yDocument = yWebsocketDocument(request.url);
    const dialect = yDocument === null ? null : new YWebsocketDialect(yDocument);
    // Hocuspocus sends through the buffer, never to ws directly (connection.webSocket is it).
    // Every close the server makes goes through the outbox (Hocuspocus's too), and is counted.
    const outbox = new SendBuffer(dialect ? translatingSocket(ws, dialect) : ws, {
      maxBufferedBytes,
      observe: (message) => {
        const head = frameHead(message);
        inflight.sent(head);
        return coalescer.sent(head);
      },
      closing: (code: number) => {
        inflight.stop();
        metrics?.closeSent(code);
      },
      ...transportOf(ws),
      shedding: {
        above: shedAbove,
        below: Math.floor(maxBufferedBytes / 16),
        catchUp: new CatchUp((address) => this.hocuspocus.documents.get(documentNameOf(address))),
        fellBehind: (unsentBytes) => {
          metrics?.limitHit("catch_up");
          log().info(
            { unsentBytes, above: shedAbove },
            "a client fell behind: it gets a catch-up instead of every update",
          );
        },
        caughtUp: (messages, bytes) =>
          log().info({ messages, bytes }, "sent a client its catch-up"),
      },
      onOverflow: (unsentBytes) => {
        const code = CloseCode.SendBufferFull;
        const reason = "send buffer full";
        log().warn(
          { code, reason, unsentBytes, max: maxBufferedBytes },
          "closing a socket that does not read what it is sent",
        );
        metrics?.limitHit("send_buffer");
        outbox.close(code, reason);
        // The close frame waits behind the unread data (ws destroys the socket after 30 s if it
        // is never read): let go of the documents now instead of answering more requests.
        release(code, reason);
      },
    });
    const hookRequest = socketRequest(request);
    // Hocuspocus types the request as a fetch Request but reads only `url` and `headers`.
    const connection = this.hocuspocus.handleConnection(outbox, hookRequest as Request);
    let released = false;
    /** Hands the socket's end to Hocuspocus and the document limits, once. */
    const release = (code: number, reason: string) => {
      if (released) return;
      released = true;
      clearTimeout(deadline);
      connection.handleClose({ code, reason });
      this.options.documentLimits.socketClosed(hookRequest);
    };
    if (dialect) {
      const token = new URL(hookRequest.url).searchParams.get("token") ?? "";
      connection.handleMessage(dialect.authFrame(token));
    }
    const deadline = setTimeout(() => {
      if (!this.options.authenticated.has(outbox)) {
        metrics?.limitHit("auth_timeout");
        close(
          CloseCode.Timeout,
          "authentication timeout",
          "closing a socket that did not authenticate in time",
        );
      }
    }, authTimeoutMs);
    deadline.unref();
    this.liveness.watch(ws, (silentMs) => {
      metrics?.limitHit("socket_timeout");
      log().warn(
        { code: CloseCode.Timeout, silentMs, max: this.options.socketTimeoutMs },
        "closing a socket that went silent: no message and no answer to pings",
      );
      // A live peer (one whose event loop was stuck) gets the reason; a dead one gets nothing
      // either way, and its socket must not wait 30 s for a close handshake that never comes.
      outbox.close(CloseCode.Timeout, "socket timeout");
      release(CloseCode.Timeout, "socket timeout");
      ws.terminate();
    });

    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (ws.readyState !== ws.OPEN) return;
      this.liveness.heard(ws);
      if (rate && !rate.take()) {
        metrics?.limitHit("message_rate");
        close(
          CloseCode.PolicyViolation,
          "message rate exceeded",
          "closing a socket that sent too fast",
        );
        return;
      }
      if (!isBinary) {
        close(
          CloseCode.UnsupportedData,
          "text frames are not supported",
          "closing a socket that sent a text frame",
        );
        return;
      }
      const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      const frame = dialect ? dialect.incoming(raw) : raw;
      if (frame === null) {
        close(
          CloseCode.InvalidFrame,
          "message type not accepted from clients",
          "closing a y-websocket socket that sent an unknown message type",
        );
        return;
      }
      const result = screenFrame(frame, this.options.updateLimits);
      if (result.verdict === "forward") {
        // The document name, before Hocuspocus (its queues, its logs) or a token's globs see it.
        const problem = frameAddressProblem(frame, this.options.maxDocumentNameBytes);
        if (problem) {
          close(CloseCode.InvalidFrame, "invalid document name", `closing a socket: ${problem}`);
          return;
        }
        const head = frameHead(frame);
        if (!coalescer.admit(head)) return;
        inflight.received(head, frame.length);
        connection.handleMessage(frame);
      } else if (result.verdict === "reject") {
        close(result.code, result.reason, "closing a socket that sent an invalid frame");
      }
    });
    ws.on("close", (code: number, reason: Buffer) => release(code, reason.toString()));
    ws.on("error", (error: Error) => {
      // ws reports protocol violations (including too large messages) here, having closed the
      // socket itself with the code it carries.
      const code = statusCodeOf(error);
      if (metrics && code !== null) {
        metrics.closeSent(code);
        if (code === CloseCode.MessageTooBig) metrics.limitHit("message_size");
      }
      log().warn({ err: error }, "websocket error");
    });
  }

  /** Refuses new sockets and closes the open ones with a code that makes providers reconnect. */
  async closeAll(timeoutMs: number): Promise<void> {
    this.accepting = false;
    clearInterval(this.sweeper);
    this.liveness.stop();
    const closed = [...this.wss.clients].map(
      (ws) =>
        new Promise<void>((resolve) => {
          if (ws.readyState === ws.CLOSED) return resolve();
          ws.once("close", () => resolve());
          if (ws.readyState === ws.OPEN) this.options.metrics?.closeSent(CloseCode.ServiceRestart);
          // A socket paused by its inbound window must read the client's close frame.
          ws.resume();
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

const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/;
const IP_LITERAL = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\])$/;

/**
 * Whether a browser page on `origin` is the server's own page. A page elsewhere (another site,
 * another port such as a dev server) is not: under --auth none anyone who can open a socket reads
 * and writes every document, and the browser would let any page the user visits do so.
 * - a loopback origin on the server's port (http://127.0.0.1:PORT, http://localhost:PORT,
 *   http://[::1]:PORT) is the server's own page, whichever loopback name the socket used;
 * - otherwise the origin must be the address the request was sent to (its Host header), and that
 *   must be an IP address: a DNS name that matches its Host header could be DNS rebinding (a
 *   site that makes its own name resolve to this server), so names need --allowed-origin.
 */
export function isOwnOrigin(origin: string, host: string | undefined, port: number): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  const originPort = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const hostname = url.hostname.toLowerCase();
  if (LOOPBACK_HOSTS.test(hostname) && originPort === port) return true;
  return IP_LITERAL.test(hostname) && host !== undefined && url.host === host.toLowerCase();
}

/**
 * The close code ws sent for an error it found in what the client sent (ws 8 keeps it under a
 * symbol described "status-code"); null for other errors (a reset connection).
 */
function statusCodeOf(error: Error): number | null {
  for (const symbol of Object.getOwnPropertySymbols(error)) {
    if (symbol.description !== "status-code") continue;
    const code = (error as unknown as Record<symbol, unknown>)[symbol];
    return typeof code === "number" ? code : null;
  }
  return null;
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * What Hocuspocus reads of a socket's request: the URL (its query parameters) and the headers,
 * which it hands to hooks. Not a fetch Request: one of those (its AbortSignal, URL list and
 * internal state) costs about 2.2 KB of heap for every open socket, this about 0.9 KB.
 * Hocuspocus's own server hands it a similar stand-in (crossws's NodeReqProxy).
 */
export interface SocketRequest {
  readonly url: string;
  readonly headers: Headers;
}

function socketRequest(request: IncomingMessage): SocketRequest {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  let url: string;
  try {
    url = new URL(request.url ?? "/", `http://${request.headers.host ?? "localhost"}`).href;
  } catch {
    url = "http://localhost/";
  }
  return { url, headers };
}

/**
 * The net.Socket under a `ws` WebSocket. ws keeps it in the undocumented `_socket` field and
 * offers no cork of its own; without it the send buffer simply writes frame by frame.
 */
function transportOf(ws: WebSocket): { transport?: Corkable } {
  const socket = (ws as unknown as { _socket?: Partial<Corkable> })._socket;
  return typeof socket?.cork === "function" && typeof socket.uncork === "function"
    ? { transport: socket as Corkable }
    : {};
}
