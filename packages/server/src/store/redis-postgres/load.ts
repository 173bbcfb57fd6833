import type { Redis } from "ioredis";
import type { Pool } from "pg";
import type { StoredDocument } from "../document-store.ts";
import { joinParts } from "../state-chunks.ts";
import {
  after,
  compareIds,
  decodeEntries,
  type KeyScheme,
  maxId,
  type StreamId,
  ZERO_ID,
} from "./keys.ts";
import { readRow, readUpto } from "./schema.ts";

export interface Loaded {
  stored: StoredDocument;
  /** The last stream id the loaded document holds: read the stream after it from now on. */
  cursor: StreamId;
  stateBytes: number;
  tailBytes: number;
  tailCount: number;
}

/**
 * Loads a document: its PostgreSQL state, then its stream after the state's upto.
 *
 * A compaction may commit (and trim the stream) between the two reads. Trims only ever remove
 * entries below an upto committed before them, so reading upto once more after the stream
 * tells: unchanged, the pair is consistent; moved on, the newer state covers whatever the stream
 * read may have missed, and the entries read still cover everything after it. Applying an update
 * twice is harmless, so overlap is fine; a gap is impossible.
 */
export async function loadDocument(
  pool: Pool,
  redis: Redis,
  keys: KeyScheme,
  name: string,
): Promise<Loaded | null> {
  let row = await readRow(pool, name);
  const firstUpto = row?.upto ?? ZERO_ID;
  const raw = await redis.callBuffer("XRANGE", keys.stream(name), after(firstUpto), "+");
  let entries = decodeEntries(raw);
  const upto = (await readUpto(pool, name)) ?? ZERO_ID;
  if (upto !== firstUpto) {
    row = await readRow(pool, name);
    const covered = row?.upto ?? upto;
    entries = entries.filter((e) => compareIds(e.id, covered) > 0);
  }
  if (!row && entries.length === 0) return null;
  const stateUpto = row?.upto ?? ZERO_ID;
  const last = entries.at(-1)?.id ?? ZERO_ID;
  return {
    stored: {
      state: row ? joinParts(row.stateParts) : null,
      updates: entries.map((e) => e.update),
    },
    cursor: maxId(stateUpto, last),
    stateBytes: row?.stateBytes ?? 0,
    tailBytes: entries.reduce((sum, e) => sum + e.update.byteLength, 0),
    tailCount: entries.length,
  };
}
