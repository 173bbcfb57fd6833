import type { Connection, connectedPayload, Extension } from "@hocuspocus/server";
import type { AuthContext } from "./authentication.ts";

/** One document connection, as the admin API shows it. */
export interface ConnectionInfo {
  /** The user: from the token (`sub`, `name`), else from the connection's presence; null: unknown. */
  user: { id: string; name: string; from: "token" | "presence" } | null;
  readOnly: boolean;
  /** When the document connection was established (ISO 8601). */
  since: string;
}

/**
 * Remembers when each document connection was established, so the admin API can say who is
 * connected since when. Nothing else: Hocuspocus already keeps the connections of a document.
 */
export class ConnectionRegistry implements Extension {
  extensionName = "tandem-connection-registry";
  private readonly since = new WeakMap<Connection, number>();

  constructor(private readonly now: () => number = Date.now) {}

  async connected({ connection }: connectedPayload): Promise<void> {
    this.since.set(connection, this.now());
  }

  describe(connection: Connection): ConnectionInfo {
    return {
      user: connectionUser(connection),
      readOnly: connection.readOnly,
      since: new Date(this.since.get(connection) ?? this.now()).toISOString(),
    };
  }
}

/**
 * Who a connection is: the token's user, else the identity the client publishes in its presence
 * (awareness `user.id` / `user.name` of the client ids the connection owns: PresenceGuard keeps
 * that set in Hocuspocus's own record of the connection); null when neither says.
 */
export function connectionUser(connection: Connection): ConnectionInfo["user"] {
  const fromToken = (connection.context as AuthContext | undefined)?.user;
  if (fromToken) return { ...fromToken, from: "token" };
  // Without tokens the only name is the one the client publishes in its presence.
  const clients = connection.document.connections.get(connection)?.clients ?? new Set<number>();
  for (const id of clients) {
    const user = (connection.document.awareness.getStates().get(id) as { user?: unknown })?.user;
    if (typeof user === "object" && user !== null) {
      const { id: userId, name } = user as { id?: unknown; name?: unknown };
      if (typeof userId === "string" || typeof name === "string") {
        return {
          id: typeof userId === "string" ? userId : "",
          name: typeof name === "string" ? name : "",
          from: "presence",
        };
      }
    }
  }
  return null;
}

/** The token user id of a connection, or null (--auth none). */
export const tokenUserOf = (connection: Connection): string | null =>
  (connection.context as AuthContext | undefined)?.user?.id ?? null;
