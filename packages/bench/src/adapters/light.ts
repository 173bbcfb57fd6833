import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import WebSocket from "ws";
import type { Protocol } from "./types.ts";

// Wire constants shared by both protocols (y-protocols/sync inside message type 0) and the
// Hocuspocus-only ones (MessageType in @hocuspocus/common).
const SYNC = 0;
const AUTH = 2;
const AUTH_TOKEN = 0;
const SYNC_STATUS = 8;
const PING = 9;
const PONG = 10;
const SYNC_STEP1 = 0;
const SYNC_STEP2 = 1;
const SYNC_UPDATE = 2;
/** The provider version a light client announces, as @hocuspocus/provider 4.7 does. */
const PROVIDER_VERSION = "4.7.0";
const EMPTY_UPDATE = new Uint8Array([0, 0]);
const EMPTY_STATE_VECTOR = new Uint8Array([0]);

/** The server closed the socket before the first sync. */
export class ClosedEarly extends Error {
  constructor(readonly code: number) {
    super(`closed with ${code} before the first sync`);
  }
}

export interface LightHandlers {
  /** The server's SyncStep2: the whole document after the first request, a diff after others. */
  onStep2?(update: Uint8Array, at: number): void;
  /** An update the server relays from another client. */
  onUpdate?(update: Uint8Array, at: number): void;
  /** Hocuspocus protocol: the server acknowledged the update this client sent as `index`. */
  onAck?(index: number, at: number): void;
}

export interface LightOptions extends LightHandlers {
  /** The first sync fails after this long. */
  timeoutMs?: number;
  /**
   * After this long without sending anything, send an empty update (0: never). A Hocuspocus
   * server closes a socket that sent nothing for its timeout (60 s); providers keep theirs open
   * with awareness renewals every 15 s, which a light client has none of.
   */
  keepAliveMs?: number;
  /** What the client already has, as a state vector: the server's first answer is the rest. */
  stateVector?: Uint8Array;
  /**
   * What the client has and the server lacks (a reconnecting client's offline edits), sent as
   * its answer to the server's first SyncStep1, as a provider does. Default: nothing.
   */
  offline?: Uint8Array;
}

const KEEP_ALIVE_MS = 15_000;

/**
 * One bare WebSocket on one document that speaks the sync protocol and holds no Y.Doc: it asks
 * for the document (an empty state vector), tells the server it has nothing, then sends
 * pre-encoded updates and hands what it receives to its handlers unparsed. A full provider
 * applies every byte it receives to a Y.Doc; hundreds of those on a 4 MB document would measure
 * the load generator, not the server. Its updates come from a tiny Y.Doc of its own (see
 * scenarios/edits.ts), whose edits need no part of the shared document.
 */
export class LightClient {
  /** performance.now() when the first SyncStep2 (the whole document) arrived. */
  syncedAt: number | null = null;
  readonly openedAt = performance.now();
  /** Updates sent, and how many the server acknowledged (Hocuspocus protocol only). */
  sent = 0;
  acked = 0;
  /** Times openLight() had to open the socket again before this one synced. */
  reopened = 0;
  /** Bytes of every message received, the first sync included. */
  receivedBytes = 0;
  /** Settles with the close code and reason once the socket has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves at the first SyncStep2; rejects if the socket fails or closes before it. */
  readonly ready: Promise<void>;
  private readonly ws: WebSocket;
  private readonly prefix: Uint8Array;
  /** What each expected SyncStatus acknowledges: an update's index, or -1 for a SyncStep2. */
  private readonly awaitingAck: number[] = [];
  private ackHead = 0;
  /** Callers of roundTrip() waiting for the next SyncStep2. */
  private readonly step2Waiters: ((at: number) => void)[] = [];
  /** Callers of allAcked() waiting, each until `acked` reaches its count. */
  private ackWaiters: { count: number; resolve: () => void }[] = [];
  private closedError: Error | null = null;
  private lastSentAt = performance.now();
  private paused = false;
  private keepAlive: NodeJS.Timeout | null = null;
  private offlineSent = false;

