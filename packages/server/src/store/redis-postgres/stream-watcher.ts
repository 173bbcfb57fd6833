import type { Redis } from "ioredis";
import { decodeEntries, type KeyScheme, maxId, type StreamEntry, type StreamId } from "./keys.ts";

/**
 * Reads the streams of every document this instance has open, on one dedicated connection, with
 * one blocking XREAD over all of them, each from its own last id. Entries another instance
 * appended go to the document's listeners; this instance's own entries only move the cursor
 * (they are in its Y.Doc already).
 *
 * When the set of documents changes while an XREAD is blocked, CLIENT UNBLOCK (sent on the
 * store's other connection) ends it at once and the next XREAD has the new set: a document
 * loaded now is read from its load's last id, one unloaded now is never read again.
 *
 * When reading fails (Redis restarted, the connection dropped), entries this instance never
 * read may be compacted and trimmed meanwhile; so once reading works again, every watched
 * document is first brought up to date from its stored state and stream (catchUp).
 */

export type EntriesListener = (updates: readonly Uint8Array[]) => void;

interface Watched {
  name: string;
  cursor: StreamId;
  listeners: Set<EntriesListener>;
}

export interface WatcherEvents {
  /** Entries read for a document (all origins), before listeners run. */
  read?(name: string, entries: readonly StreamEntry[]): void;
  failed?(error: unknown): void;
  /**
   * After reading failed, the stream may have been compacted and trimmed past a cursor: the
   * whole document as stored now (state and stream), and the stream id it reaches.
   */
  reload?(name: string): Promise<{ updates: Uint8Array[]; cursor: StreamId } | null>;
}

const BLOCK_MS = 5000;
const COUNT = 1000;

export class StreamWatcher {
  private readonly watched = new Map<string, Watched>();
  private closed = false;
  private wake: (() => void) | null = null;
  /** The reader connection's CLIENT ID while an XREAD may be blocked on it. */
  private blockedClientId: number | null = null;
  private unblockWanted = false;
  /** Reading failed: streams may have been trimmed past a cursor meanwhile. */
  private behind = false;
  private readonly loop: Promise<void>;

  constructor(
    private readonly reader: Redis,
    private readonly control: Redis,
    private readonly keys: KeyScheme,
    private readonly instanceId: string,
    private readonly events: WatcherEvents = {},
  ) {
    // A lost connection, even one ioredis hides by sending the XREAD again, is a gap.
    reader.on("close", () => {
      if (!this.closed && this.events.reload) this.behind = true;
    });
    this.loop = this.run();
  }

  /** Names of the documents whose streams are read. */
  get documents(): string[] {
    return [...this.watched.values()].map((w) => w.name);
  }

  /** Reads the document's stream after `from` until the returned function is called. */
  watch(name: string, from: StreamId, listener: EntriesListener): () => void {
    const key = this.keys.stream(name);
    let watched = this.watched.get(key);
    if (!watched) {
      watched = { name, cursor: from, listeners: new Set() };
      this.watched.set(key, watched);
      this.interrupt();
    }
    const entry = watched;
    entry.listeners.add(listener);
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      entry.listeners.delete(listener);
      if (entry.listeners.size === 0 && this.watched.get(key) === entry) {
        this.watched.delete(key);
        this.interrupt();
      }
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watched.clear();
    this.interrupt();
    this.reader.disconnect();
    await this.loop;
  }

  private interrupt(): void {
    this.wake?.();
    this.wake = null;
    if (this.blockedClientId === null) {
      this.unblockWanted = true;
      return;
    }
    const id = this.blockedClientId;
    this.blockedClientId = null;
    this.control.client("UNBLOCK", id).catch(() => {});
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      if (this.watched.size === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        continue;
      }
      if (this.behind) {
        try {
          await this.catchUp();
          this.behind = false;
        } catch (error) {
          if (this.closed) break;
          this.events.failed?.(error);
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
      }
      const keys = [...this.watched.keys()];
      const ids = keys.map((key) => (this.watched.get(key) as Watched).cursor);
      this.unblockWanted = false;
      // CLIENT ID is answered before the XREAD blocks (same connection, in order), so an
      // interrupt can end this XREAD from the first moment it might block.
      const clientId = this.reader.client("ID").then((id) => {
        this.blockedClientId = Number(id);
        if (this.unblockWanted) this.interrupt();
      });
      let reply: unknown;
      try {
        reply = await this.reader.callBuffer(
          "XREAD",
          "COUNT",
          COUNT,
          "BLOCK",
          BLOCK_MS,
          "STREAMS",
          ...keys,
          ...ids,
        );
        await clientId.catch(() => {});
        failures = 0;
      } catch (error) {
        await clientId.catch(() => {});
        if (this.closed) break;
        this.events.failed?.(error);
        this.behind = this.events.reload !== undefined;
        failures++;
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** failures)));
        continue;
      } finally {
        this.blockedClientId = null;
      }
      if (Array.isArray(reply)) this.deliver(reply);
    }
  }

  /**
   * Brings every watched document up to what is stored now. Entries only ever leave a stream
   * once a committed state holds them, so state plus stream is complete; applying what a
   * document already has is harmless.
   */
  private async catchUp(): Promise<void> {
    const reload = this.events.reload;
    if (!reload) return;
    for (const [key, watched] of [...this.watched]) {
      const stored = await reload(watched.name);
      if (!stored || this.watched.get(key) !== watched) continue;
      watched.cursor = maxId(watched.cursor, stored.cursor);
      if (stored.updates.length === 0) continue;
      for (const listener of watched.listeners) listener(stored.updates);
    }
  }

  private deliver(reply: unknown[]): void {
    for (const stream of reply) {
      if (!Array.isArray(stream) || stream.length < 2) continue;
      const watched = this.watched.get(String(stream[0]));
      if (!watched) continue; // unwatched while the XREAD was out
      const entries = decodeEntries(stream[1]);
      const last = entries.at(-1);
      if (!last) continue;
      watched.cursor = last.id;
      this.events.read?.(watched.name, entries);
      const updates = entries.filter((e) => e.origin !== this.instanceId).map((e) => e.update);
      if (updates.length === 0) continue;
      for (const listener of watched.listeners) listener(updates);
    }
  }
}
