import { Connection } from "./connection.ts";
import { TandemDocument } from "./document.ts";
import { TandemError } from "./errors.ts";
import { cacheName, clearCache, indexedDbAvailable } from "./offline.ts";
import {
  type ClientOptions,
  type OpenOptions,
  type ResolvedClientOptions,
  resolveClientOptions,
  resolveDocumentName,
  resolveOpenOptions,
} from "./options.ts";
import { TokenSource } from "./token.ts";

export interface TandemClient {
  /** The server this client talks to: the first of `urls` (it also names the offline cache). */
  readonly url: string;
  /** Every URL the client may use, in the order it tries them. */
  readonly urls: readonly string[];
  /** Whether documents are cached in IndexedDB (asked for, and IndexedDB exists). */
  readonly offline: boolean;
  /**
   * Opens a document on the client's one socket. One handle per name at a time: close it
   * before opening the same name again.
   */
  open(name: string, options?: OpenOptions): TandemDocument;
  /** Connects now, skipping any backoff wait, and retries documents the server refused. */
  reconnect(): void;
  /** Deletes the offline cache of one document (close the document first). */
  clearOffline(name: string): Promise<void>;
  /**
   * Closes every document and the socket, and stops every timer and listener. Resolves once
   * the socket and the caches are closed.
   */
  close(): Promise<void>;
}

/**
 * Creates a client: one WebSocket shared by every document the app opens. Nothing connects
 * until the first open().
 */
export function createClient(options: ClientOptions): TandemClient {
  return new Client(resolveClientOptions(options));
}

class Client implements TandemClient {
  readonly url: string;
  readonly urls: readonly string[];
  readonly offline: boolean;
  private readonly connection: Connection;
  private readonly tokens: TokenSource;
  private readonly documents = new Map<string, TandemDocument>();
  private closing: Promise<void> | null = null;

  constructor(private readonly options: ResolvedClientOptions) {
    this.urls = options.urls;
    this.url = options.urls[0] as string;
    this.offline = options.offline && indexedDbAvailable();
    this.tokens = new TokenSource(options.token);
    this.connection = new Connection(options.urls, options.WebSocket, options.reconnect);
  }

  open(name: string, options?: OpenOptions): TandemDocument {
    if (this.closing) {
      throw new TandemError("closed", "this client is closed; create another with createClient()");
    }
    const documentName = resolveDocumentName(name);
    const { user } = resolveOpenOptions(options);
    if (this.documents.has(documentName)) {
      throw new TandemError(
        "invalid-option",
        `document "${documentName}" is already open on this client: use its handle, or close it first`,
      );
    }
    const document = new TandemDocument(documentName, user, {
      connection: this.connection,
      tokens: this.tokens,
      presence: this.options.presence,
      reconnect: this.options.reconnect,
      cache: this.offline ? cacheName(this.url, documentName) : null,
      onUnauthorized: () => this.stopIfAllRefused(),
      onClosed: (closed) => {
        if (this.documents.get(closed.name) === closed) this.documents.delete(closed.name);
        this.stopIfAllRefused();
      },
    });
    this.documents.set(documentName, document);
    this.connection.start();
    return document;
  }

  reconnect(): void {
    if (this.closing) return;
    for (const document of this.documents.values()) document.resume();
    this.connection.start();
    this.connection.retryNow();
  }

  async clearOffline(name: string): Promise<void> {
    const documentName = resolveDocumentName(name);
    if (this.documents.has(documentName)) {
      throw new TandemError(
        "invalid-option",
        `document "${documentName}" is open: close it before clearing its offline cache`,
      );
    }
    await clearCache(cacheName(this.url, documentName));
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    // Documents first: they tell the server and their peers they are leaving, on the open socket.
    const caches = [...this.documents.values()].map((document) => document.close());
    await this.connection.destroy();
    await Promise.all(caches);
  }

  /**
   * With every open document refused, the socket has nothing left to do: close it instead of
   * reconnecting forever with a token the server does not want.
   */
  private stopIfAllRefused(): void {
    if (this.closing || this.documents.size === 0) return;
    for (const document of this.documents.values()) if (!document.isUnauthorized) return;
    this.connection.stop();
  }
}
