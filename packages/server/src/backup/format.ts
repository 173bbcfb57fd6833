import { crc32 } from "node:zlib";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";

/**
 * The backup file format (`tandem backup`, `POST /api/backup`, `tandem restore`). Binary,
 * written and read as a stream, one document at a time:
 *
 *   header   8 bytes "TANDEMBK", 1 byte format version (1)
 *   frame*   uint32 BE length N, N bytes of payload, uint32 BE CRC-32 of the payload
 *
 * A payload is lib0-encoded and starts with its kind (varUint):
 *
 *   1 document   varString name, varUint8Array update (the whole document as one Yjs update)
 *   0 end        varUint number of documents, varUint time of the snapshot (ms since the epoch)
 *
 * The end frame is last and always present: a file without it was cut off (the server stopped
 * while streaming it, a full disk) and is refused, as is a frame whose CRC does not match.
 * Document names are unique within a file.
 */

export const BACKUP_MAGIC = new TextEncoder().encode("TANDEMBK");
export const BACKUP_VERSION = 1;
const KIND_END = 0;
const KIND_DOCUMENT = 1;

export interface BackupDocument {
  name: string;
  update: Uint8Array;
}

export interface BackupEnd {
  documents: number;
  takenAt: number;
}

export class BackupFormatError extends Error {
  override name = "BackupFormatError";
}

export function encodeHeader(): Uint8Array {
  const header = new Uint8Array(BACKUP_MAGIC.length + 1);
  header.set(BACKUP_MAGIC);
  header[BACKUP_MAGIC.length] = BACKUP_VERSION;
  return header;
}

function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 8);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length);
  out.set(payload, 4);
  view.setUint32(4 + payload.length, crc32(payload));
  return out;
}

export function encodeDocument({ name, update }: BackupDocument): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, KIND_DOCUMENT);
  encoding.writeVarString(encoder, name);
  encoding.writeVarUint8Array(encoder, update);
  return frame(encoding.toUint8Array(encoder));
}

export function encodeEnd({ documents, takenAt }: BackupEnd): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, KIND_END);
  encoding.writeVarUint(encoder, documents);
  encoding.writeVarUint(encoder, takenAt);
  return frame(encoding.toUint8Array(encoder));
}

/** Every frame of a backup, the whole file as it is streamed. */
export async function* encodeBackup(
  documents: AsyncIterable<BackupDocument>,
  takenAt: number,
): AsyncGenerator<Uint8Array> {
  yield encodeHeader();
  let count = 0;
  for await (const document of documents) {
    count++;
    yield encodeDocument(document);
  }
  yield encodeEnd({ documents: count, takenAt });
}

/** Collects bytes from a stream of chunks and hands out exact lengths. */
class ChunkReader {
  private buffer = new Uint8Array(0);
  private readonly iterator: AsyncIterator<Uint8Array>;
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Exactly n bytes, or null at a clean end of the stream (no byte of them). */
  async read(n: number): Promise<Uint8Array | null> {
    while (this.buffer.length < n && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else {
        const joined = new Uint8Array(this.buffer.length + next.value.length);
        joined.set(this.buffer);
        joined.set(next.value, this.buffer.length);
        this.buffer = joined;
      }
    }
    if (this.buffer.length === 0 && this.done) return null;
    if (this.buffer.length < n) throw new BackupFormatError("the backup is cut off mid-frame");
    const out = this.buffer.slice(0, n);
    this.buffer = this.buffer.subarray(n);
    return out;
  }
}

/**
 * Reads a backup: yields its documents in order and returns its end frame. Throws
 * BackupFormatError for anything but a whole, intact backup of a known version.
 */
export async function* readBackup(
  source: AsyncIterable<Uint8Array>,
): AsyncGenerator<BackupDocument, BackupEnd> {
  const reader = new ChunkReader(source);
  const header = await reader.read(BACKUP_MAGIC.length + 1).catch(() => null);
  if (!header || !BACKUP_MAGIC.every((byte, i) => header[i] === byte)) {
    throw new BackupFormatError("not a Tandem backup (no TANDEMBK header)");
  }
  const version = header[BACKUP_MAGIC.length];
  if (version !== BACKUP_VERSION) {
    throw new BackupFormatError(
      `backup format version ${version}; this version of Tandem reads version ${BACKUP_VERSION}`,
    );
  }
  const names = new Set<string>();
  for (let index = 0; ; index++) {
    const length = await reader.read(4);
    if (length === null) {
      throw new BackupFormatError(
        "the backup is cut off: it has no end frame (it was not written to the end)",
      );
    }
    const size = new DataView(length.buffer, length.byteOffset).getUint32(0);
    const payload = await reader.read(size + 4);
    if (payload === null || payload.length < size + 4) {
      throw new BackupFormatError("the backup is cut off mid-frame");
    }
    const body = payload.subarray(0, size);
    const crc = new DataView(payload.buffer, payload.byteOffset + size).getUint32(0);
    if (crc32(body) !== crc) {
      throw new BackupFormatError(`frame ${index} of the backup fails its checksum`);
    }
    try {
      const decoder = decoding.createDecoder(body);
      const kind = decoding.readVarUint(decoder);
      if (kind === KIND_END) {
        const end = {
          documents: decoding.readVarUint(decoder),
          takenAt: decoding.readVarUint(decoder),
        };
        if (end.documents !== names.size) {
          throw new BackupFormatError(
            `the backup's end frame counts ${end.documents} documents, the file holds ${names.size}`,
          );
        }
        if ((await reader.read(1)) !== null) {
          throw new BackupFormatError("the backup has data after its end frame");
        }
        return end;
      }
      if (kind !== KIND_DOCUMENT) {
        throw new BackupFormatError(`frame ${index} has an unknown kind ${kind}`);
      }
      const name = decoding.readVarString(decoder);
      const update = decoding.readVarUint8Array(decoder);
      if (names.has(name)) {
        throw new BackupFormatError(`the backup holds ${JSON.stringify(name)} twice`);
      }
      names.add(name);
      yield { name, update };
    } catch (error) {
      if (error instanceof BackupFormatError) throw error;
      throw new BackupFormatError(`frame ${index} does not decode: ${(error as Error).message}`);
    }
  }
}
