import type {
  Connection,
  connectedPayload,
  Extension,
  onAuthenticatePayload,
  onTokenSyncPayload,
} from "@hocuspocus/server";
import { accessFor } from "../auth/permissions.ts";
import { type TokenClaims, TokenError, type TokenVerifier } from "../auth/tokens.ts";
import type { Logger } from "../logger.ts";
import { type LongTimeout, setLongTimeout } from "../long-timeout.ts";
import type { Metrics } from "../metrics/registry.ts";

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
  /** Tokens valid for longer than this (from now) are refused; 0: no limit. */
  maxTokenLifetimeMs: number;
  logger: Logger;
  metrics?: Metrics | null;
  now?: () => number;
}

/** Hocuspocus treats a thrown object with `reason` as permission-denied with that reason. */
const reasonOf = (error: unknown) =>
  error instanceof TokenError ? error.reason : "permission-denied";
const denied = (error: unknown) => {
  const reason = reasonOf(error);
  return Object.assign(new Error(reason), { reason });
};

/**
 * Who may open a document, and what they may do there:
 * - the token is checked in onAuthenticate, before the document loads; a refusal is
 *   Hocuspocus's permission-denied with a reason, and nothing the client queued is applied;
 * - `docs` decides read or write; a read-only connection's updates are refused by Hocuspocus;
 * - a token valid for longer than the maximum lifetime is refused (token-lifetime-too-long): a
 *   leaked token works only so long, as there is no revocation;
 * - when a token expires the server asks for a fresh one (token sync); without a valid one within
 *   the grace period the document's connection closes; a fresh token can take write away.
 * Presence rules (awareness) are the PresenceGuard's.
 */
export class Authentication implements Extension {
  extensionName = "tandem-authentication";
  priority = 900;
  private readonly expiry = new WeakMap<Connection, LongTimeout>();
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
      const claims = this.checkLifetime(await verifier.verify(token));
      connectionConfig.readOnly = this.accessOf(claims, documentName) === "read";
      return { user: { id: claims.sub, name: claims.name }, exp: claims.exp };
    } catch (error) {
      this.options.metrics?.authFailed(reasonOf(error));
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
      const claims = this.checkLifetime(await verifier.verify(token));
      if (claims.sub !== context.user?.id) {
        throw new TokenError("token-claims-invalid", "a fresh token must be for the same user");
      }
      const access = this.accessOf(claims, documentName);
      connection.readOnly = access === "read";
      context.user = { id: claims.sub, name: claims.name };
      context.exp = claims.exp;
      this.watchExpiry(connection);
    } catch (error) {
      this.options.metrics?.authFailed(reasonOf(error));
      this.options.logger.info(
        { document: documentName, user: context.user?.id, reason: (error as Error).message },
        "fresh token refused; closing the document's connection",
      );
      this.unwatch(connection);
      // Hocuspocus closes the document's connection with 4401 when this hook throws.
      throw denied(error);
    }
  }

  /** A token valid for longer than the maximum is refused, however it is signed. */
  private checkLifetime(claims: TokenClaims): TokenClaims {
    const { maxTokenLifetimeMs } = this.options;
    const lifetimeMs = claims.exp * 1000 - this.now();
    if (maxTokenLifetimeMs > 0 && lifetimeMs > maxTokenLifetimeMs) {
      throw new TokenError(
        "token-lifetime-too-long",
        `the token is valid for ${Math.round(lifetimeMs / 1000)} s, more than the server's maximum of ${Math.round(maxTokenLifetimeMs / 1000)} s`,
      );
    }
    return claims;
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
    // setLongTimeout: a token may be valid for longer than setTimeout can wait (24.8 days).
    const untilExpiry = Math.max(0, exp * 1000 - this.now());
    const timer = setLongTimeout(() => {
      if (!connection.document.hasConnection(connection)) return;
      connection.requestToken();
      const grace = setLongTimeout(() => {
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
      this.expiry.set(connection, grace);
    }, untilExpiry);
    this.expiry.set(connection, timer);
  }

  private unwatch(connection: Connection): void {
    const timer = this.expiry.get(connection);
    timer?.clear();
    this.expiry.delete(connection);
  }
}
