import type {
  beforeHandleAwarenessPayload,
  Connection,
  connectedPayload,
  Extension,
  onAuthenticatePayload,
  onTokenSyncPayload,
} from "@hocuspocus/server";
import { accessFor } from "../auth/permissions.ts";
import { type TokenClaims, TokenError, type TokenVerifier } from "../auth/tokens.ts";
import type { Logger } from "../logger.ts";

/** What a connection's context holds about its user once authenticated. */
export interface AuthContext {
  user?: { id: string; name: string };
  /** Seconds since the epoch when the connection's token expires. */
  exp?: number;
}

export interface AuthenticationOptions {
  /** null: --auth none, everyone may read and write. */
  verifier: TokenVerifier | null;
  /** How long a connection may stay after its token expired while it fetches a fresh one. */
  tokenGraceMs: number;
  /** Relay the awareness of read-only connections. */
  showViewers: boolean;
  logger: Logger;
  now?: () => number;
}

/** Hocuspocus treats a thrown object with `reason` as permission-denied with that reason. */
const denied = (error: unknown) => {
  const reason = error instanceof TokenError ? error.reason : "permission-denied";
  return Object.assign(new Error(reason), { reason });
};

/**
 * Who may open a document, and what they may do there:
 * - the token is checked in onAuthenticate, before the document loads; a refusal is
 *   Hocuspocus's permission-denied with a reason, and nothing the client queued is applied;
 * - `docs` decides read or write; a read-only connection's updates are refused by Hocuspocus;
 * - when a token expires the server asks for a fresh one (token sync); without a valid one within
 *   the grace period the document's connection closes; a fresh token can take write away;
 * - awareness: the user's id and name come from the token, never from the client, a connection
 *   cannot change another connection's clients, and viewers are not relayed unless allowed.
 */
export class Authentication implements Extension {
  extensionName = "tandem-authentication";
  priority = 900;
  private readonly expiry = new WeakMap<Connection, NodeJS.Timeout>();
  private readonly now: () => number;

  constructor(private readonly options: AuthenticationOptions) {
    this.now = options.now ?? Date.now;
  }

  async onAuthenticate({
    token,
    documentName,
    connectionConfig,
  }: onAuthenticatePayload): Promise<AuthContext> {
    const { verifier } = this.options;
    if (!verifier) return {};
    try {
      const claims = await verifier.verify(token);
      connectionConfig.readOnly = this.accessOf(claims, documentName) === "read";
      return { user: { id: claims.sub, name: claims.name }, exp: claims.exp };
    } catch (error) {
      this.options.logger.info(
        { document: documentName, reason: (error as Error).message },
        "authentication refused",
      );
      throw denied(error);
    }
  }

  async connected({ connection }: connectedPayload): Promise<void> {
    this.watchExpiry(connection);
    connection.onClose(() => this.unwatch(connection));
  }

  async onTokenSync({ token, connection, documentName }: onTokenSyncPayload): Promise<void> {
    const { verifier } = this.options;
    if (!verifier) return;
    const context = connection.context as AuthContext;
    try {
      const claims = await verifier.verify(token);
      if (claims.sub !== context.user?.id) {
        throw new TokenError("token-claims-invalid", "a fresh token must be for the same user");
      }
      const access = this.accessOf(claims, documentName);
      connection.readOnly = access === "read";
      context.user = { id: claims.sub, name: claims.name };
      context.exp = claims.exp;
      this.watchExpiry(connection);
    } catch (error) {
      this.options.logger.info(
        { document: documentName, user: context.user?.id, reason: (error as Error).message },
        "fresh token refused; closing the document's connection",
      );
      this.unwatch(connection);
      // Hocuspocus closes the document's connection with 4401 when this hook throws.
      throw denied(error);
    }
  }

  async beforeHandleAwareness({ connection, states, document }: beforeHandleAwarenessPayload) {
    if (!connection) return;
    if (connection.readOnly && !this.options.showViewers) {
      states.clear();
      return;
    }
    // A connection speaks only for its own clients: ids another connection owns are dropped.
    for (const [other, { clients }] of document.connections) {
      if (other === connection) continue;
      for (const clientId of clients) states.delete(clientId);
    }
    const user = (connection.context as AuthContext).user;
    if (!user) return;
    for (const state of states.values()) {
      const claimed = state.user;
      state.user = {
        ...(typeof claimed === "object" && claimed ? claimed : {}),
        id: user.id,
        name: user.name,
      };
    }
  }

  private accessOf(claims: TokenClaims, documentName: string) {
    const access = accessFor(claims.docs, documentName);
    if (!access) throw new TokenError("no-access", `the token grants nothing on ${documentName}`);
    return access;
  }

  /** At expiry, ask for a fresh token; after the grace period, close. */
  private watchExpiry(connection: Connection): void {
    this.unwatch(connection);
    const exp = (connection.context as AuthContext).exp;
    if (exp === undefined) return;
    const untilExpiry = Math.max(0, exp * 1000 - this.now());
    const timer = setTimeout(() => {
      if (!connection.document.hasConnection(connection)) return;
      connection.requestToken();
      const grace = setTimeout(() => {
        if (!connection.document.hasConnection(connection)) return;
        this.options.logger.info(
          {
            document: connection.document.name,
            user: (connection.context as AuthContext).user?.id,
          },
          "token expired and no fresh one came; closing the document's connection",
        );
        connection.close({ code: 4401, reason: "token-expired" });
      }, this.options.tokenGraceMs);
      grace.unref();
      this.expiry.set(connection, grace);
    }, untilExpiry);
    timer.unref();
    this.expiry.set(connection, timer);
  }

  private unwatch(connection: Connection): void {
    const timer = this.expiry.get(connection);
    if (timer) clearTimeout(timer);
    this.expiry.delete(connection);
  }
}
