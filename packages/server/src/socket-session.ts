import type { IncomingMessage } from "node:http";
import type { Hocuspocus } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import type { WebSocket } from "ws";
import { CatchUp, type DocumentOf } from "./limits/catch-up.ts";
import { InboundWindow, type InboundWindowEvents } from "./limits/inbound-window.ts";
import { type Corkable, SendBuffer, type SendBufferEvents } from "./limits/send-buffer.ts";
import { TokenBucket } from "./limits/token-bucket.ts";
import type { SocketLiveness } from "./liveness/socket-liveness.ts";
import type { Logger } from "./logger.ts";
import { frameAddressProblem } from "./protocol/document-name.ts";
import { frameHead, grantsAuthentication } from "./protocol/frame-head.ts";
import { screenFrame } from "./protocol/frame-screen.ts";
import { SyncCoalescer } from "./protocol/sync-coalescer.ts";
import {
  translatingSocket,
  YWebsocketDialect,
  yWebsocketDocument,
} from "./protocols/y-websocket.ts";
import type { GatewayOptions } from "./websocket-gateway.ts";

/** Hocuspocus's per-socket connection (its class is not exported). */
type ClientConnection = ReturnType<Hocuspocus["handleConnection"]>;

/** What every session of one gateway shares. */
export interface SessionContext {
  hocuspocus: Hocuspocus;
  liveness: SocketLiveness;
  options: GatewayOptions;
  /** The document a frame's address names, for catch-ups (one function for every socket). */
  documentOf: DocumentOf;
}

/**
 * One accepted WebSocket, from its first frame to its end: the size and rate of its messages,
 * frame screening, its inbound window and send buffer, the authentication deadline, and handing
 * it to Hocuspocus. One object per socket whose methods answer its events, rather than a dozen
 * closures per socket and their scopes: an idle socket costs about 1 KB of heap less, which
 * 10,000 idle connections pay 10,000 times.
 */
export class SocketSession implements SendBufferEvents, InboundWindowEvents {
  private readonly rate: TokenBucket | null;
  private readonly coalescer = new SyncCoalescer();
  private readonly inflight: InboundWindow;
  private readonly dialect: YWebsocketDialect | null;
  private readonly outbox: SendBuffer;
  private readonly request: SocketRequest;
  private readonly connection: ClientConnection;
  private readonly deadline: NodeJS.Timeout;
  private released = false;

  constructor(
    private readonly ws: WebSocket,
    request: IncomingMessage,
    private readonly log: () => Logger,
    private readonly context: SessionContext,
  ) {
    const { options, hocuspocus } = context;
    const { messageRate, messageBurst, maxBufferedBytes } = options;
    this.rate = messageRate > 0 ? new TokenBucket(messageRate, messageBurst) : null;
    this.inflight = new InboundWindow(options.maxInflightBytes, ws, this);
    // A stock y-websocket client (ws://HOST:PORT/y-websocket/<name>): its frames are translated
    // at the socket's edge, and everything else below treats it as a Hocuspocus client.
    const yDocument = yWebsocketDocument(request.url);
    this.dialect = yDocument === null ? null : new YWebsocketDialect(yDocument);
    // Hocuspocus sends through the buffer, never to ws directly (connection.webSocket is it).
    // Every close the server makes goes through the outbox (Hocuspocus's too), and is counted.
    this.outbox = new SendBuffer(
      this.dialect ? translatingSocket(ws, this.dialect) : ws,
      {
        maxBufferedBytes,
        // Past a quarter of the limit unsent, a socket gets catch-ups instead of every update.
        shedding: {
          above: shedAbove(maxBufferedBytes),
          below: Math.floor(maxBufferedBytes / 16),
          catchUp: new CatchUp(context.documentOf),
        },
        ...transportOf(ws),
      },
      this,
    );
    this.request = socketRequest(request);
    // Hocuspocus types the request as a fetch Request but reads only `url` and `headers`.
    this.connection = hocuspocus.handleConnection(this.outbox, this.request as Request);
    flattenSocketId(this.connection);
    if (this.dialect) {
      const token = queryOf(this.request.url).get("token") ?? "";
      this.connection.handleMessage(this.dialect.authFrame(token));
    }
    this.deadline = setTimeout(authDeadline, options.authTimeoutMs, this);
    this.deadline.unref();
    context.liveness.watch(ws, (silentMs) => this.wentSilent(silentMs));
    ws.on("message", (data: Buffer, isBinary: boolean) => this.received(data, isBinary));
    ws.on("close", (code: number, reason: Buffer) => this.release(code, reason.toString()));
    ws.on("error", (error: Error) => this.failed(error));
  }

