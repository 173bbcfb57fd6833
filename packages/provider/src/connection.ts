import {
  type onDisconnectParameters,
  type onStatusParameters,
  WebSocketStatus,
} from "@hocuspocus/provider";
import { CloseCode } from "@tandem/protocol";
import { Backoff } from "./backoff.ts";
import { browserIsOffline, watchBrowser } from "./browser.ts";
import { Emitter } from "./events.ts";
import type { ReconnectOptions, WebSocketConstructor } from "./options.ts";
import { TandemSocket } from "./socket.ts";

/**
 * - `idle`: not trying (nothing opened yet, stopped, or closed);
 * - `connecting`: trying to reach the server, or waiting to try again;
 * - `connected`: the socket is open;
 * - `offline`: the browser says there is no network, or several attempts in a row failed
 *   (the connection keeps trying, less and less often).
 */
export type ConnectionState = "idle" | "connecting" | "connected" | "offline";

export interface SocketClosed {
  code: number;
  reason: string;
  /** The socket had opened (as opposed to an attempt that failed). */
  wasOpen: boolean;
  /** The server refused this client as a whole (4401/4403); the connection stopped retrying. */
  refused: boolean;
}

interface ConnectionEvents {
  state: ConnectionState;
  closed: SocketClosed;
}

/** Failed attempts in a row after which the state says `offline` rather than `connecting`. */
const OFFLINE_AFTER_FAILED_ATTEMPTS = 3;

/**
 * A connection that stayed open this long was healthy: after it drops, the backoff starts over.
 * One that drops sooner (a server that accepts and then closes at once) keeps growing the
 * delay, so a client cannot hammer a server that keeps refusing it.
 */
const STABLE_AFTER_MS = 10_000;

/**
 * Close codes with which a server refuses the client itself rather than one document:
 * Hocuspocus's Unauthorized and Forbidden. Retrying cannot help.
 */
const REFUSED_CODES: ReadonlySet<number> = new Set([CloseCode.Unauthorized, CloseCode.Forbidden]);

/** How long destroy() waits for the server to answer the close handshake. */
const CLOSE_WAIT_MS = 2_000;

/**
 * The shared socket's life: connect, notice a loss, retry with backoff, retry at once when the
 * browser is back online or the tab wakes up, give up on attempts that hang. Every timer and
 * listener is this class's own, so destroy() leaves nothing running.
 *
 * With several URLs (instances of one cluster), a lost or failed socket moves to the next URL
 * at once; the backoff only applies once every URL has failed in a row, so a dead instance
 * costs its clients one attempt, not a backoff wait.
 */
export class Connection extends Emitter<ConnectionEvents> {
  readonly socket: TandemSocket;
  private readonly backoff: Backoff;
  private readonly stopWatchingBrowser: () => void;
  private wanted = false;
  private destroyed: Promise<void> | null = null;
  private failures = 0;
  private openedAt: number | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private current: ConnectionState = "idle";
  private urlIndex = 0;
  /** URLs that failed since a socket last opened; a full round of them means back off. */
  private failedInRound = 0;

