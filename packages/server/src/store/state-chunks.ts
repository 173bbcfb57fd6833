import type { BatchOp } from "./batch-writer.ts";
import { DamagedDocumentError } from "./damaged.ts";
import type { StoredDocument } from "./document-store.ts";
import {
  allStateChunks,
  parseStateChunkKey,
  stateChunkKey,
  stateChunksOf,
  stateKey,
} from "./keys.ts";
import type { Db } from "./leveldb-handle.ts";
import type { DocumentMeta } from "./meta.ts";

/**
 * A large compacted state is stored in parts of at most this many bytes. classic-level copies a
 * value twice on the event loop before LevelDB sees it (into a buffer of its own, then into the
 * write batch), into memory fresh from the system: a 10 MB state held the event loop for
 * 90-120 ms on the bench machine (stalls scenario), where a 256 KiB part costs a few ms.
 */
export const STATE_CHUNK_BYTES = 256 * 1024;

/**
 * A document's compacted state as its record names it: its parts in order (one part when it is
 * one value), or undefined when it has none. A record that names parts which are not all there
 * is a damaged document.
 */
export async function readStateParts(
  db: Db,
  name: string,
  meta: DocumentMeta,
): Promise<Uint8Array[] | undefined> {
  if (meta.stateChunks === 0) {
    const state = await db.get(stateKey(name));
    return state === undefined ? undefined : [state];
  }
  const parts = await db.values(stateChunksOf(name, meta.stateSeq, meta.stateChunks)).all();
  if (parts.length !== meta.stateChunks) {
    throw new DamagedDocumentError(
      name,
      `its compacted state has ${parts.length} of its ${meta.stateChunks} parts`,
    );
  }
  return parts;
}

/** The parts of a state joined into one update (the part itself when there is one). */
export function joinParts(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0] as Uint8Array;
  let length = 0;
  for (const part of parts) length += part.byteLength;
  const whole = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.byteLength;
  }
  return whole;
}

/** `stored` with its state joined from `parts` (as it is when there are none). */
export function withStateParts(
  stored: StoredDocument,
  parts: readonly Uint8Array[],
): StoredDocument {
  return parts.length === 0 ? stored : { ...stored, state: joinParts(parts) };
}

/** How a new state is stored: the ops for the batch that commits it, and its parts (0: one). */
export interface StagedState {
  ops: BatchOp[];
  chunks: number;
}

/**
 * Makes a compaction's new state ready to commit. A state up to `chunkBytes` is one put in the
 * committing batch, as before parts existed. A larger one is written first, part by part (one
 * LevelDB write each, each copy small), under keys of its own (its seq), which nothing reads
 * until the committing batch writes the record that names them. The committing batch also
 * deletes the state it replaces and any parts left over from compactions that did not finish
 * (a crash between the parts and the commit): those never held anything the log does not.
 *
 * Parts are written with the store's sync setting: LevelDB may move to a new log file between
 * them and the commit, and syncing the commit does not sync an earlier file.
 */
export async function stageState(
  db: Db,
  name: string,
  state: Uint8Array,
  seq: number,
  options: { chunkBytes: number; sync: boolean },
): Promise<StagedState> {
  const { chunkBytes } = options;
  const existing = await db.keys(allStateChunks(name)).all();
  if (state.byteLength <= chunkBytes) {
    const ops: BatchOp[] = [{ type: "put", key: stateKey(name), value: state }];
    for (const key of existing) ops.push({ type: "del", key });
    return { ops, chunks: 0 };
  }
  const written = await writeParts(
    db,
    state,
    (count, index) => stateChunkKey(name, seq, count, index),
    options,
  );
  const ops: BatchOp[] = [{ type: "del", key: stateKey(name) }];
  for (const key of existing) if (!written.includes(key)) ops.push({ type: "del", key });
  return { ops, chunks: written.length };
}

/**
 * Writes `value` in parts of at most `chunkBytes`, one LevelDB write each (each copy on the
 * event loop small), under keyOf(count, index); returns the keys, in index order. Nothing reads
 * them until a batch the caller writes next names them.
 */
export async function writeParts(
  db: Db,
  value: Uint8Array,
  keyOf: (count: number, index: number) => string,
  options: { chunkBytes: number; sync: boolean },
): Promise<string[]> {
  const { chunkBytes } = options;
  const count = Math.ceil(value.byteLength / chunkBytes);
  const keys: string[] = [];
  const writeOptions = options.sync ? { sync: true } : {};
  for (let index = 0; index < count; index++) {
    const key = keyOf(count, index);
    await db.put(key, value.subarray(index * chunkBytes, (index + 1) * chunkBytes), writeOptions);
    keys.push(key);
  }
  return keys;
}

/**
 * The complete states among a document's state parts (keys and values from its data range, in
 * key order), joined: for reading without the record (a snapshot of every document). Parts of
 * an unfinished compaction may be among them; each complete state still holds only what the
 * document held, so merging them with the log changes nothing. Incomplete ones are skipped.
 */
export function completeStates(name: string, parts: readonly [string, Uint8Array][]): Uint8Array[] {
  const groups = new Map<string, { count: number; values: Uint8Array[] }>();
  for (const [key, value] of parts) {
    const parsed = parseStateChunkKey(name, key);
    if (!parsed) continue;
    const id = `${parsed.seq}/${parsed.count}`;
    let group = groups.get(id);
    if (!group) {
      group = { count: parsed.count, values: [] };
      groups.set(id, group);
    }
    if (parsed.index === group.values.length) group.values.push(value);
  }
  const states: Uint8Array[] = [];
  for (const group of groups.values()) {
    if (group.values.length === group.count) states.push(joinParts(group.values));
  }
  return states;
}