  // --- SendBufferEvents -------------------------------------------------------------------

  observe(message: Uint8Array): (() => void) | undefined {
    const head = frameHead(message);
    // Authenticated: the deadline is met, however long the document then takes to load (it may
    // wait its turn behind others, --max-concurrent-loads).
    if (head && grantsAuthentication(head)) clearTimeout(this.deadline);
    this.inflight.sent(head);
    return this.coalescer.sent(head);
  }

  closing(code: number): void {
    this.inflight.stop();
    this.context.options.metrics?.closeSent(code);
  }

  fellBehind(unsentBytes: number): void {
    const { maxBufferedBytes, metrics } = this.context.options;
    metrics?.limitHit("catch_up");
    this.log().info(
      { unsentBytes, above: shedAbove(maxBufferedBytes) },
      "a client fell behind: it gets a catch-up instead of every update",
    );
  }

  caughtUp(messages: number, bytes: number): void {
    this.log().info({ messages, bytes }, "sent a client its catch-up");
  }

  overflowed(unsentBytes: number): void {
    const { maxBufferedBytes, metrics } = this.context.options;
    const code = CloseCode.SendBufferFull;
    const reason = "send buffer full";
    this.log().warn(
      { code, reason, unsentBytes, max: maxBufferedBytes },
      "closing a socket that does not read what it is sent",
    );
    metrics?.limitHit("send_buffer");
    this.outbox.close(code, reason);
    // The close frame waits behind the unread data (ws destroys the socket after 30 s if it is
    // never read): let go of the documents now instead of answering more requests.
    this.release(code, reason);
  }

  // --- InboundWindowEvents ----------------------------------------------------------------

  paused(bytes: number): void {
    this.context.options.metrics?.limitHit("inflight_bytes");
    this.log().debug({ bytes }, "stopped reading a socket until the server catches up");
  }

  // --- the socket's own events ------------------------------------------------------------

  private received(data: Buffer, isBinary: boolean): void {
    const { ws, context } = this;
    const { options } = context;
    if (ws.readyState !== ws.OPEN) return;
    context.liveness.heard(ws);
    if (this.rate && !this.rate.take()) {
      options.metrics?.limitHit("message_rate");
      this.close(
        CloseCode.PolicyViolation,
        "message rate exceeded",
        "closing a socket that sent too fast",
      );
      return;
    }
    if (!isBinary) {
      this.close(
        CloseCode.UnsupportedData,
        "text frames are not supported",
        "closing a socket that sent a text frame",
      );
      return;
    }
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const frame = this.dialect ? this.dialect.incoming(raw) : raw;
    if (frame === null) {
      this.close(
        CloseCode.InvalidFrame,
        "message type not accepted from clients",
        "closing a y-websocket socket that sent an unknown message type",
      );
      return;
    }
    const result = screenFrame(frame, options.updateLimits);
    if (result.verdict === "forward") {
      // The document name, before Hocuspocus (its queues, its logs) or a token's globs see it.
      const problem = frameAddressProblem(frame, options.maxDocumentNameBytes);
      if (problem) {
        this.close(CloseCode.InvalidFrame, "invalid document name", `closing a socket: ${problem}`);
        return;
      }
      const head = frameHead(frame);
      if (!this.coalescer.admit(head)) return;
      this.inflight.received(head, frame.length);
      this.connection.handleMessage(frame);
    } else if (result.verdict === "reject") {
      this.close(result.code, result.reason, "closing a socket that sent an invalid frame");
    }
  }

  private failed(error: Error): void {
    // ws reports protocol violations (including too large messages) here, having closed the
    // socket itself with the code it carries.
    const { metrics } = this.context.options;
    const code = statusCodeOf(error);
    if (metrics && code !== null) {
      metrics.closeSent(code);
      if (code === CloseCode.MessageTooBig) metrics.limitHit("message_size");
    }
    this.log().warn({ err: error }, "websocket error");
  }

