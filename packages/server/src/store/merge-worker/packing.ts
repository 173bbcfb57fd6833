import type { StoredDocument } from "../document-store.ts";

/**
 * A stored document as one buffer the merge thread can take over (transferred, not copied):
 * LevelDB's value buffers may share memory with others, so they are copied once, here, into a
 * buffer of their own. The state, when there is one, comes first.
 */
export interface PackedDocument {
  bytes: ArrayBuffer;
  /** Byte length of each part, in order. */
  lengths: Uint32Array;
  hasState: boolean;
}

export interface MergeRequest {
  id: number;
  document: PackedDocument;
}

export type MergeReply =
  | { id: number; update: Uint8Array; failed: number }
  | { id: number; error: string };

export function pack(stored: StoredDocument): PackedDocument {
  const parts = stored.state ? [stored.state, ...stored.updates] : stored.updates;
  const lengths = new Uint32Array(parts.length);
  let total = 0;
  parts.forEach((part, i) => {
    lengths[i] = part.byteLength;
    total += part.byteLength;
  });
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return { bytes: bytes.buffer, lengths, hasState: stored.state !== null };
}

export function unpack(packed: PackedDocument): StoredDocument {
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const length of packed.lengths) {
    parts.push(new Uint8Array(packed.bytes, offset, length));
    offset += length;
  }
  const state = packed.hasState ? (parts.shift() ?? null) : null;
  return { state, updates: parts };
}

/** Bytes a stored document holds: what decides whether merging it is worth a thread. */
export function storedBytes(stored: StoredDocument): number {
  let total = stored.state?.byteLength ?? 0;
  for (const update of stored.updates) total += update.byteLength;
  return total;
}
