import {
  type HocuspocusProvider,
  HocuspocusProviderWebsocket,
  MessageType,
  type onCloseParameters,
  WebSocketStatus,
} from "@hocuspocus/provider";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import type { WebSocketConstructor } from "./options.ts";

/** WebSocket.OPEN in the browser API (the constant is not on every polyfill's prototype). */
const OPEN = 1;

/**
 * A link quiet for this share of the silence timeout is probed: with the default 30 s, after
 * 18 s, so a client whose presence echo comes every 15–18 s never needs a probe, and a probe
 * has 12 s to be answered.
 */
const PROBE_AFTER = 0.6;

/**
 * The one WebSocket a client shares between all its documents: Hocuspocus's socket with the
 * retry logic taken out, so that Tandem's Connection (connection.ts) owns every timer:
 * - Hocuspocus retries through its own timers (a setTimeout after each close, the retry
 *   library's sleeps between attempts) that nothing can cancel, so a Node.js process would
 *   stay alive after close(). Here each connect() is a single attempt and onClose schedules
 *   nothing.
 * - Messages sent while the socket is not open are dropped instead of queued: when the socket
 *   opens, every document runs the Yjs sync exchange, which sends whatever the server lacks.
 *   Replaying a queue on top of it would send those updates twice, and each would count as an
 *   unacknowledged change (see `stored` in document.ts).
 * - A dead link is noticed: Hocuspocus closes a socket on which nothing arrived for
 *   `silenceTimeoutMs` (messageReconnectTimeout), and Connection reconnects. What keeps a
 *   healthy link from looking dead is the echo of the client's own presence, every 15 s, which a
 *   read-only viewer (whose presence the server does not relay) and a silence timeout under
 *   15 s do not get; so a link quiet for most of the timeout is probed with a query for the
 *   presence states of one of its documents, which Tandem answers (stock Hocuspocus 4.7 does
 *   not; against it the presence echo alone keeps a link under the default 30 s).
 */
export class TandemSocket extends HocuspocusProviderWebsocket {
  private destroyed = false;
  private lastProbe = 0;
  private readonly sentWatchers = new Map<string, (message: Uint8Array) => void>();

  constructor(url: string, WebSocketImpl: WebSocketConstructor, silenceTimeoutMs: number) {
    super({
      url,
      WebSocketPolyfill: withErrorListener(WebSocketImpl),
      messageReconnectTimeout: silenceTimeoutMs,
      autoConnect: false,
      // One attempt per connect(): no retry-library timers (see above).
      maxAttempts: 1,
      delay: 0,
      initialDelay: 0,
      minDelay: 0,
      jitter: false,
      timeout: 0,
    });
  }

  override connect(): Promise<unknown> {
    // A timer of Hocuspocus's that fires after destroy() must not open a new socket.
    if (this.destroyed) return Promise.resolve();
    return super.connect();
  }

  override onClose(params: onCloseParameters): void {
    // Hocuspocus starts its own reconnect timer here unless a retry is under way: say there is
    // one (connect() merely calls this function, and the next open clears it). Connection
    // schedules the reconnect instead.
    this.cancelWebsocketRetry ??= () => {};
    super.onClose(params);
  }

  /** Whether a message sent now goes out (send drops it otherwise). */
  get isOpen(): boolean {
    return this.webSocket?.readyState === OPEN;
  }

  /**
   * Calls `watcher` with every message this socket sends for `address` (a provider's
   * effectiveName, which starts each of its messages), until the returned function is called.
   */
  watchSent(address: string, watcher: (message: Uint8Array) => void): () => void {
    this.sentWatchers.set(address, watcher);
    return () => {
      if (this.sentWatchers.get(address) === watcher) this.sentWatchers.delete(address);
    };
  }

  override send(message: Uint8Array): void {
    if (!this.isOpen) return;
    super.send(message);
    if (this.sentWatchers.size > 0) this.sentWatchers.get(addressOf(message))?.(message);
  }

  /** Runs every silenceTimeoutMs / 10 (Hocuspocus's timer): probe a quiet link, then check it. */
  override checkConnection(): void {
    this.probeIfQuiet();
    super.checkConnection();
  }

  private probeIfQuiet(): void {
    if (this.status !== WebSocketStatus.Connected || this.lastMessageReceived === 0) return;
    const now = Date.now();
    const after = this.configuration.messageReconnectTimeout * PROBE_AFTER;
    if (now - this.lastMessageReceived < after || now - this.lastProbe < after) return;
    const name = this.configuration.providerMap.keys().next().value;
    if (name === undefined) return;
    this.lastProbe = now;
    const encoder = encoding.createEncoder();
    encoding.writeVarString(encoder, name);
    encoding.writeVarUint(encoder, MessageType.QueryAwareness);
    this.send(encoding.toUint8Array(encoder));
  }

  /**
   * Closes the socket now, even one that is half-open or still connecting. Code 4408, as
   * Hocuspocus's own timeout.
   */
  forceClose(reason: string): void {
    if (this.destroyed || !this.webSocket) return;
    this.onClose({ event: { code: 4408, reason } });
  }

  /**
   * Stops routing messages to a provider without telling the server, for a document the server
   * has already dropped (it refused the token, or closed the document). Hocuspocus's detach()
   * would send a close message, which the server would queue as the first message of a new
   * connection to the document and apply right after that connection authenticates.
   */
  release(provider: HocuspocusProvider): void {
    this.configuration.providerMap.delete(provider.effectiveName);
    provider.detach();
  }

  override destroy(): void {
    this.destroyed = true;
    super.destroy();
  }
}

/** The address (document name) every Hocuspocus message starts with. */
function addressOf(message: Uint8Array): string {
  try {
    return decoding.readVarString(decoding.createDecoder(message));
  } catch {
    return "";
  }
}

/**
 * The `ws` package throws from its EventEmitter when an "error" event has no listener, and
 * Hocuspocus removes its listeners before closing a socket, which for a socket still
 * connecting emits "error": in Node.js, closing the client at the wrong moment would crash the
 * process. A no-op listener that stays for the socket's lifetime prevents that; in browsers it
 * changes nothing.
 */
function withErrorListener(WebSocketImpl: WebSocketConstructor): WebSocketConstructor {
  // A plain function: Hocuspocus calls it with `new`, which returns the object we return.
  function WebSocketWithErrorListener(url: string): object {
    const socket = new WebSocketImpl(url) as Partial<EventTarget>;
    socket.addEventListener?.("error", () => {});
    return socket;
  }
  return WebSocketWithErrorListener as unknown as WebSocketConstructor;
}
