import type {
  afterLoadDocumentPayload,
  afterUnloadDocumentPayload,
  beforeSyncPayload,
  Connection,
  Document,
  Extension,
  onLoadDocumentPayload,
} from "@hocuspocus/server";
import { isTransactionOrigin } from "@hocuspocus/server";
import { CloseCode } from "@tandem/protocol";
import { messageYjsSyncStep2, messageYjsUpdate } from "y-protocols/sync";
import { LoadGate } from "../limits/load-gate.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/registry.ts";
import { DamagedDocumentError } from "../store/damaged.ts";
import type { Author, DocumentStore } from "../store/document-store.ts";
import { applyStoredDocument } from "../store/merge.ts";
import { AckGate } from "./ack-gate.ts";
import type { AuthContext } from "./authentication.ts";

/** Who made the updates a connection sends; undefined when unknown (stored without an author). */
export type AuthorOf = (connection: Connection) => Author | undefined;

/** The authenticated user (--auth jwt: the token's sub and name), if any. */
export const authenticatedAuthor: AuthorOf = (connection) => {
  const user = (connection.context as AuthContext | undefined)?.user;
  return user ? { id: user.id, name: user.name } : undefined;
};

export interface DurabilityOptions {
  /** The author stored with each update of a connection (version history); default: its user. */
  authorOf?: AuthorOf;
  /** How many documents may load from the store at once (limits/load-gate.ts); default: all. */
  loads?: LoadGate;
}

/** Marks the transaction that fills a document from storage, so it is not stored again. */
export const LOAD_ORIGIN = Symbol("tandem:load");

/**
 * Makes every document durable in the store:
 * - loads a document from its compacted state and log when Hocuspocus first opens it;
 * - appends every update a client sends to the log, and acknowledges it (SyncStatus) only once
 *   it is durable (ack-gate.ts);
 * - appends updates made on the server itself (direct connections) as they happen;
 * - stores each client's update with its author (authorOf), for the version history; updates
 *   made on the server have none.
 * There is no onStoreDocument: nothing ever rewrites a whole document on a timer.
 *
 * The store retries a failing write until it is durable (a full disk delays acknowledgements,
 * see ack-gate.ts). An append that still fails (the store is closing) means the document in
 * memory holds an update that is not stored, and its state vector would tell a reconnecting
 * client the server has it: the document is dropped from memory by closing every socket that
 * has it open, so it is loaded again from the store and every client sends what is missing.
 * Whole sockets, not document connections: a stock @hocuspocus/provider whose document
 * connection alone is closed on a shared socket never syncs that document again.
 */
export class Durability implements Extension {
  extensionName = "tandem-durability";
  // Load before any other extension sees the document.
  priority = 1000;
  private readonly gate: AckGate;
  /** Documents being dropped from memory after a failed append (one log line each). */
  private readonly dropping = new WeakSet<Document>();
  private readonly loads: LoadGate;

  constructor(
    private readonly store: DocumentStore,
    private readonly logger: Logger,
    private readonly metrics: Metrics | null = null,
    options: DurabilityOptions = {},
  ) {
    const authorOf = options.authorOf ?? authenticatedAuthor;
    this.loads = options.loads ?? new LoadGate(0, 0);
    // A resolver that fails costs the update its author, never the update.
    const author = (connection: Connection): Author | undefined => {
      try {
        return authorOf(connection);
      } catch (error) {
        this.logger.error({ err: error }, "could not tell the author of an update");
        return undefined;
      }
    };
    this.gate = new AckGate(
      (connection, update) =>
        this.store.append(connection.document.name, update, author(connection)),
      (connection) => this.store.durable(connection.document.name),
      (connection, error) => this.dropDocument(connection.document, error),
      metrics,
    );
  }

  /** A connection's update arrived (before any extension handled it): see AckGate.arrived. */
  updateArrived(connection: Connection): void {
    this.gate.arrived(connection);
  }

  private dropDocument(document: Document, error: unknown): void {
    if (this.dropping.has(document)) return;
    this.dropping.add(document);
    const connections = document.getConnections();
    this.logger.error(
      { err: error, document: document.name, sockets: connections.length },
      "could not store an update; closing every socket on the document so it reloads from the store and clients send what is missing",
    );
    for (const connection of connections) {
      connection.webSocket.close(CloseCode.InternalError, "storage failure");
    }
  }

  async onLoadDocument(payload: onLoadDocumentPayload): Promise<void> {
    await this.loads.run(() => this.load(payload));
  }

  private async load({ documentName, document }: onLoadDocumentPayload): Promise<void> {
    const started = performance.now();
    let stored: Awaited<ReturnType<DocumentStore["load"]>>;
    try {
      stored = await this.store.load(documentName);
    } catch (error) {
      if (error instanceof DamagedDocumentError) this.refuseDamaged(error);
      throw error;
    }
    if (!stored) {
      // A new document: the store looked and found nothing, which is a load too.
      this.metrics?.documentLoaded(performance.now() - started);
      return;
    }
    const { applied, failed } = applyStoredDocument(document, stored, LOAD_ORIGIN);
    if (failed > 0) {
      this.refuseDamaged(
        new DamagedDocumentError(documentName, `${failed} stored updates do not apply`),
      );
    }
    const ms = performance.now() - started;
    this.metrics?.documentLoaded(ms);
    this.logger.debug(
      { document: documentName, entries: applied, ms: Math.round(ms) },
      "document loaded",
    );
  }

  /** A damaged document is refused whole rather than served half (see damaged.ts). */
  private refuseDamaged(error: DamagedDocumentError): never {
    this.logger.error(
      { err: error.cause ?? error, document: error.document, why: error.why },
      "refusing a damaged document: run `tandem check`, then `tandem repair`",
    );
    throw error;
  }

  async afterLoadDocument({ documentName, document }: afterLoadDocumentPayload): Promise<void> {
    // From here on every update applied to the document is appended after it (the gate, and
    // the listener below), so the store may compact from it (DocumentStore.attachLive).
    const detach = this.store.attachLive?.(documentName, document);
    if (detach) document.once("destroy", detach);
    document.on("update", (update: Uint8Array, origin: unknown) => {
      if (!isServerSideOrigin(origin)) return;
      this.store.append(documentName, update).catch((error: unknown) => {
        this.dropDocument(document, error);
      });
    });
  }

  async beforeSync({ connection, type, payload }: beforeSyncPayload): Promise<void> {
    if (connection.readOnly) return;
    // A copy: the gate appends it once Hocuspocus has applied it, and by then ApplyOnce has
    // blanked the bytes Hocuspocus read. (It also lets the socket's read buffer go sooner.)
    if (type === messageYjsSyncStep2 || type === messageYjsUpdate)
      this.gate.stage(connection, payload.slice());
  }

  async afterUnloadDocument({ documentName }: afterUnloadDocumentPayload): Promise<void> {
    // The store keeps a small record per touched document; let it go with the document.
    this.store.unload(documentName);
  }
}

/**
 * Updates from clients are stored through the gate; updates replayed from storage or relayed by
 * another instance (Redis) are already stored. Everything else was made on this server.
 */
function isServerSideOrigin(origin: unknown): boolean {
  if (origin === LOAD_ORIGIN) return false;
  if (!isTransactionOrigin(origin)) return true;
  if (origin.source === "local") return !origin.skipStoreHooks;
  return false;
}