  constructor(
    readonly protocol: Protocol,
    url: string,
    readonly docName: string,
    private readonly options: LightOptions = {},
  ) {
    const hocuspocus = protocol === "hocuspocus";
    const e = encoding.createEncoder();
    if (hocuspocus) encoding.writeVarString(e, docName);
    this.prefix = encoding.toUint8Array(e);
    this.ws = new WebSocket(hocuspocus ? url : `${url.replace(/\/+$/, "")}/${docName}`);
    this.ws.binaryType = "nodebuffer";
    this.closed = new Promise((resolve) => {
      this.ws.on("close", (code, reason) => {
        if (this.keepAlive) clearInterval(this.keepAlive);
        this.closedError = new Error(`${docName}: the socket closed (${code})`);
        this.failWaiters();
        resolve({ code, reason: reason.toString() });
      });
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? 30_000;
      const timer = setTimeout(() => {
        this.ws.terminate();
        reject(new Error(`light client for ${docName} did not sync within ${timeoutMs} ms`));
      }, timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      this.ws.on("error", fail);
      this.ws.on("close", (code) => fail(new ClosedEarly(code)));
      this.ws.on("open", () => {
        if (hocuspocus) {
          this.write((e) => {
            encoding.writeVarUint(e, AUTH);
            encoding.writeVarUint(e, AUTH_TOKEN);
            encoding.writeVarString(e, "");
            encoding.writeVarString(e, PROVIDER_VERSION);
          });
        }
        this.requestSync(options.stateVector ?? EMPTY_STATE_VECTOR);
      });
      this.ws.on("message", (data: Buffer) => {
        const at = performance.now();
        this.receivedBytes += data.length;
        if (this.handle(data, at) && this.syncedAt === null) {
          this.syncedAt = at;
          clearTimeout(timer);
          this.startKeepAlive(options.keepAliveMs ?? KEEP_ALIVE_MS);
          resolve();
        }
      });
    });
    // A caller that never awaits `ready` must not see an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** Sends one Yjs update; returns its index (what onAck reports). */
  send(update: Uint8Array): number {
    const index = this.sent++;
    if (this.protocol === "hocuspocus") this.awaitingAck.push(index);
    this.sync(SYNC_UPDATE, update);
    return index;
  }

  /** SyncStep1: the server answers with what the state vector lacks (onStep2). */
  requestSync(stateVector: Uint8Array): void {
    this.sync(SYNC_STEP1, stateVector);
  }

  /**
   * Asks for the document again (an empty state vector) and resolves with the ms until the
   * answer arrived. The server handles a socket's messages in order, so once it answers, every
   * update sent before has been applied: a receipt for protocols without acknowledgements.
   */
  roundTrip(): Promise<number> {
    if (this.closedError) return Promise.reject(this.closedError);
    const sentAt = performance.now();
    return new Promise((resolve, reject) => {
      this.step2Waiters.push((at) => (at < 0 ? reject(this.closedError) : resolve(at - sentAt)));
      this.requestSync(EMPTY_STATE_VECTOR);
    });
  }

  /** Resolves once every update sent so far is acknowledged (Hocuspocus protocol only). */
  allAcked(): Promise<void> {
    if (this.protocol !== "hocuspocus") {
      return Promise.reject(new Error("the y-websocket protocol acknowledges nothing"));
    }
    if (this.acked >= this.sent) return Promise.resolve();
    if (this.closedError) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      this.ackWaiters.push({
        count: this.sent,
        resolve: () => (this.acked >= this.sent ? resolve() : reject(this.closedError)),
      });
    });
  }

  /**
   * Resolves once the server has applied every update sent so far: acknowledged (Hocuspocus
   * protocol; Tandem acknowledges once durable) or, without acknowledgements, a round trip.
   */
  async settled(): Promise<void> {
    if (this.protocol === "hocuspocus") await this.allAcked();
    else await this.roundTrip();
  }

  private failWaiters(): void {
    for (const wake of this.step2Waiters.splice(0)) wake(-1);
    for (const waiter of this.ackWaiters.splice(0)) waiter.resolve();
  }

  /** Bytes ws has queued for this socket and not yet handed to the operating system. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Stops reading the socket at the TCP level, and sending, as a client that hangs would. */
  pause(): void {
    this.paused = true;
    this.ws.pause();
  }