  constructor(
    private readonly urls: readonly string[],
    WebSocketImpl: WebSocketConstructor,
    private readonly options: Required<ReconnectOptions>,
  ) {
    super();
    this.backoff = new Backoff(options);
    this.socket = new TandemSocket(urls[0] as string, WebSocketImpl, options.silenceTimeoutMs);
    this.socket.on("status", this.onStatus);
    this.socket.on("disconnect", this.onDisconnect);
    this.stopWatchingBrowser = watchBrowser({
      online: () => {
        this.update();
        this.retryNow();
      },
      offline: () => this.update(),
      visible: () => this.onVisible(),
    });
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The URL the socket uses (or will use for its next attempt). */
  get url(): string {
    return this.socket.configuration.url;
  }

  /** Connects (if not already) and keeps reconnecting until stop() or destroy(). */
  start(): void {
    if (this.destroyed) return;
    this.wanted = true;
    if (this.isDisconnected && this.retryTimer === null) this.attempt();
    this.update();
  }

  /** Skips the wait: connects now if disconnected, with the backoff started over. */
  retryNow(): void {
    if (this.destroyed || !this.wanted) return;
    this.backoff.reset();
    if (this.isDisconnected) this.attempt();
  }

  /** Stops retrying and closes the socket, until the next start(). */
  stop(): void {
    if (this.destroyed) return;
    this.wanted = false;
    this.clearTimers();
    this.socket.disconnect();
    this.update();
  }

  /** Closes the socket and removes every timer and listener; resolves once the socket closed. */
  destroy(): Promise<void> {
    if (this.destroyed) return this.destroyed;
    this.wanted = false;
    this.clearTimers();
    this.stopWatchingBrowser();
    const closed = waitForClose(this.socket.webSocket);
    this.socket.destroy();
    this.current = "idle";
    this.removeAllListeners();
    this.destroyed = closed;
    return closed;
  }

  private get isDisconnected(): boolean {
    return this.socket.status === WebSocketStatus.Disconnected;
  }

  private attempt(): void {
    this.clearRetryTimer();
    // connect() resolves or reports through events; it never rejects (Hocuspocus catches).
    void this.socket.connect();
  }

  private onStatus = ({ status }: onStatusParameters): void => {
    if (status === WebSocketStatus.Connecting) {
      // Also covers attempts Hocuspocus starts itself (attaching a document while disconnected).
      this.clearRetryTimer();
      this.clearConnectTimer();
      this.connectTimer = setTimeout(() => {
        this.connectTimer = null;
        this.socket.forceClose("connection attempt timed out");
      }, this.options.connectTimeoutMs);
    } else if (status === WebSocketStatus.Connected) {
      this.clearConnectTimer();
      if (this.openedAt === null) {
        this.openedAt = Date.now();
        this.failures = 0;
        this.failedInRound = 0;
      }
    }
    this.update();
  };

  private onDisconnect = ({ event }: onDisconnectParameters): void => {
    this.clearConnectTimer();
    const wasOpen = this.openedAt !== null;
    if (wasOpen && Date.now() - (this.openedAt as number) >= STABLE_AFTER_MS) this.backoff.reset();
    if (!wasOpen) this.failures++;
    this.openedAt = null;
    const code = typeof event?.code === "number" ? event.code : 1006;
    const refused = REFUSED_CODES.has(code);
    if (refused) this.wanted = false;
    if (this.wanted && !this.destroyed) {
      this.clearRetryTimer();
      const delay = this.nextUrl() ? 0 : this.backoff.next();
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        if (this.wanted && this.isDisconnected) this.attempt();
      }, delay);
    }
    this.update();
    this.emit("closed", { code, reason: String(event?.reason ?? ""), wasOpen, refused });
  };

  /**
   * Moves the next attempt to the next URL. True when that URL has not failed in this round,
   * so it is worth trying at once; false once every URL has failed in a row (back off).
   */
  private nextUrl(): boolean {
    if (this.urls.length < 2) return false;
    this.failedInRound++;
    this.urlIndex = (this.urlIndex + 1) % this.urls.length;
    this.socket.configuration.url = this.urls[this.urlIndex] as string;
    if (this.failedInRound < this.urls.length) return true;
    this.failedInRound = 0;
    return false;
  }

  /**
   * After sleep a socket can look open while its TCP connection is long dead; Hocuspocus would
   * notice within seconds, but the user is looking at the tab now.
   */
  private onVisible(): void {
    if (this.destroyed || !this.wanted) return;
    if (this.socket.status === WebSocketStatus.Connected) {
      const last = this.socket.lastMessageReceived;
      const silentFor = Date.now() - last;
      if (last === 0 || silentFor <= this.socket.configuration.messageReconnectTimeout) return;
      this.socket.forceClose("no message since the tab was hidden");
    }
    this.retryNow();
  }

  private update(): void {
    if (this.destroyed) return;
    let next: ConnectionState;
    if (!this.wanted && this.isDisconnected) next = "idle";
    else if (this.socket.status === WebSocketStatus.Connected) next = "connected";
    else if (browserIsOffline() || this.failures >= OFFLINE_AFTER_FAILED_ATTEMPTS) next = "offline";
    else next = "connecting";
    if (next === this.current) return;
    this.current = next;
    this.emit("state", next);
  }

  private clearRetryTimer(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private clearConnectTimer(): void {
    if (this.connectTimer !== null) clearTimeout(this.connectTimer);
    this.connectTimer = null;
  }

  private clearTimers(): void {
    this.clearRetryTimer();
    this.clearConnectTimer();
  }
}

/**
 * Resolves once a socket has closed, or after CLOSE_WAIT_MS, when it is torn down (`ws` in
 * Node.js: an unanswered close handshake would otherwise keep the process alive for 30 s).
 */
function waitForClose(socket: WebSocket | null): Promise<void> {
  if (!socket || socket.readyState === 3 /* CLOSED */) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.removeEventListener("close", done);
      resolve();
    };
    const timer = setTimeout(() => {
      (socket as WebSocket & { terminate?: () => void }).terminate?.();
      done();
    }, CLOSE_WAIT_MS);
    socket.addEventListener("close", done);
  });
}
