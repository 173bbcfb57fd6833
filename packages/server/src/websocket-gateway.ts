import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { Hocuspocus } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import { WebSocketServer } from "ws";
import type { DocumentLimits } from "./extensions/document-limits.ts";
import { clientAddress } from "./limits/client-address.ts";
import { ConnectionLimiter } from "./limits/connection-limiter.ts";
import { SocketLiveness } from "./liveness/socket-liveness.ts";
import { type Logger, lazyChild } from "./logger.ts";
import type { Metrics } from "./metrics/registry.ts";
import { documentNameOf } from "./protocol/document-name.ts";
import type { UpdateLimits } from "./protocol/frame-screen.ts";
import { type SessionContext, SocketSession } from "./socket-session.ts";

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
  /**
   * A socket that has not authenticated any document by then is closed: met when Hocuspocus sends
   * its first Authenticated frame, however long that document then takes to load.
   */
  authTimeoutMs: number;
  /** A socket that sent no message and answered no ping for this long is closed as dead. */
  socketTimeoutMs: number;
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
 * Owns the WebSocket side of the server: who may upgrade (origin, per-address limits), and
 * each accepted socket's session (socket-session.ts: the size and rate of messages, frame
 * screening, the authentication deadline, handing it to Hocuspocus). Hocuspocus's own Server
 * class is not used so that each of these answers with its own HTTP status or close code, and a
 * log line, before anything is parsed.
 */
export class WebSocketGateway {
  private readonly wss: WebSocketServer;
  private readonly limiter: ConnectionLimiter;
  private readonly sweeper: NodeJS.Timeout;
  private readonly liveness: SocketLiveness;
  private readonly sessions: SessionContext;
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
    this.sessions = {
      hocuspocus,
      liveness: this.liveness,
      options,
      documentOf: (address) => hocuspocus.documents.get(documentNameOf(address)),
    };
  }

  handleUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", destroyOnError);
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
          new SocketSession(ws, request, log, this.sessions);
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
 * A module-level listener (it gets the socket as `this`) rather than a closure in handleUpgrade:
 * it stays on the socket for its whole life, and a closure would keep handleUpgrade's scope alive
 * with it, the upgrade request and its headers included (about 1 KB per open socket).
 */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
