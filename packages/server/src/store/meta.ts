import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

/**
 * A document's metadata record. Written in the same atomic batch as the log entries or the
 * compaction it describes, so it never disagrees with the data after a crash.
 *
 * Binary format (lib0 varUints, in this order):
 *   format   record format version (1)
 *   seq      the highest sequence number ever assigned to a log entry
 *   stateSeq the compacted state holds every entry with seq <= stateSeq
 *   tailCount, tailBytes   log entries after stateSeq: how many, how many bytes
 *   stateBytes             size of the compacted state
 *   createdAt, updatedAt   milliseconds since the epoch
 */
export interface DocumentMeta {
  seq: number;
  stateSeq: number;
  tailCount: number;
  tailBytes: number;
  stateBytes: number;
  createdAt: number;
  updatedAt: number;
}

const FORMAT = 1;

export function emptyMeta(now: number): DocumentMeta {
  return {
    seq: 0,
    stateSeq: 0,
    tailCount: 0,
    tailBytes: 0,
    stateBytes: 0,
    createdAt: now,
    updatedAt: now,
  };
}

export function encodeMeta(meta: DocumentMeta): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, FORMAT);
  encoding.writeVarUint(encoder, meta.seq);
  encoding.writeVarUint(encoder, meta.stateSeq);
  encoding.writeVarUint(encoder, meta.tailCount);
  encoding.writeVarUint(encoder, meta.tailBytes);
  encoding.writeVarUint(encoder, meta.stateBytes);
  encoding.writeVarUint(encoder, meta.createdAt);
  encoding.writeVarUint(encoder, meta.updatedAt);
  return encoding.toUint8Array(encoder);
}

export function decodeMeta(bytes: Uint8Array): DocumentMeta {
  const decoder = decoding.createDecoder(bytes);
  const format = decoding.readVarUint(decoder);
  if (format !== FORMAT) throw new Error(`unknown document metadata format ${format}`);
  return {
    seq: decoding.readVarUint(decoder),
    stateSeq: decoding.readVarUint(decoder),
    tailCount: decoding.readVarUint(decoder),
    tailBytes: decoding.readVarUint(decoder),
    stateBytes: decoding.readVarUint(decoder),
    createdAt: decoding.readVarUint(decoder),
    updatedAt: decoding.readVarUint(decoder),
  };
}
