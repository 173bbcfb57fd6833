import {
  type beforeHandleAwarenessPayload,
  type beforeHandleMessagePayload,
  type Connection,
  type connectedPayload,
  type Document,
  type Extension,
  MessageType,
} from "@hocuspocus/server";
import * as decoding from "lib0/decoding";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics/registry.ts";
import type { AuthContext } from "./authentication.ts";

export interface PresenceGuardOptions {
  /** Relay the awareness of read-only connections. */
  showViewers: boolean;
  /** Entries one awareness message may carry; a larger message is dropped whole. */
  maxClientsPerMessage: number;
  /** Client ids one document connection may own; states for more are dropped. */
  maxClientsPerConnection: number;
  logger: Logger;
  metrics?: Metrics | null;
}

/** What an awareness message said that the decoded states no longer show. */
interface Inbound {
  entries: number;
  /** Client ids the message carries a state for. */
  ids: Set<number>;
  /** Client ids the message set to null (the client left), with their clocks. */
  left: Map<number, number>;
}

/**
 * Presence (awareness) rules, so that nobody can show up under someone else's name or flood
 * everyone's peer list:
 * - the user's id and name come from the token, never from the client;
 * - a client id belongs to the first document connection that sends a state for it, whether
 *   y-protocols calls it "added" or "updated" (a client that reconnects keeps its id, and the
 *   server's awareness still remembers its clock, so its first state is an "update"); states for
 *   an id another connection owns are dropped; ownership ends when the owner's connection closes
 *   (Hocuspocus then removes the id's state), or passes to a connection of the same
 *   authenticated user (a client back after a network loss, before the server noticed it);
 * - a client's own leave (a null state) is relayed: Hocuspocus decodes awareness into a map of
 *   states, where a null state is simply absent, so this puts it back;
 * - at most `maxClientsPerMessage` entries per message, `maxClientsPerConnection` ids owned per
 *   connection;
 * - read-only connections are not relayed unless `showViewers`.
 */
export class PresenceGuard implements Extension {
  extensionName = "tandem-presence-guard";
  private readonly owners = new WeakMap<Document, Map<number, Connection>>();
  private readonly owned = new WeakMap<Connection, Set<number>>();
  /** Set by beforeHandleMessage for the awareness message Hocuspocus handles next. */
  private readonly inbound = new WeakMap<Connection, Inbound>();

  constructor(private readonly options: PresenceGuardOptions) {}

  async connected({ connection }: connectedPayload): Promise<void> {
    connection.onClose(() => {
      const owners = this.owners.get(connection.document);
      for (const id of this.owned.get(connection) ?? []) {
        if (owners?.get(id) === connection) owners.delete(id);
      }
      this.owned.delete(connection);
    });
  }

  /**
   * Hocuspocus handles one connection's messages in order, this hook right before the message
   * itself, so what is noted here belongs to the beforeHandleAwareness that follows.
   */
  async beforeHandleMessage({ connection, update }: beforeHandleMessagePayload): Promise<void> {
    const inbound = readAwareness(update, this.options.maxClientsPerMessage);
    if (inbound) this.inbound.set(connection, inbound);
  }

  async beforeHandleAwareness({ connection, states, document }: beforeHandleAwarenessPayload) {
    if (!connection) return;
    const inbound = this.inbound.get(connection) ?? {
      entries: states.size,
      ids: new Set(states.keys()),
      left: new Map(),
    };
    this.inbound.delete(connection);
    const { logger, maxClientsPerMessage, showViewers } = this.options;
    if (inbound.entries > maxClientsPerMessage) {
      this.options.metrics?.limitHit("awareness_entries");
      logger.warn(
        { document: document.name, entries: inbound.entries, max: maxClientsPerMessage },
        "dropped an awareness message with too many entries",
      );
      states.clear();
      return;
    }
    if (connection.readOnly && !showViewers) {
      states.clear();
      return;
    }
    for (const id of [...states.keys()]) {
      // Hocuspocus decodes into a scratch Awareness, whose own local state (a random id, an
      // empty state, clock 0) shows up here too: only ids the message names count.
      if (!inbound.ids.has(id) || !this.claim(document, connection, id)) states.delete(id);
    }
    // The client's own leaves. y-protocols needs a clock above 0 to apply a null state.
    for (const [id, clock] of inbound.left) {
      if (clock > 0 && this.owners.get(document)?.get(id) === connection) {
        states.set(id, null as unknown as Record<string, unknown>);
      }
    }
    const user = (connection.context as AuthContext).user;
    if (!user) return;
    for (const state of states.values()) {
      if (!state) continue;
      const claimed = state.user;
      state.user = {
        ...(typeof claimed === "object" && claimed ? claimed : {}),
        id: user.id,
        name: user.name,
      };
    }
  }

  /** Whether `connection` may speak for client `id`, taking ownership when nobody has it. */
  private claim(document: Document, connection: Connection, id: number): boolean {
    let owners = this.owners.get(document);
    if (!owners) {
      owners = new Map();
      this.owners.set(document, owners);
    }
    const owner = owners.get(id);
    if (owner === connection) return true;
    // An owner that has left (its close still being handled) no longer counts.
    if (owner && document.hasConnection(owner) && !sameUser(owner, connection)) return false;
    let mine = this.owned.get(connection);
    if (!mine) {
      mine = new Set();
      this.owned.set(connection, mine);
    }
    if (mine.size >= this.options.maxClientsPerConnection) {
      this.options.metrics?.limitHit("awareness_clients");
      this.options.logger.warn(
        { document: document.name, clientId: id, max: this.options.maxClientsPerConnection },
        "dropped an awareness state: the connection owns too many client ids",
      );
      return false;
    }
    if (owner) {
      this.owned.get(owner)?.delete(id);
      document.connections.get(owner)?.clients.delete(id);
    }
    owners.set(id, connection);
    mine.add(id);
    // Hocuspocus records a connection's ids only for "added" states; with the id recorded here,
    // its state is removed when this connection closes, also after an "update".
    document.connections.get(connection)?.clients.add(id);
    return true;
  }
}

/** Two connections of one authenticated user (never true under --auth none). */
function sameUser(a: Connection, b: Connection): boolean {
  const one = (a.context as AuthContext).user?.id;
  return one !== undefined && one === (b.context as AuthContext).user?.id;
}

/**
 * Entry count and null states of an awareness message; null for any other message. A message
 * over `max` entries is only counted: it is dropped whole.
 */
function readAwareness(frame: Uint8Array, max: number): Inbound | null {
  try {
    const decoder = decoding.createDecoder(frame);
    decoding.readVarString(decoder);
    if (decoding.readVarUint(decoder) !== MessageType.Awareness) return null;
    const update = decoding.createDecoder(decoding.readVarUint8Array(decoder));
    const entries = decoding.readVarUint(update);
    const ids = new Set<number>();
    const left = new Map<number, number>();
    if (entries > max) return { entries, ids, left };
    for (let i = 0; i < entries; i++) {
      const id = decoding.readVarUint(update);
      const clock = decoding.readVarUint(update);
      const state = decoding.readVarString(update);
      // JSON allows whitespace around null; the frame screen has checked it is JSON.
      if (state.length < 16 && state.trim() === "null") left.set(id, clock);
      else ids.add(id);
    }
    return { entries, ids, left };
  } catch {
    return null;
  }
}
