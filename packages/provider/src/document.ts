import {
  HocuspocusProvider,
  type onAuthenticationFailedParameters,
  type onMessageParameters,
  WebSocketStatus,
} from "@hocuspocus/provider";
import { CloseCode } from "@tandem/protocol";
import { Awareness } from "y-protocols/awareness";
import * as Y from "yjs";
import { AckTracker } from "./acks.ts";
import { Backoff } from "./backoff.ts";
import type { Connection, SocketClosed } from "./connection.ts";
import { describeError, TandemError } from "./errors.ts";
import { Emitter } from "./events.ts";
import { type OfflineCache, openCache } from "./offline.ts";
import {
  type PresenceOptions,
  type ReconnectOptions,
  resolveUser,
  type User,
  type UserInput,
} from "./options.ts";
import { type Peer, Presence } from "./presence.ts";
import { TokenPacer, type TokenSource } from "./token.ts";

/**
 * - `connecting`: on the way to the server (or back to it), or waiting for it to accept the token;
 * - `connected`: the server accepted this document; edits flow both ways;
 * - `offline`: the server is out of reach (edits stay local, and cached where there is a cache);
 * - `unauthorized`: the server refused the token; nothing is retried until `client.reconnect()`.
 */
export type DocumentStatus = "connecting" | "connected" | "offline" | "unauthorized";

export interface DocumentEvents {
  status: DocumentStatus;
  /** True once the document holds the server's state; false while disconnected. */
  synced: boolean;
  /** True once the server has every local change on disk; false while some are not. */
  stored: boolean;
  peers: Peer[];
  error: TandemError;
}

/** What a document needs from the client that opened it. */
export interface DocumentContext {
  connection: Connection;
  tokens: TokenSource;
  presence: Required<PresenceOptions>;
  reconnect: Required<ReconnectOptions>;
  /** The IndexedDB database of this document, or null without an offline cache. */
  cache: string | null;
  /** Called when the server refuses this document, so the client can stop an unneeded socket. */
  onUnauthorized(document: TandemDocument): void;
  onClosed(document: TandemDocument): void;
}

/**
 * Token calls of one document on one socket: at least 1 s apart once the server asks again sooner
 * than that, doubling up to 20 s while it keeps doing so (below the server's default token grace,
 * so a real refresh is never held up past it).
 */
const TOKEN_PACING = { minDelayMs: 1_000, factor: 2, maxDelayMs: 20_000 };

type Waiter = { resolve: () => void; reject: (error: Error) => void };

/** Close codes meaning the server failed, or refused what this client sent (@tandem/protocol). */
const SERVER_FAILURE_CODES: ReadonlySet<number> = new Set([CloseCode.InternalError]);
const REJECTED_CODES: ReadonlySet<number> = new Set([
  CloseCode.UnsupportedData,
  CloseCode.InvalidFrame,
  CloseCode.MessageTooBig,
]);

/**
 * One open document: its Y.Doc, its presence, and where it stands with the server. Built on a
 * HocuspocusProvider attached to the client's shared socket.
 *
 * `stored` is true exactly when every local change made so far has been acknowledged: the
 * Tandem server acknowledges an update only once it is on disk. It is tracked message by
 * message here (acks.ts) rather than read from the provider's unsyncedChanges counter, which
 * can reach 0 while the sync carrying the changes made offline is still unacknowledged.
 */
export class TandemDocument extends Emitter<DocumentEvents> {
  readonly name: string;
  readonly doc: Y.Doc;
  readonly awareness: Awareness;

  private readonly provider: HocuspocusProvider;
  private readonly presence: Presence;
  private readonly cache: OfflineCache | null;
  /** Spaces out token retries and re-subscriptions of this document. */
  private readonly backoff: Backoff;
  private currentStatus: DocumentStatus = "connecting";
  private isSynced = false;
  private isStored = true;
  /** Which local changes the server has acknowledged. */
  private readonly acks = new AckTracker();
  private readonly unwatchSent: () => void;
  private unauthorized = false;
  /** Hocuspocus reports a failed token call as a refusal; the next refusal is that one. */
  private tokenCallFailed = false;
  private tokenRetryTimer: ReturnType<typeof setTimeout> | null = null;
  /** Spaces out this document's token calls when the server asks for tokens too often. */
  private readonly tokenPacer: TokenPacer;
  /** The socket of the last token call: the first call on a new socket is never paced. */
  private tokenSocket: unknown = null;
  private readonly tokenPauses = new Set<{
    timer: ReturnType<typeof setTimeout>;
    resolve: () => void;
  }>();
  private resubscribeTimer: ReturnType<typeof setTimeout> | null = null;
  private peersKey = "[]";
  private readonly waiters = { synced: new Set<Waiter>(), stored: new Set<Waiter>() };
  private closing: Promise<void> | null = null;

