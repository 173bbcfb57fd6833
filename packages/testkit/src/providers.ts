import { HocuspocusProvider, HocuspocusProviderWebsocket } from "@hocuspocus/provider";
import WebSocket from "ws";
import * as Y from "yjs";
import { waitFor } from "./wait.ts";

/**
 * `ws` with a standing error listener. @hocuspocus/provider removes its listeners and then closes
 * a socket that may still be connecting; `ws` reports that as an "error" event, and an error event
 * with no listener throws. Browsers' WebSocket never throws there, so this only restores that.
 */
export class QuietWebSocket extends WebSocket {
  constructor(...args: ConstructorParameters<typeof WebSocket>) {
    super(...args);
    this.on("error", () => {});
  }
}

/** A WebSocket class that sends a fixed Origin header, as a page on that origin would. */
function withOrigin(origin: string): typeof QuietWebSocket {
  return class extends QuietWebSocket {
    constructor(address: string | URL, protocols?: string | string[]) {
      super(address, protocols, { origin });
    }
  };
}

export interface TestClient {
  provider: HocuspocusProvider;
  socket: HocuspocusProviderWebsocket;
  doc: Y.Doc;
  /** Every close event the socket saw, newest last. */
  closes: { code: number; reason: string }[];
  /** Reasons of every permission-denied the server sent. */
  denials: string[];
  /** Reasons the server gave when it closed this document's connection (the socket stays). */
  documentCloses: string[];
  /** Resolves once the first sync with the server is done. */
  synced(): Promise<void>;
  /** Resolves once the server has acknowledged every local change. */
  stored(): Promise<void>;
  /** Leaves the server, as a laptop losing its network would; edits stay local. */
  goOffline(): void;
  /** Comes back from goOffline(). */
  goOnline(): void;
  destroy(): void;
}

export interface TestClientOptions {
  doc?: Y.Doc;
  /** A token, or a function called on every connect and every token request. */
  token?: string | (() => Promise<string>);
  /** Retry delay after a lost connection (kept short so tests reconnect quickly). */
  reconnectDelayMs?: number;
  /** The Origin header to send, as a browser would. */
  origin?: string;
  /** The WebSocket class to use instead of QuietWebSocket. */
  webSocket?: new (
    address: string | URL,
    protocols?: string | string[],
  ) => WebSocket;
}

/** A real @hocuspocus/provider over a real WebSocket (ws), one socket per client. */
export function connectClient(
  url: string,
  name: string,
  options: TestClientOptions = {},
): TestClient {
  const closes: { code: number; reason: string }[] = [];
  const denials: string[] = [];
  const documentCloses: string[] = [];
  const socket = new HocuspocusProviderWebsocket({
    url,
    WebSocketPolyfill:
      options.webSocket ?? (options.origin ? withOrigin(options.origin) : QuietWebSocket),
    delay: options.reconnectDelayMs ?? 50,
    factor: 1.5,
    maxDelay: 500,
    minDelay: 20,
    onClose: ({ event }) => {
      closes.push({ code: event.code, reason: String(event.reason ?? "") });
    },
  });
  const doc = options.doc ?? new Y.Doc();
  const provider = new HocuspocusProvider({
    websocketProvider: socket,
    name,
    document: doc,
    token: options.token ?? "",
    onAuthenticationFailed: ({ reason }) => {
      denials.push(reason);
    },
    onClose: ({ event }) => {
      // The provider reports the server's per-document close message as a close with code 1000.
      if (event.code === 1000) documentCloses.push(String(event.reason));
    },
  });
  provider.attach();
  return {
    provider,
    socket,
    doc,
    closes,
    denials,
    documentCloses,
    synced: () => waitFor(`${name} to sync`, () => provider.isSynced).then(() => {}),
    stored: () =>
      waitFor(
        `${name} to have every change acknowledged`,
        () => provider.isSynced && !provider.hasUnsyncedChanges,
      ).then(() => {}),
    goOffline: () => socket.disconnect(),
    goOnline: () => {
      // connect() returns early while the socket still reports "connected" because its close
      // handshake is under way, and the close that follows then sees shouldConnect === false and
      // never reconnects (@hocuspocus/provider 4.7). Setting the flag first makes that close
      // reconnect; connect() covers the case where the socket is already closed.
      socket.shouldConnect = true;
      void socket.connect();
    },
    destroy: () => {
      provider.destroy();
      socket.destroy();
    },
  };
}
