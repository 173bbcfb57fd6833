import type {
  ConnectionConfiguration,
  connectedPayload,
  Extension,
  onAuthenticatePayload,
} from "@hocuspocus/server";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/registry.ts";

export interface DocumentLimitsOptions {
  /** Documents one socket may have open at once (0: no limit). */
  perSocket: number;
  /** Documents one user may have open at once over all sockets (0: no limit). */
  perUser: number;
  /** The user an accepted token belongs to; null when there are no users (--auth none). */
  userOf: (token: string) => string | null;
  logger: Logger;
  metrics?: Metrics | null;
}

/** The reasons a refused client gets in Hocuspocus's permission-denied message. */
export const TOO_MANY_DOCUMENTS = "too-many-documents";
export const TOO_MANY_DOCUMENTS_FOR_USER = "too-many-documents-for-user";

interface SocketSlots {
  slots: Set<Slot>;
  closed: boolean;
}

interface Slot {
  socket: SocketSlots;
  user: string | null;
  released: boolean;
}

/**
 * Bounds the documents open at once per socket and per user: every open document connection
 * holds a loaded Y.Doc, so a single socket with a `**` token could otherwise open thousands.
 *
 * A slot is taken in onAuthenticate, before the document loads, and given back when the
 * document connection closes or the socket does. Past a bound the client gets Hocuspocus's
 * permission-denied with the reason `too-many-documents` or `too-many-documents-for-user`; the
 * socket and its other documents stay open.
 *
 * Sockets are known by the request object Hocuspocus carries for them (one per socket, made by
 * the gateway, which reports its close). A slot whose document fails to load after
 * authentication is only given back when its socket closes.
 */
export class DocumentLimits implements Extension {
  extensionName = "tandem-document-limits";
  // Lowest: onAuthenticate runs after every other extension's (Authentication is 900), so a slot
  // is only taken for a token they all accepted, and userOf may read that token.
  priority = 1;
  // Keyed by the request object of the socket's hook payloads (the gateway's SocketRequest).
  private readonly sockets = new WeakMap<object, SocketSlots>();
  private readonly users = new Map<string, number>();
  private readonly pending = new WeakMap<ConnectionConfiguration, Slot>();

  constructor(private readonly options: DocumentLimitsOptions) {}

  async onAuthenticate({
    request,
    token,
    documentName,
    connectionConfig,
  }: onAuthenticatePayload): Promise<void> {
    const socket = this.socketOf(request);
    // The socket closed while this document was authenticating: Hocuspocus will not open it.
    if (socket.closed) return;
    const { perSocket, perUser, logger, metrics } = this.options;
    const user = this.options.userOf(token);
    if (perSocket > 0 && socket.slots.size >= perSocket) {
      metrics?.limitHit("socket_documents");
      logger.warn({ document: documentName, user, max: perSocket }, "refused a document: socket");
      throw refusal(TOO_MANY_DOCUMENTS);
    }
    if (user !== null && perUser > 0 && (this.users.get(user) ?? 0) >= perUser) {
      metrics?.limitHit("user_documents");
      logger.warn({ document: documentName, user, max: perUser }, "refused a document: user");
      throw refusal(TOO_MANY_DOCUMENTS_FOR_USER);
    }
    const slot: Slot = { socket, user, released: false };
    socket.slots.add(slot);
    if (user !== null) this.users.set(user, (this.users.get(user) ?? 0) + 1);
    this.pending.set(connectionConfig, slot);
  }

  async connected({ connection, connectionConfig }: connectedPayload): Promise<void> {
    const slot = this.pending.get(connectionConfig);
    if (!slot) return;
    this.pending.delete(connectionConfig);
    // Earlier `connected` hooks are awaited, and queued messages (a close) run meanwhile.
    if (!connection.document.hasConnection(connection)) this.release(slot);
    else connection.onClose(() => this.release(slot));
  }

  /** The gateway calls this when a socket closes: every slot it held is free. */
  socketClosed(request: object): void {
    const socket = this.socketOf(request);
    socket.closed = true;
    for (const slot of socket.slots) this.release(slot);
  }

  private socketOf(request: object): SocketSlots {
    let socket = this.sockets.get(request);
    if (!socket) {
      socket = { slots: new Set(), closed: false };
      this.sockets.set(request, socket);
    }
    return socket;
  }

  private release(slot: Slot): void {
    if (slot.released) return;
    slot.released = true;
    slot.socket.slots.delete(slot);
    if (slot.user === null) return;
    const count = (this.users.get(slot.user) ?? 1) - 1;
    if (count > 0) this.users.set(slot.user, count);
    else this.users.delete(slot.user);
  }
}

/** Hocuspocus answers a thrown object with `reason` with permission-denied and that reason. */
const refusal = (reason: string) => Object.assign(new Error(reason), { reason });
