import type { Connection } from "@hocuspocus/server";
import { connectionUser } from "../extensions/connection-registry.ts";
import type { Author } from "../store/document-store.ts";

/** Longest author id or name taken from presence: a client chooses it, and it is stored with every update. */
export const MAX_PRESENCE_IDENTITY = 256;

const bounded = (text: string): string =>
  text.length <= MAX_PRESENCE_IDENTITY
    ? text
    : Array.from(text).slice(0, MAX_PRESENCE_IDENTITY).join("");

/**
 * The author stored with a connection's updates (version history lists them): under --auth jwt
 * the token's `sub` and `name`; otherwise the presence identity the client announced (awareness
 * `user.id`, else `user.name` as the id), bounded in length; undefined when the client announced
 * none (its updates then count for nobody).
 */
export function authorOf(connection: Connection): Author | undefined {
  const user = connectionUser(connection);
  if (!user) return undefined;
  if (user.from === "token") return { id: user.id, name: user.name };
  const id = bounded(user.id || user.name);
  if (id === "") return undefined;
  return user.name ? { id, name: bounded(user.name) } : { id };
}
