import * as Y from "yjs";

/**
 * Edits that clients without the shared document can make, and how a receiver recognizes them
 * without a Y.Doc. Each edit sets one key of a root map in a tiny Y.Doc of the client's own: a
 * map entry at the root refers to no other item (a new key has no left neighbour; a key the
 * client set before refers to its own earlier item), so the update applies on the server to a
 * document the client never loaded. Each edit is one item of length 1, so the update a receiver
 * gets names the edit exactly: (the editor's clientID, the item's clock), which
 * Y.parseUpdateMeta reads without decoding any content.
 */
export class TinyEditor {
  readonly doc = new Y.Doc();
  private readonly map: Y.Map<unknown>;
  private last: Uint8Array | null = null;

  constructor(mapName: string) {
    this.map = this.doc.getMap(mapName);
    this.doc.on("update", (update: Uint8Array) => {
      this.last = update;
    });
  }

  get clientID(): number {
    return this.doc.clientID;
  }

  /** The clock the next edit's item gets. */
  get nextClock(): number {
    return Y.getState(this.doc.store, this.doc.clientID);
  }

  /** Sets `key` to `value` and returns the update, for the caller to send. */
  set(key: string, value: unknown): Uint8Array {
    this.last = null;
    this.map.set(key, value);
    const update = this.last as Uint8Array | null;
    if (!update) throw new Error("a map set produced no update");
    return update;
  }
}

/**
 * Every edit a scenario made, by (clientID, clock), with when it was made: a receiver turns an
 * update into the edits it carries (editsIn) and so into delivery latencies. All clients live in
 * this process and share one clock.
 */
export class EditLedger {
  private readonly byClient = new Map<number, Map<number, number>>();
  /** performance.now() when edit i was sent. */
  readonly sentAt: number[] = [];
  /** Who made edit i (the scenario's own client index). */
  readonly author: number[] = [];

  /** Records an edit made as item (clientID, clock); returns its index. */
  record(clientID: number, clock: number, author: number, at: number): number {
    let clocks = this.byClient.get(clientID);
    if (!clocks) {
      clocks = new Map();
      this.byClient.set(clientID, clocks);
    }
    const index = this.sentAt.length;
    clocks.set(clock, index);
    this.sentAt.push(at);
    this.author.push(author);
    return index;
  }

  get size(): number {
    return this.sentAt.length;
  }

  /** The recorded edits an update carries (an update may carry several, or none). */
  editsIn(update: Uint8Array): number[] {
    const found: number[] = [];
    const { from, to } = Y.parseUpdateMeta(update);
    for (const [client, end] of to) {
      const clocks = this.byClient.get(client);
      if (!clocks) continue;
      const start = from.get(client) ?? 0;
      if (end - start <= clocks.size) {
        for (let clock = start; clock < end; clock++) {
          const index = clocks.get(clock);
          if (index !== undefined) found.push(index);
        }
      } else {
        // A long range (a big text insert): look up the recorded clocks instead.
        for (const [clock, index] of clocks) if (clock >= start && clock < end) found.push(index);
      }
    }
    return found;
  }
}

/**
 * Which edits one receiver has seen, so a duplicate counts once and the ones never delivered
 * can be counted at the end.
 */
export class SeenEdits {
  private bits = new Uint8Array(1024);
  count = 0;

  /** Marks edit `index` seen; false if it already was. */
  mark(index: number): boolean {
    if (index >= this.bits.length) {
      const bigger = new Uint8Array(Math.max(index + 1, this.bits.length * 2));
      bigger.set(this.bits);
      this.bits = bigger;
    }
    if (this.bits[index] === 1) return false;
    this.bits[index] = 1;
    this.count++;
    return true;
  }

  has(index: number): boolean {
    return this.bits[index] === 1;
  }
}

const WORDS =
  "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua".split(
    " ",
  );

/** A pool of text to cut inserts from: random words, so no two inserts compress alike. */
export function textPool(length: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < length) {
    const word = WORDS[Math.floor(Math.random() * WORDS.length)] as string;
    parts.push(word);
    size += word.length + 1;
  }
  return parts.join(" ").slice(0, length);
}

/** `length` characters from a random place in `pool` (which must be longer). */
export function cut(pool: string, length: number): string {
  const start = Math.floor(Math.random() * (pool.length - length));
  return pool.slice(start, start + length);
}