  /** @internal Created by client.open(). */
  constructor(
    name: string,
    user: User | null,
    private readonly context: DocumentContext,
  ) {
    super();
    this.name = name;
    this.doc = new Y.Doc();
    this.awareness = new Awareness(this.doc);
    this.presence = new Presence(this.awareness, context.presence);
    this.backoff = new Backoff(context.reconnect);
    this.tokenPacer = new TokenPacer(TOKEN_PACING);
    // Before the provider's own listener, which sends the change: the message that carries a
    // change must count it.
    this.doc.on("update", this.onDocUpdate);
    this.provider = new HocuspocusProvider({
      websocketProvider: context.connection.socket,
      name,
      document: this.doc,
      awareness: this.awareness,
      token: this.fetchToken,
      // Each provider gets its own address on the socket, so a late message for a closed
      // handle can never reach a new handle of the same document.
      sessionAwareness: true,
    });
    this.provider.on("synced", this.update);
    this.provider.on("authenticated", this.onAuthenticated);
    this.provider.on("authenticationFailed", this.onAuthenticationFailed);
    this.provider.on("message", this.onMessage);
    // What the socket really sends: the provider's own event misses the sync answers, and the
    // socket drops what it is handed while not open (socket.ts).
    this.unwatchSent = context.connection.socket.watchSent(this.provider.effectiveName, (m) =>
      this.acks.sent(m),
    );
    this.provider.on("close", this.onProviderClose);
    this.awareness.on("change", this.refreshPeers);
    context.connection.on("state", this.update);
    context.connection.on("closed", this.onSocketClosed);

    if (user) this.presence.setUser(user);
    this.cache = context.cache
      ? openCache(context.cache, this.doc, (error) =>
          this.reportError(
            new TandemError(
              "offline-cache",
              `the offline cache of "${name}" is unavailable: ${describeError(error)}`,
              { cause: error },
            ),
          ),
        )
      : null;
    this.update();
    this.provider.attach();
  }

  get status(): DocumentStatus {
    return this.currentStatus;
  }

  /** The document holds the server's state (the sync exchange on this connection is done). */
  get synced(): boolean {
    return this.isSynced;
  }

  /** Every local change has been acknowledged by the server, which means it is on its disk. */
  get stored(): boolean {
    return this.isStored;
  }

  /** The server accepted the token for reading only: local changes will not be stored. */
  get readOnly(): boolean {
    return this.provider.authorizedScope === "readonly";
  }

  get user(): User | null {
    return this.presence.localUser;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Resolves once the document holds the server's state. Rejects if the document is closed. */
  whenSynced(): Promise<void> {
    return this.waitFor("synced");
  }

  /** Resolves once every local change so far is on the server's disk. Rejects if closed first. */
  whenStored(): Promise<void> {
    return this.waitFor("stored");
  }

  /** Resolves once the offline cache has been read into the document (at once without a cache). */
  whenLoaded(): Promise<void> {
    return this.cache?.loaded ?? Promise.resolve();
  }

  /** The other users in this document, one entry per user (not per tab), sorted by name. */
  peers(): Peer[] {
    return this.presence.peers();
  }

  setUser(user: UserInput): void {
    this.presence.setUser(resolveUser(user));
    // The local user's id decides who is "other", so the list may change.
    this.refreshPeers();
  }

  /** Publishes the local cursor (any JSON value, or null), throttled. */
  setCursor(cursor: unknown): void {
    this.presence.setCursor(cursor);
  }

  /** Call with true on every keystroke; it turns itself off after the typing timeout. */
  setTyping(typing: boolean): void {
    this.presence.setTyping(typing);
  }

  /**
   * Leaves the document: the server is told, peers see this user leave, timers stop. The Y.Doc
   * stays readable. Changes the server has not acknowledged are lost unless there is an offline
   * cache (they are sent on the next open); `await doc.whenStored()` first to be sure.
   */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.clearTimers();
    this.presence.dispose();
    this.context.connection.off("state", this.update);
    this.context.connection.off("closed", this.onSocketClosed);
    this.doc.off("update", this.onDocUpdate);
    this.unwatchSent();
    this.awareness.off("change", this.refreshPeers);
    // Sends the removal of our awareness state and a close message, then destroys the awareness.
    this.provider.destroy();
    const error = new TandemError("closed", `document "${this.name}" was closed`);
    for (const waiter of [...this.waiters.synced, ...this.waiters.stored]) waiter.reject(error);
    this.waiters.synced.clear();
    this.waiters.stored.clear();
    this.removeAllListeners();
    this.closing = this.cache ? this.cache.destroy() : Promise.resolve();
    this.context.onClosed(this);
    return this.closing;
  }

