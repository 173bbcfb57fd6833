import type * as Y from "yjs";
/**
 * What the sync server needs from storage. The LevelDB store implements it; a shared backend
 * (for several server instances) can take its place without the server noticing.
 */

/** A document as it lies in storage: its compacted state and the log entries after it. */
export interface StoredDocument {
  state: Uint8Array | null;
  /** Log entries after the compacted state, oldest first. */
  updates: Uint8Array[];
}

export interface DocumentInfo {
  name: string;
  /** Bytes the document takes in storage: compacted state plus log. */
  bytes: number;
  /** Log entries not yet compacted. */
  pendingUpdates: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface CompactionResult {
  name: string;
  /** Log entries merged into the new state. */
  merged: number;
  bytesBefore: number;
  bytesAfter: number;
  /** Size of the new compacted state: what the compaction wrote. */
  stateBytes: number;
  /**
   * Where the new state came from: the stored log merged with the stored state, the log applied
   * to the merge kept from the document's last compaction (merge-worker/warm-docs.ts), or the
   * document held in memory.
   */
  source: "log" | "kept merge" | "memory";
}

/** Whether the store can make writes durable now, and why not. */
export interface StoreStatus {
  ready: boolean;
  /** Why the store is not ready (e.g. "no space left on device"); absent when ready. */
  reason?: string;
}

/** Receives updates that another server instance stored, oldest first. */
export type RemoteUpdates = (updates: readonly Uint8Array[]) => void;

/** What another instance says about a document's presence (awareness). */
export interface PresenceHandlers {
  /** An awareness update (y-protocols encoding) from another instance's clients. */
  update(update: Uint8Array): void;
  /** Another instance just opened the document: send the states of this instance's clients. */
  query(): void;
  /**
   * The instance that relayed these awareness clients died (its heartbeat expired): remove
   * their states now rather than when they time out (30 s).
   */
  gone?(clients: number[]): void;
}

/** Presence between the instances that have a document open; losing a message is fine. */
export interface PresenceChannel {
  publish(update: Uint8Array): void;
  /** Asks the other instances for their clients' states (answers arrive as updates). */
  query(): void;
  close(): void;
}

/**
 * Who made an update: under --auth jwt the token's `sub` and `name`; otherwise the presence
 * identity the client announced (awareness `user.id` / `user.name`).
 */
export interface Author {
  id: string;
  name?: string;
}

/** Why a version was recorded. */
export type VersionKind =
  /** The document went quiet after edits (--version-idle), or edits went on for --version-interval. */
  | "auto"
  /** A user named the current state ("Sent to legal"); kept until deleted. */
  | "named"
  /** The state right before a restore ("Before restoring …"), so the restore can be undone. */
  | "restore";

/** A version as listed: everything but its content. */
export interface VersionInfo {
  /** Opaque, unique within the document; sorts like `time` (newer ids sort after older ones). */
  id: string;
  /** When it was recorded, in milliseconds since the epoch. */
  time: number;
  kind: VersionKind;
  /** The user's name for a named version, "Before restoring …" for a restore version. */
  label?: string;
  /**
   * Who stored updates since the previous version (exact: from the author stored with each
   * update), in the order they first did; empty when nothing changed since.
   */
  authors: Author[];
  /** Bytes the version's snapshot takes in storage. */
  bytes: number;
}

export interface RecordVersion {
  kind: VersionKind;
  label?: string;
  /** Defaults to Date.now(); tests pass their own clock. */
  time?: number;
}

/**
 * Versions of a document: snapshots of its durable state (each one whole Yjs update) with the
 * authors of the updates stored since the previous snapshot. Deleting a document deletes them.
 */
export interface VersionStore {
  /**
   * Records the document's state as it is durable now (every append that resolved before the
   * call) as a version, atomically with the authors collected since the previous version.
   * Resolves to null when the document does not exist, and for kind "auto" also when nothing
   * was stored since the previous version (an automatic version never repeats one).
   */
  record(name: string, request: RecordVersion): Promise<VersionInfo | null>;
  /** Newest first; empty when the document has none (or does not exist). */
  list(name: string): Promise<VersionInfo[]>;
  /** A version's content as one Yjs update, or null when there is no such version. */
  read(name: string, id: string): Promise<{ info: VersionInfo; update: Uint8Array } | null>;
  /** Deletes versions (retention, or a user deleting a named one); resolves to how many were. */
  delete(name: string, ids: readonly string[]): Promise<number>;
  /** Authors of the updates stored since the latest version (not yet in any version). */
  pendingAuthors(name: string): Promise<Author[]>;
}

export interface DocumentStore {
  /**
   * Appends one Yjs update to a document's log, with its author when known (stored with it, for
   * version history; an update made by the server itself has none). Resolves once the update is durable: it
   * survives a crash of the process (and, with fsync, power loss). Appends to one document
   * are durable in call order. While the storage fails (a full disk, an unreachable engine) the
   * append waits and is retried; it rejects only when the store closes before it is durable.
   */
  append(name: string, update: Uint8Array, author?: Author): Promise<void>;
  /**
   * Resolves once every append to this document made before the call is durable (at once when
   * there is none); rejects when one of them will never be. An acknowledgement for a message that
   * stored nothing new still waits for this: the document in memory may hold updates that are
   * not durable yet, and a client whose sync is answered "you have everything" must not be told
   * its edits are safe before they are.
   */
  durable(name: string): Promise<void>;
  /** The document's state and log, or null when nothing was ever stored under that name. */
  load(name: string): Promise<StoredDocument | null>;
  /** The whole document as one Yjs update, or null when it does not exist. */
  read(name: string): Promise<Uint8Array | null>;
  list(): Promise<DocumentInfo[]>;
  /**
   * Every document, each as one Yjs update, read from one consistent snapshot of the storage
   * taken when iteration starts: it holds every update acknowledged before then, and nothing
   * half-written. Stores that cannot take such a snapshot leave it out; a backup then reads
   * document by document (each whole, every update acknowledged before the backup started).
   */
  snapshot?(): AsyncIterable<{ name: string; update: Uint8Array }>;
  /** Deletes a document and its history. Resolves to false when it did not exist. */
  delete(name: string): Promise<boolean>;
  /** Merges the document's log into its state now; null when there was nothing to merge. */
  compact(name: string): Promise<CompactionResult | null>;
  /** Bytes the document takes in storage now (state plus log, including appends in flight). */
  sizeOf(name: string): Promise<number>;
  /**
   * Reports the updates other server instances store for this document from now on, continuing
   * where this instance's last load of it ended, until the returned function is called. A store
   * only one instance uses has nothing to report and returns a function that does nothing.
   */
  watch(name: string, onRemoteUpdates: RemoteUpdates): () => void;
  /**
   * Relays a document's presence between the server instances that have it open, until the
   * channel is closed. A store only one instance uses leaves it out.
   */
  presence?(name: string, handlers: PresenceHandlers): PresenceChannel;
  /** Version history; a store without it answers the versions API with 501. */
  readonly versions?: VersionStore;
  /**
   * The server holds this document in memory. Every update the server appends was applied to
   * it first, so at any moment it holds at least every log entry appended so far: a store may
   * compact from it (Y.encodeStateAsUpdate) instead of reading and applying its log again,
   * which costs the document's size instead of the log's (a small document rewritten many times
   * has a log hundreds of times its size). Until the returned function is called; a store that
   * cannot use it leaves this out.
   */
  attachLive?(name: string, document: Y.Doc): () => void;
  /** The server unloaded this document: forget its in-memory bookkeeping (a hint; may do nothing). */
  unload(name: string): void;
  /** True from open until close starts. */
  readonly isOpen: boolean;
  /** Not ready while writes fail and are being retried (shown by /readyz). */
  readonly status: StoreStatus;
  /** Finishes pending appends and compactions, then releases the storage. */
  close(): Promise<void>;
}