  private wentSilent(silentMs: number): void {
    this.context.options.metrics?.limitHit("socket_timeout");
    this.log().warn(
      { code: CloseCode.Timeout, silentMs, max: this.context.options.socketTimeoutMs },
      "closing a socket that went silent: no message and no answer to pings",
    );
    // A live peer (one whose event loop was stuck) gets the reason; a dead one gets nothing
    // either way, and its socket must not wait 30 s for a close handshake that never comes.
    this.outbox.close(CloseCode.Timeout, "socket timeout");
    this.release(CloseCode.Timeout, "socket timeout");
    this.ws.terminate();
  }

  /** Closes the socket that had not authenticated any document in time. */
  authDeadlinePassed(): void {
    this.context.options.metrics?.limitHit("auth_timeout");
    this.close(
      CloseCode.Timeout,
      "authentication timeout",
      "closing a socket that did not authenticate in time",
    );
  }

  private close(code: number, reason: string, message: string): void {
    this.log().warn({ code, reason }, message);
    this.outbox.close(code, reason);
  }

  /** Hands the socket's end to Hocuspocus and the document limits, once. */
  private release(code: number, reason: string): void {
    if (this.released) return;
    this.released = true;
    clearTimeout(this.deadline);
    this.connection.handleClose({ code, reason });
    this.context.options.documentLimits.socketClosed(this.request);
  }
}

/** setTimeout(authDeadline, ms, session): a timer per socket, and no closure. */
const authDeadline = (session: SocketSession): void => session.authDeadlinePassed();

/** Unsent bytes past which a socket gets catch-ups instead of every update (catch-up.ts). */
const shedAbove = (maxBufferedBytes: number): number => Math.floor(maxBufferedBytes / 4);

/**
 * What Hocuspocus reads of a socket's request: the URL (its query parameters) and the headers,
 * which it hands to hooks. Not a fetch Request: one of those (its AbortSignal, URL list and
 * internal state) costs about 2.2 KB of heap for every open socket, this about 0.9 KB.
 * Hocuspocus's own server hands it a similar stand-in (crossws's NodeReqProxy).
 */
export interface SocketRequest {
  /**
   * The request target as the client sent it, path and query (`/?token=…`), as Node's
   * IncomingMessage.url; an absolute URL only when Hocuspocus could not read the query from
   * that (hookUrl). Hocuspocus parses the query out of it for the payload of every hook, every
   * update's included, and an absolute URL costs it a whole URL parse each time (2% of the
   * server's CPU in the throughput scenario, 3.5% replaying a trace).
   */
  readonly url: string;
  readonly headers: Headers;
}

function socketRequest(request: IncomingMessage): SocketRequest {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) {
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else if (value !== undefined) headers.set(name, value);
  }
  return { url: hookUrl(request), headers };
}

/**
 * The request's URL as hooks get it. Hocuspocus reads the query with `url.split("?")[1]`, unless
 * the URL contains "://", which it parses with `new URL`. So the target as sent is used when
 * that reads it right (a path with at most one "?" and no "://", as clients send), and the
 * absolute URL otherwise: `/?next=https://…` would make Hocuspocus's URL parse throw and refuse
 * the connection, and a second "?" would cut the query short.
 */
function hookUrl(request: IncomingMessage): string {
  const target = request.url ?? "/";
  const oneQuery = target.indexOf("?") === target.lastIndexOf("?");
  if (target.startsWith("/") && !target.includes("://") && oneQuery) return target;
  try {
    return new URL(target, `http://${request.headers.host ?? "localhost"}`).href;
  } catch {
    return "http://localhost/";
  }
}

/** The query of a hook URL (either form), for the y-websocket dialect's token. */
function queryOf(url: string): URLSearchParams {
  const at = url.indexOf("?");
  return new URLSearchParams(at === -1 ? "" : url.slice(at + 1));
}

/**
 * Hocuspocus names every socket with crypto.randomUUID(), which Node builds by concatenating
 * about 20 pieces. V8 keeps such a string as a rope of 32-byte nodes until something reads it by
 * index, and then flattens it in place; nothing ever does, so every open socket kept 14 rope
 * nodes (448 bytes, 3.5% of an idle socket's heap) in its id, which Hocuspocus copies into every
 * document connection and hook payload. Reading one character flattens it for all of them.
 */
function flattenSocketId(connection: ClientConnection): void {
  const { socketId } = connection as unknown as { socketId?: unknown };
  if (typeof socketId === "string") socketId.charCodeAt(0);
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