  resume(): void {
    this.paused = false;
    this.ws.resume();
  }

  private startKeepAlive(everyMs: number): void {
    if (everyMs <= 0) return;
    this.keepAlive = setInterval(() => {
      if (this.paused || performance.now() - this.lastSentAt < everyMs) return;
      // An empty update changes nothing, so nobody else hears of it; the Hocuspocus protocol
      // acknowledges it, which is not one of this client's updates.
      if (this.protocol === "hocuspocus") this.awaitingAck.push(-1);
      this.sync(SYNC_UPDATE, EMPTY_UPDATE);
    }, everyMs / 3);
    this.keepAlive.unref();
  }

  /** Closes the socket at once (no close handshake). */
  close(): void {
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.ws.terminate();
  }

  private sync(step: number, payload: Uint8Array): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    this.write((e) => {
      encoding.writeVarUint(e, SYNC);
      encoding.writeVarUint(e, step);
      encoding.writeVarUint8Array(e, payload);
    });
  }

  private write(body: (e: encoding.Encoder) => void): void {
    this.lastSentAt = performance.now();
    const e = encoding.createEncoder();
    encoding.writeUint8Array(e, this.prefix);
    body(e);
    this.ws.send(encoding.toUint8Array(e));
  }

  /** Handles one message; true when it was a SyncStep2. */
  private handle(data: Buffer, at: number): boolean {
    if (data.length === 1 && data[0] === PING) {
      this.ws.send(new Uint8Array([PONG]));
      return false;
    }
    const d = decoding.createDecoder(new Uint8Array(data.buffer, data.byteOffset, data.length));
    if (this.protocol === "hocuspocus") decoding.readVarString(d);
    const type = decoding.readVarUint(d);
    if (type === SYNC_STATUS) {
      const index = this.awaitingAck[this.ackHead++];
      if (this.ackHead > 1024) {
        this.awaitingAck.splice(0, this.ackHead);
        this.ackHead = 0;
      }
      if (index !== undefined && index >= 0) {
        this.acked++;
        this.options.onAck?.(index, at);
        if (this.ackWaiters.length > 0) {
          const done = this.ackWaiters.filter((w) => this.acked >= w.count);
          this.ackWaiters = this.ackWaiters.filter((w) => this.acked < w.count);
          for (const waiter of done) waiter.resolve();
        }
      }
      return false;
    }
    if (type !== SYNC) return false;
    const step = decoding.readVarUint(d);
    if (step === SYNC_STEP1) {
      // The server's state vector: the first is answered with what this client brought
      // (options.offline), later ones with nothing (its own edits are sent as updates once
      // synced), as a provider would answer.
      if (this.protocol === "hocuspocus") this.awaitingAck.push(-1);
      this.sync(
        SYNC_STEP2,
        this.offlineSent ? EMPTY_UPDATE : (this.options.offline ?? EMPTY_UPDATE),
      );
      this.offlineSent = true;
      return false;
    }
    const payload = decoding.readVarUint8Array(d);
    if (step === SYNC_STEP2) {
      this.options.onStep2?.(payload, at);
      // The first SyncStep2 answers the connection's own request, not a roundTrip().
      if (this.syncedAt !== null) this.step2Waiters.shift()?.(at);
      return true;
    }
    if (step === SYNC_UPDATE) this.options.onUpdate?.(payload, at);
    return false;
  }
}

/** Attempts openLight() makes, as a provider reconnects when a socket closes before its sync. */
const ATTEMPTS = 3;

/**
 * Opens a light client and resolves once it has the document (its first SyncStep2). A socket
 * the server closes before that (a busy server's authentication timeout, 4408) is opened again,
 * as a provider would; `reopened` counts those, since it belongs in the figures.
 */
export async function openLight(
  protocol: Protocol,
  url: string,
  docName: string,
  options: LightOptions = {},
): Promise<LightClient> {
  for (let attempt = 1; ; attempt++) {
    const client = new LightClient(protocol, url, docName, options);
    try {
      await client.ready;
      client.reopened = attempt - 1;
      return client;
    } catch (error) {
      client.close();
      if (attempt >= ATTEMPTS || !(error instanceof ClosedEarly)) throw error;
    }
  }
}
