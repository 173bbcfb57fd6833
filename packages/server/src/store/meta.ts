import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

/**
 * A document's metadata record. Written in the same atomic batch as the log entries or the
 * compaction it describes, so it never disagrees with the data after a crash.
 *
 * Binary format (lib0 varUints, in this order):
 *   format   record format version: 1, or 2 when the state is stored in parts
 *   seq      the highest sequence number ever assigned to a log entry
 *   stateSeq the compacted state holds every entry with seq <= stateSeq
 *   tailCount, tailBytes   log entries after stateSeq: how many, how many bytes
 *   stateBytes             size of the compacted state
 *   createdAt, updatedAt   milliseconds since the epoch
 *   stateChunks            (format 2 only) the parts the state is stored in (keys.ts); 0, and
 *                          format 1, when it is one value
 */
export interface DocumentMeta {
  seq: number;
  stateSeq: number;
  tailCount: number;
  tailBytes: number;
  stateBytes: number;
  createdAt: number;
  updatedAt: number;
  /** Parts the compacted state is stored in (state-chunks.ts); 0: one value. */
  stateChunks: number;
}

const FORMAT = 1;
const FORMAT_CHUNKED = 2;

export function emptyMeta(now: number): DocumentMeta {
  return {
    seq: 0,
    stateSeq: 0,
    tailCount: 0,
    tailBytes: 0,
    stateBytes: 0,
    createdAt: now,
    updatedAt: now,
    stateChunks: 0,
  };
}

export function encodeMeta(meta: DocumentMeta): Uint8Array {
  const encoder = encoding.createEncoder();
  // Format 1 while the state is one value: a record reads the same in earlier releases.
  encoding.writeVarUint(encoder, meta.stateChunks > 0 ? FORMAT_CHUNKED : FORMAT);
  encoding.writeVarUint(encoder, meta.seq);
  encoding.writeVarUint(encoder, meta.stateSeq);
  encoding.writeVarUint(encoder, meta.tailCount);
  encoding.writeVarUint(encoder, meta.tailBytes);
  encoding.writeVarUint(encoder, meta.stateBytes);
  encoding.writeVarUint(encoder, meta.createdAt);
  encoding.writeVarUint(encoder, meta.updatedAt);
  if (meta.stateChunks > 0) encoding.writeVarUint(encoder, meta.stateChunks);
  return encoding.toUint8Array(encoder);
}

export function decodeMeta(bytes: Uint8Array): DocumentMeta {
  const decoder = decoding.createDecoder(bytes);
  const format = decoding.readVarUint(decoder);
  if (format !== FORMAT && format !== FORMAT_CHUNKED) {
    throw new Error(`unknown document metadata format ${format}`);
  }
  return {
    seq: decoding.readVarUint(decoder),
    stateSeq: decoding.readVarUint(decoder),
    tailCount: decoding.readVarUint(decoder),
    tailBytes: decoding.readVarUint(decoder),
    stateBytes: decoding.readVarUint(decoder),
    createdAt: decoding.readVarUint(decoder),
    updatedAt: decoding.readVarUint(decoder),
    stateChunks: format === FORMAT_CHUNKED ? decoding.readVarUint(decoder) : 0,
  };
}
