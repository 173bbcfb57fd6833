import type { Awareness } from "y-protocols/awareness";
import { colorFor } from "./color.ts";
import { TandemError } from "./errors.ts";
import type { PresenceOptions, User } from "./options.ts";

/** Another user present in a document. */
export interface Peer {
  /** The awareness client id of the tab this entry comes from. */
  clientId: number;
  id: string;
  name: string;
  color: string;
  typing: boolean;
  /** Whatever the peer passed to setCursor() (JSON), or null. */
  cursor: unknown;
  /** When the peer last did something (ms since the epoch; 0 if it never said). */
  lastActive: number;
}

/** The awareness state every Tandem client publishes. */
export interface PresenceState {
  user: User;
  cursor: unknown;
  typing: boolean;
  lastActive: number;
}

/**
 * The local user's presence in one document, published through Yjs awareness, and the list of
 * everyone else's. Cursor updates are throttled (leading and trailing edge: the first move is
 * sent at once, later ones at most once per interval, and the last one always); typing turns
 * itself off after a quiet interval, so a closed laptop does not type forever.
 */
export class Presence {
  private user: User | null = null;
  private typing = false;
  private lastActive = 0;
  /** A cursor set but not sent yet (boxed: null is a cursor value too). */
  private pendingCursor: { value: unknown } | null = null;
  private lastCursorSentAt = Number.NEGATIVE_INFINITY;
  private cursorTimer: ReturnType<typeof setTimeout> | null = null;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly awareness: Awareness,
    private readonly options: Required<PresenceOptions>,
    private readonly now: () => number = Date.now,
  ) {}

  get localUser(): User | null {
    return this.user;
  }

  setUser(user: User): void {
    this.user = user;
    this.lastActive = this.now();
    this.publish();
  }

  /**
   * Publishes the current state again with a fresh clock, on every new document connection.
   * When the server closed this client's previous connection (it went silent), the server and
   * the peers dropped its state but remember its clock, and y-protocols ignores a state whose
   * clock it has seen: the state the provider sends on connecting would stay invisible until
   * the next renewal, 15 s or more later.
   */
  republish(): void {
    const state = this.awareness.getLocalState();
    if (state !== null) this.awareness.setLocalState({ ...state });
  }

  setCursor(cursor: unknown): void {
    this.requireUser("setCursor");
    this.lastActive = this.now();
    this.pendingCursor = { value: cursor === undefined ? null : cursor };
    if (this.cursorTimer !== null) return;
    const wait = this.lastCursorSentAt + this.options.cursorThrottleMs - this.now();
    if (wait <= 0) {
      this.publish();
      return;
    }
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = null;
      if (this.pendingCursor) this.publish();
    }, wait);
  }

  setTyping(typing: boolean): void {
    this.requireUser("setTyping");
    if (typeof typing !== "boolean") {
      throw new TandemError(
        "invalid-option",
        `setTyping() takes true or false, not ${typeof typing}`,
      );
    }
    this.lastActive = this.now();
    this.clearTypingTimer();
    if (typing) {
      this.typingTimer = setTimeout(() => {
        this.typingTimer = null;
        this.typing = false;
        this.publish();
      }, this.options.typingTimeoutMs);
    }
    // Only a change is published: calling setTyping(true) on every keystroke costs nothing.
    if (typing === this.typing) return;
    this.typing = typing;
    this.publish();
  }

  /** Everyone else in the document, one entry per user, sorted by name. */
  peers(): Peer[] {
    return peersFrom(this.awareness.getStates(), this.awareness.clientID, this.user?.id ?? null);
  }

  dispose(): void {
    this.clearTypingTimer();
    if (this.cursorTimer !== null) clearTimeout(this.cursorTimer);
    this.cursorTimer = null;
  }

  /**
   * Writes the local state in one awareness update (one message). Fields this class does not
   * own are kept, and so is a cursor it was not asked to change: editor bindings
   * (y-prosemirror, y-codemirror) publish `cursor` themselves, and typing must not erase it.
   */
  private publish(): void {
    if (!this.user) return;
    const current = this.awareness.getLocalState() ?? {};
    let cursor: unknown = current.cursor ?? null;
    if (this.pendingCursor) {
      // Whatever is published carries the latest cursor, which restarts the throttle interval.
      cursor = this.pendingCursor.value;
      this.pendingCursor = null;
      this.lastCursorSentAt = this.now();
      if (this.cursorTimer !== null) clearTimeout(this.cursorTimer);
      this.cursorTimer = null;
    }
    const state: PresenceState = {
      user: this.user,
      cursor,
      typing: this.typing,
      lastActive: this.lastActive,
    };
    this.awareness.setLocalState({ ...current, ...state });
  }

  private requireUser(method: string): void {
    if (!this.user) {
      throw new TandemError(
        "invalid-option",
        `${method}() needs a user: pass { user } to client.open() or call setUser() first`,
      );
    }
  }

  private clearTypingTimer(): void {
    if (this.typingTimer !== null) clearTimeout(this.typingTimer);
    this.typingTimer = null;
  }
}

/**
 * The peers in a set of awareness states. States come from other clients, so each is checked
 * before use; states without a usable user (other tools on the same document) are left out.
 * Several tabs of one user are one peer: the most recently active tab.
 */
export function peersFrom(
  states: ReadonlyMap<number, unknown>,
  localClientId: number,
  localUserId: string | null,
): Peer[] {
  const byUser = new Map<string, Peer>();
  for (const [clientId, state] of states) {
    if (clientId === localClientId) continue;
    const peer = toPeer(clientId, state);
    if (!peer || peer.id === localUserId) continue;
    const known = byUser.get(peer.id);
    if (
      !known ||
      peer.lastActive > known.lastActive ||
      (peer.lastActive === known.lastActive && peer.clientId > known.clientId)
    ) {
      byUser.set(peer.id, peer);
    }
  }
  return [...byUser.values()].sort(
    (a, b) => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

function toPeer(clientId: number, state: unknown): Peer | null {
  if (typeof state !== "object" || state === null) return null;
  const { user, cursor, typing, lastActive } = state as Record<string, unknown>;
  if (typeof user !== "object" || user === null) return null;
  const { id, name, color } = user as Record<string, unknown>;
  if (typeof id !== "string" || id === "" || typeof name !== "string") return null;
  return {
    clientId,
    id,
    name,
    color: typeof color === "string" && color !== "" ? color : colorFor(id),
    typing: typing === true,
    cursor: cursor === undefined ? null : cursor,
    lastActive: typeof lastActive === "number" && Number.isFinite(lastActive) ? lastActive : 0,
  };
}