  /** @internal The server refused this document: stop sending, and stop retrying. */
  markUnauthorized(reason: string): void {
    if (this.closing || this.unauthorized) return;
    this.unauthorized = true;
    this.clearTimers();
    this.context.connection.socket.release(this.provider);
    this.update();
    this.reportError(
      new TandemError("unauthorized", `the server refused access to "${this.name}": ${reason}`),
    );
    this.context.onUnauthorized(this);
  }

  /** @internal client.reconnect(): try again with a fresh token. */
  resume(): void {
    if (this.closing || !this.unauthorized) return;
    this.unauthorized = false;
    this.backoff.reset();
    this.provider.attach();
    this.update();
  }

  /** @internal */
  get isUnauthorized(): boolean {
    return this.unauthorized;
  }

  private fetchToken = async (): Promise<string> => {
    await this.pauseBeforeToken();
    if (this.closing) throw new TandemError("closed", `document "${this.name}" was closed`);
    try {
      return await this.context.tokens.get();
    } catch (error) {
      this.tokenCallFailed = true;
      this.reportError(
        error instanceof TandemError
          ? error
          : new TandemError("token", describeError(error), { cause: error }),
      );
      this.scheduleTokenRetry();
      throw error;
    }
  };

  /** Waits as long as the pacer says; close() ends the wait early. */
  private pauseBeforeToken(): Promise<void> {
    // Reconnecting is paced by the connection's backoff: a new socket's token goes out at once.
    const socket = this.context.connection.socket.webSocket;
    if (socket !== this.tokenSocket) this.tokenPacer.reset();
    this.tokenSocket = socket;
    const wait = this.tokenPacer.next();
    if (wait <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const pause = {
        timer: setTimeout(() => {
          this.tokenPauses.delete(pause);
          resolve();
        }, wait),
        resolve,
      };
      this.tokenPauses.add(pause);
    });
  }

  /**
   * A token call that failed is retried on this connection, with backoff: a token endpoint
   * that is briefly down must not end the session. The provider has already sent its sync
   * request, which the server keeps until the token arrives.
   */
  private scheduleTokenRetry(): void {
    if (this.tokenRetryTimer !== null || this.closing) return;
    this.tokenRetryTimer = setTimeout(() => {
      this.tokenRetryTimer = null;
      const connected = this.context.connection.socket.status === WebSocketStatus.Connected;
      if (connected && !this.unauthorized && this.provider.isAttached) {
        void this.provider.sendToken();
      }
    }, this.backoff.next());
  }

  private onAuthenticated = (): void => {
    this.backoff.reset();
    this.presence.republish();
    this.update();
  };

  private onAuthenticationFailed = ({ reason }: onAuthenticationFailedParameters): void => {
    if (this.tokenCallFailed) {
      this.tokenCallFailed = false;
      return;
    }
    this.markUnauthorized(reason);
  };

  private onMessage = ({ message }: onMessageParameters): void => {
    if (this.acks.received(new Uint8Array(message.data as ArrayBufferLike))) this.update();
  };

  private onDocUpdate = (_update: Uint8Array, origin: unknown): void => {
    // Updates applied by the provider came from the server; everything else (the app, the
    // offline cache) is a local change the server may not have.
    if (origin === this.provider) return;
    this.acks.changed();
    this.update();
  };

  /**
   * The provider closed. When the socket closed, the connection handles it; when the socket is
   * still open, the server closed this document alone (for instance a token refresh it
   * refused): subscribe again, which sends a fresh token.
   */
  private onProviderClose = (): void => {
    this.acks.lost();
    if (this.closing || this.unauthorized) return;
    if (this.context.connection.socket.status !== WebSocketStatus.Connected) return;
    if (this.resubscribeTimer !== null) return;
    this.context.connection.socket.release(this.provider);
    this.update();
    this.resubscribeTimer = setTimeout(() => {
      this.resubscribeTimer = null;
      if (this.closing || this.unauthorized) return;
      this.provider.attach();
      this.update();
    }, this.backoff.next());
  };

  private onSocketClosed = ({ code, reason, refused }: SocketClosed): void => {
    this.acks.lost();
    // Hocuspocus does not tell providers about sockets it closes itself (timeouts); make sure
    // this one forgets the server's awareness states and its synced flag either way.
    this.provider.onClose();
    if (this.tokenRetryTimer !== null) clearTimeout(this.tokenRetryTimer);
    this.tokenRetryTimer = null;
    if (this.resubscribeTimer !== null) {
      // The next connection subscribes anew anyway.
      clearTimeout(this.resubscribeTimer);
      this.resubscribeTimer = null;
      if (!this.unauthorized) this.provider.attach();
    }
    const detail = `code ${code}${reason ? `: ${reason}` : ""}`;
    if (SERVER_FAILURE_CODES.has(code)) {
      this.reportError(
        new TandemError("server", `the server failed and closed the connection (${detail})`),
      );
    } else if (REJECTED_CODES.has(code)) {
      this.reportError(
        new TandemError("rejected", `the server rejected what this client sent (${detail})`),
      );
    } else if (refused) {
      this.markUnauthorized(reason || `connection refused with code ${code}`);
    }
    this.update();
  };

  /** Recomputes status, synced and stored, then tells listeners what changed. */
  private update = (): void => {
    if (this.closing) return;
    const connection = this.context.connection.state;
    let status: DocumentStatus;
    if (this.unauthorized) status = "unauthorized";
    else if (connection === "offline") status = "offline";
    else if (connection === "connected" && this.provider.isAuthenticated) status = "connected";
    else status = "connecting";
    const synced = status === "connected" && this.provider.isSynced;
    const stored = this.acks.stored;

    const changed = {
      status: status !== this.currentStatus,
      synced: synced !== this.isSynced,
      stored: stored !== this.isStored,
    };
    this.currentStatus = status;
    this.isSynced = synced;
    this.isStored = stored;
    if (changed.status) this.emit("status", status);
    if (changed.synced) {
      if (synced) this.settle("synced");
      this.emit("synced", synced);
    }
    if (changed.stored) {
      if (stored) this.settle("stored");
      this.emit("stored", stored);
    }
  };

  private refreshPeers = (): void => {
    if (this.closing) return;
    const peers = this.presence.peers();
    const key = JSON.stringify(peers);
    if (key === this.peersKey) return;
    this.peersKey = key;
    this.emit("peers", peers);
  };

  private waitFor(what: "synced" | "stored"): Promise<void> {
    if (this.closing) {
      return Promise.reject(new TandemError("closed", `document "${this.name}" was closed`));
    }
    if (what === "synced" ? this.isSynced : this.isStored) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters[what].add({ resolve, reject }));
  }

  private settle(what: "synced" | "stored"): void {
    for (const waiter of this.waiters[what]) waiter.resolve();
    this.waiters[what].clear();
  }

  private reportError(error: TandemError): void {
    if (this.listenerCount("error") > 0) this.emit("error", error);
    else console.warn(`[tandem] ${this.name}: ${error.message}`);
  }

  private clearTimers(): void {
    for (const pause of this.tokenPauses) {
      clearTimeout(pause.timer);
      pause.resolve();
    }
    this.tokenPauses.clear();
    if (this.tokenRetryTimer !== null) clearTimeout(this.tokenRetryTimer);
    if (this.resubscribeTimer !== null) clearTimeout(this.resubscribeTimer);
    this.tokenRetryTimer = null;
    this.resubscribeTimer = null;
  }
}
