import type { WebSocketLike } from "@hocuspocus/server";
import type { CatchUp } from "./catch-up.ts";

/** The part of a `ws` WebSocket the buffer uses (a protocol dialect may stand in between). */
export interface RawSocket {
  readonly readyState: number;
  readonly OPEN: number;
  send(message: Uint8Array, callback: (error?: Error) => void): void;
  close(code?: number, reason?: string): void;
}

/** The TCP (or TLS) socket under a WebSocket: corking it gathers several frames into one write. */
export interface Corkable {
  cork(): void;
  uncork(): void;
}

/** When a socket that falls behind is sent a catch-up instead of every update (catch-up.ts). */
export interface Shedding {
  /** Replaceable messages are dropped once more than this many bytes are unsent... */
  above: number;
  /** ...until no more than this many are; then the catch-up is sent. */
  below: number;
  catchUp: CatchUp;
}

export interface SendBufferOptions {
  /** Unsent bytes a socket may hold besides the oldest unsent message. */
  maxBufferedBytes: number;
  /** A client that reads more slowly than the document changes gets catch-ups (see above). */
  shedding?: Shedding;
  /**
   * The socket under the WebSocket. Messages sent during one run of the microtask queue (the
   * acknowledgements of a batch that became durable, an answer and its broadcast) are then
   * written with one system call instead of one each.
   */
  transport?: Corkable;
}

/**
 * What the buffer tells its owner, called as methods of the object given (the gateway's
 * per-socket session implements them: no closures per socket).
 */
export interface SendBufferEvents {
  /** Called once, for the first send that finds the socket over the limit (it is not sent). */
  overflowed(unsentBytes: number): void;
  /** Sees every message sent; may return a function to call once it has been flushed. */
  observe?(message: Uint8Array): (() => void) | undefined;
  /** Told of the close code when the socket is closed while open (metrics, inbound window). */
  closing?(code: number): void;
  /** Told when the socket starts to fall behind, and when it was caught up (logs, metrics). */
  fellBehind?(unsentBytes: number): void;
  caughtUp?(messages: number, bytes: number): void;
}

/**
 * What Hocuspocus holds as its socket: sends go through here, so the server knows how much it
 * has queued for a client that is not reading. A message is "unsent" from ws.send until ws's
 * callback says it reached the operating system.
 *
 * Without a bound, a client that stops reading while asking for large answers makes the server
 * hold every answer in memory. With one, the first send that finds more than maxBufferedBytes
 * unsent (not counting the oldest unsent message) drops that message and reports the overflow.
 * The oldest message is left out so that one large message, such as the first sync of a large
 * document on a slow link, never counts against the edits that follow it: what a socket holds
 * is bounded by the limit plus one message.
 *
 * Before that, a client that reads, only more slowly than its documents change (a slow link, a
 * busy tab, many writers on one document), falls behind rather than out: past `shedding.above`
 * unsent bytes, the updates relayed to it and presence changes are dropped and remembered, and
 * once it has read down to `shedding.below`, one catch-up per document replaces them all
 * (catch-up.ts). What such a client costs is then bounded by `above` plus the catch-up, and it
 * stays connected. Only what cannot be replaced (answers to its own requests) counts on towards
 * the limit.
 */
export class SendBuffer implements WebSocketLike {
  private unsentBytes = 0;
  /** Sizes of the unsent messages, oldest first (a socket flushes its writes in order). */
  private readonly sizes: number[] = [];
  private head = 0;
  private overflowed = false;
  private corked = false;

  constructor(
    private readonly ws: RawSocket,
    private readonly options: SendBufferOptions,
    private readonly events: SendBufferEvents,
  ) {}

  get readyState(): number {
    return this.ws.readyState;
  }

  close(code?: number, reason?: string): void {
    if (this.ws.readyState === this.ws.OPEN) this.events.closing?.(code ?? 1005);
    this.ws.close(code, reason);
  }

  send(message: Uint8Array): void {
    if (this.overflowed || this.ws.readyState !== this.ws.OPEN) return;
    const { shedding } = this.options;
    if (shedding && (shedding.catchUp.behind || this.unsentBytes > shedding.above)) {
      const first = !shedding.catchUp.behind;
      if (shedding.catchUp.drop(message)) {
        if (first) this.events.fellBehind?.(this.unsentBytes);
        return;
      }
    }
    const oldest = this.sizes[this.head] ?? 0;
    if (this.unsentBytes - oldest > this.options.maxBufferedBytes) {
      this.overflowed = true;
      this.events.overflowed(this.unsentBytes);
      return;
    }
    const flushed = this.events.observe?.(message);
    const size = message.byteLength;
    this.unsentBytes += size;
    this.sizes.push(size);
    const { transport } = this.options;
    if (transport && !this.corked) {
      this.corked = true;
      transport.cork();
      // nextTick runs once the microtasks queued now have run, before any I/O.
      process.nextTick(uncork, this);
    }
    // The callback also runs (with an error) when the socket is destroyed first.
    this.ws.send(message, () => {
      this.unsentBytes -= size;
      this.dropOldest();
      flushed?.();
      if (shedding?.catchUp.behind && this.unsentBytes <= shedding.below) this.catchUp(shedding);
    });
  }

  private catchUp(shedding: Shedding): void {
    const frames = shedding.catchUp.frames();
    let bytes = 0;
    for (const frame of frames) {
      bytes += frame.byteLength;
      this.send(frame);
    }
    this.events.caughtUp?.(frames.length, bytes);
  }

  /** Ends the cork begun in send (process.nextTick(uncork, this): no closure per buffer). */
  uncorked(): void {
    this.corked = false;
    this.options.transport?.uncork();
  }

  private dropOldest(): void {
    this.head++;
    if (this.head === this.sizes.length) {
      this.sizes.length = 0;
      this.head = 0;
    } else if (this.head > 1024) {
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }
}

const uncork = (buffer: SendBuffer): void => buffer.uncorked();
